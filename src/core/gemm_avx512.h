/* clip.c's own AVX-512 fp32 GEMM: BLIS-style packed panels and a 14x32 register-blocked
 * micro-kernel. Used by core/matmul.c; nothing else should call it directly. */
#ifndef CLIP_CORE_GEMM_AVX512_H
#define CLIP_CORE_GEMM_AVX512_H
#include <stddef.h>
#include <stdint.h>

#define GEMM_MR 14 /* rows of C per micro-tile */
#define GEMM_NR 32 /* columns of C per micro-tile = width of a packed B panel (2 zmm) */

/* 1 if this CPU (and OS) runs AVX-512F code; checked once. */
int gemm_avx512_available(void);
/* 1 if Linux granted this process the AMX tile state (asked once; refused where the OS or the
 * hypervisor does not enable it). The bf16 and int8 kernels check their CPUID bits besides. */
int gemm_amx_tiles_permitted(void);

/* The epilogue's activation on one value (a matmul_act), for the scalar paths of every kernel. */
float gemm_act_scalar(float x, int act);

/* Runs rect(ctx, m0, m1, n0, n1) over C[M,N] on nt threads, each thread owning one rectangle:
 * rows split for tall products (row_gran rows per unit), columns for short ones (col_gran per
 * unit), so the threads share nothing inside a product. The shared driver of every kernel. */
void gemm_run_tiled(int M, int N, int row_gran, int col_gran, int nt,
                    void (*rect)(void *ctx, int m0, int m1, int n0, int n1), void *ctx);

/* Floats a packed op(B)[K,N] takes: ceil(N/NR) panels of K x NR, zero padded. */
size_t gemm_avx512_packed_size(int K, int N);
/* Packs op(B) (K x N; transB: B is stored N x K) into dst (64-byte aligned, packed_size floats). */
void gemm_avx512_pack_b(int transB, int K, int N, const float *B, int ldb, float *dst);

/* Inverse of gemm_avx512_pack_b: packed panels src -> B (transB: stored N x K, ldb = K; else
 * K x N, ldb = N). */
void gemm_avx512_unpack_b(int transB, int K, int N, const float *src, float *B);

/* fp16-exact weights (core/matmul.h, layout 4): 1 if each of x[0..n) converts to fp16 and back
 * unchanged (bitwise); narrow/widen convert n values (exactly, for such values). narrow may
 * work in place (dst == (uint16_t *)src). */
int gemm_avx512_f16_exact(const float *x, size_t n);
void gemm_avx512_narrow_f16(const float *src, size_t n, uint16_t *dst);
void gemm_avx512_widen_f16(const uint16_t *src, size_t n, float *dst);

/* C[M,N] = act(alpha * op(A) op(B) + beta * C + bias), row-major. Bp (may be NULL) is op(B)
 * already packed by gemm_avx512_pack_b; Bh (may be NULL) the same panels narrowed to fp16
 * (exact values only); with either, B/ldb/transB are ignored. bias: N floats or NULL.
 * act: a matmul_act. nthreads: OpenMP threads to use (>= 1). */
void gemm_avx512(int transA, int transB, int M, int N, int K, float alpha,
                 const float *A, int lda, const float *B, int ldb, const float *Bp, const uint16_t *Bh,
                 float beta, float *C, int ldc, const float *bias, int act, int nthreads);
/* C[i,j] = act(alpha * V[i,j] + beta * C[i,j] + bias[j]) over a rows x cols block (V: ldv);
 * beta == 0 leaves C unread. The fused epilogue, for kernels that produce V another way. */
void gemm_avx512_epilogue(float *C, long ldc, const float *V, int ldv, int rows, int cols, float alpha,
                          float beta, const float *bias, int act);
/* Depth of the K blocks for weights packed at load (0 = KC_PACKED); see matmul_set_packed_depth. */
void gemm_avx512_set_packed_depth(int kc);
#endif
