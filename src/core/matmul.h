/* The one matrix-product entry point. Every GEMM in clip.c goes through matmul(), so a
 * faster backend (our own kernels, another BLAS, a GPU) slots in underneath.
 * Backends: clip.c's AVX-512 kernel (core/gemm_avx512.c) where the CPU has AVX-512, else
 * OpenBLAS's sgemm. See docs/performance.md ("GEMM") for the measurements behind the choice. */
#ifndef CLIP_CORE_MATMUL_H
#define CLIP_CORE_MATMUL_H
#include <stddef.h>

/* C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major with leading
 * dimensions lda/ldb/ldc (as cblas_sgemm with CblasRowMajor). transX != 0 means op(X) = X^T.
 * beta == 0 means C is not read (it may hold NaN). */
void matmul(int transA, int transB, int M, int N, int K, float alpha,
            const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* Element-wise function applied by the fused epilogue. */
typedef enum {
    MATMUL_ACT_NONE = 0,
    MATMUL_ACT_QUICKGELU = 1, /* x * sigmoid(1.702 x), OpenAI CLIP */
    MATMUL_ACT_GELU = 2       /* 0.5 x (1 + erf(x / sqrt 2)), open_clip / HF models */
} matmul_act;

/* C = act(alpha * op(A) op(B) + beta * C + bias), bias[N] added to every row (NULL: none).
 * The bias and activation are applied to each tile of C while it is still in registers. */
void matmul_bias_act(int transA, int transB, int M, int N, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta,
                     float *C, int ldc, const float *bias, matmul_act act);

/* A constant op(B) (a weight matrix) packed once for the kernel, e.g. at model load.
 * Memory: K * ceil(N/32) * 32 floats, i.e. the size of B itself when N is a multiple of 32
 * (every CLIP width). The original B is not needed afterwards: free it to keep the peak flat. */
typedef struct matmul_packed_b {
    int K, N;
    int layout;  /* internal: 0 = AVX-512 panels, 1 = plain op(B) row-major for OpenBLAS,
                    2 = bf16 panels (matmul_pack_b_bf16; data then holds uint16_t),
                    3 = int8 panels + column scales (matmul_pack_b_int8),
                    4 = layout 0's panels narrowed to fp16, for fp16-exact weights
                    (matmul_pack_b_inplace_f16; data then holds uint16_t) */
    int owned;   /* 1: data was allocated by the packer (matmul_packed_b_free frees it) */
    float *data; /* 64-byte aligned */
    size_t bytes;
} matmul_packed_b;

/* Packs op(B)[K,N] (transB: B is stored N x K, like a PyTorch Linear weight) into *pb.
 * Returns 0, or CLIP_ERR_NOMEM / CLIP_ERR_INVALID (then *pb is zeroed). */
int matmul_pack_b(matmul_packed_b *pb, int transB, int K, int N, const float *B, int ldb);
void matmul_packed_b_free(matmul_packed_b *pb); /* frees data only if owned */

/* In-place packing, for a loader that keeps a single copy of its weights: B (contiguous,
 * ldb = transB ? K : N) is overwritten by its packed form, which describes *pb (pb->data == B,
 * not owned: never pass it to matmul_packed_b_free). Possible only with the AVX-512 kernel,
 * N a multiple of 32 (packed size == K*N) and B 64-byte aligned; otherwise returns
 * CLIP_ERR_UNSUPPORTED and leaves B alone (the caller keeps using matmul on it).
 * tmp: K*N floats of scratch. */
int matmul_pack_b_inplace(matmul_packed_b *pb, int transB, int K, int N, float *B, float *tmp);
/* The same, storing the panels in fp16 when every value of B is exactly an fp16 number (OpenAI's
 * released checkpoints are fp16): products are widened on load and bitwise equal to layout 0's,
 * with half the bytes to stream (batch-1 inference reads every weight once per call). The pages
 * of B's unused second half are returned to the OS. CLIP_ERR_UNSUPPORTED, B untouched: some
 * value is not fp16-exact, or matmul_pack_b_inplace's conditions fail, or f16 is switched off. */
int matmul_pack_b_inplace_f16(matmul_packed_b *pb, int transB, int K, int N, float *B, float *tmp);
/* For tests and benchmarks: 0 (default) fp16 storage where exact, 1 never (fp32 panels always). */
void matmul_force_f16_weights(int which);
/* Undoes matmul_pack_b_inplace or _f16 (same transB): op(B)'s original layout (K*N floats) is
 * written to dst, which may be pb->data (in place) or lie elsewhere (panels mapped from a file).
 * pb is left as it was; tmp: K*N floats of scratch. */
void matmul_unpack_b_to(const matmul_packed_b *pb, int transB, float *dst, float *tmp);

/* C[M,N] = act(alpha * op(A)[M,K] * B + beta * C + bias) with B from matmul_pack_b.
 * bias may be NULL and act MATMUL_ACT_NONE for a plain product. */
void matmul_prepacked(int transA, int M, float alpha, const float *A, int lda,
                      const matmul_packed_b *B, float beta, float *C, int ldc,
                      const float *bias, matmul_act act);

/* ---- bf16 weights (clip_load_opts.precision = CLIP_PRECISION_BF16; docs/performance.md "bf16").
 * op(B) is stored in bf16 (round to nearest even); op(A) is converted to bf16 on the fly;
 * products accumulate in fp32 and the epilogue (alpha, beta, bias, act) is fp32. Kernels: AMX
 * tiles where the CPU and OS allow them, else AVX512_BF16; neither: not available (the packers
 * return CLIP_ERR_UNSUPPORTED). matmul_prepacked takes these like any packed B. */

/* "amx-bf16", "avx512-bf16", or NULL when this CPU has neither (bf16 packing is refused). */
const char *matmul_bf16_kernel(void);
/* For tests and benchmarks: 0 automatic (AMX, then AVX512_BF16), 1 AMX, 2 AVX512_BF16, 3 plain
 * loops (same rounding, no vector code). A forced kernel the CPU lacks means automatic. */
void matmul_force_bf16_kernel(int which);
/* Packs op(B)[K,N] into a new bf16 buffer (owned). CLIP_ERR_UNSUPPORTED without a bf16 kernel. */
int matmul_pack_b_bf16(matmul_packed_b *pb, int transB, int K, int N, const float *B, int ldb);
/* The same into B's own storage (contiguous, 64-byte aligned; tmp: K*N floats of scratch),
 * which then holds bf16: the pages of the unused second half are returned to the OS
 * (madvise DONTNEED), so the fp32 values are gone. Where the packed form does not fit (tiny K
 * or N padded up), a separate buffer is allocated (pb->owned). Irreversible: there is no
 * unpack. Returns 0, CLIP_ERR_UNSUPPORTED (no bf16 kernel; B untouched) or CLIP_ERR_NOMEM. */
int matmul_pack_b_bf16_inplace(matmul_packed_b *pb, int transB, int K, int N, float *B, float *tmp);

/* ---- int8 weights (clip_load_opts.precision = CLIP_PRECISION_INT8; docs/performance.md "int8").
 * op(B) is quantized to int8 per output column (symmetric, scale = max|column| / 127); op(A) is
 * quantized on the fly per row (scale = max|row| / 127); the products are summed exactly in
 * int32 and the epilogue is fp32: C = act(alpha * sa[row] * sb[col] * sum + beta * C + bias).
 * Kernels: AMX-INT8 tiles where the CPU and OS allow them, else AVX512_VNNI; neither: not
 * available (the packers return CLIP_ERR_UNSUPPORTED). matmul_prepacked takes these too. */

/* "amx-int8", "avx512-vnni", or NULL when this CPU has neither (int8 packing is refused). */
const char *matmul_int8_kernel(void);
/* For tests and benchmarks: 0 automatic (AMX, then VNNI), 1 AMX, 2 AVX512_VNNI, 3 plain loops
 * (same quantization, exact sums, no vector code). A forced kernel the CPU lacks means automatic. */
void matmul_force_int8_kernel(int which);
/* Packs op(B)[K,N] into a new int8 buffer (owned). CLIP_ERR_UNSUPPORTED without an int8 kernel. */
int matmul_pack_b_int8(matmul_packed_b *pb, int transB, int K, int N, const float *B, int ldb);
/* The same into B's own storage (contiguous, 64-byte aligned; tmp: K*N floats of scratch),
 * which then holds about a quarter of its bytes: the pages beyond are returned to the OS
 * (madvise DONTNEED). Where the packed form does not fit (tiny K or N), a separate buffer is
 * allocated (pb->owned). Irreversible. Returns 0, CLIP_ERR_UNSUPPORTED (no int8 kernel; B
 * untouched) or CLIP_ERR_NOMEM. */
int matmul_pack_b_int8_inplace(matmul_packed_b *pb, int transB, int K, int N, float *B, float *tmp);

/* Threads the backend may use (0 = default: OpenMP's, i.e. OMP_NUM_THREADS or the cores).
 * Called from clip_set_threads(). */
void matmul_set_threads(int n);
int matmul_get_threads(void);
/* Name of the backend in use, for `clip info` and the benchmarks. */
const char *matmul_backend(void);

/* For benchmarks and tests: force a backend (0 = automatic choice, 1 = clip.c's AVX-512
 * kernel where available, 2 = OpenBLAS). */
void matmul_force_backend(int which);
/* For benchmarks and tests: the depth of the AVX-512 kernel's K blocks for weights packed at
 * load (0 = default, 768; else 16..4096). Results change only by float rounding (the sums over
 * K are split differently). Set it between products, never while one runs. */
void matmul_set_packed_depth(int kc);
#endif
