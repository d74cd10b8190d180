/* matmul: picks clip.c's AVX-512 kernel (core/gemm_avx512.c) when the CPU has AVX-512 and
 * OpenBLAS's sgemm otherwise. Only one of them ever runs threads: while our kernel is in use
 * OpenBLAS is held at 1 thread, so the two thread pools never fight over this machine's cores. */
#include "core/matmul.h"
#include "core/gemm_avx512.h"
#include "core/gemm_bf16.h"
#include "core/gemm_int8.h"
#include "clip.h"
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int g_threads = 0; /* 0: OpenMP's default */
static int g_force = 0;   /* matmul_force_backend */
static int g_force_bf16 = 0; /* matmul_force_bf16_kernel */
static int g_force_int8 = 0; /* matmul_force_int8_kernel */

static int use_avx512(void) {
    if (g_force == 2) return 0;
    return gemm_avx512_available();
}

static int threads(void) { return g_threads > 0 ? g_threads : omp_get_max_threads(); }

/* OpenBLAS gets our thread count only when it does the work; else 1 (see top comment). */
static void openblas_threads_for(int ours) {
    static int current = -1;
    int want = ours ? 1 : threads();
    if (want != current) { openblas_set_num_threads(want); current = want; }
}

static float act_apply(float x, matmul_act act) {
    if (act == MATMUL_ACT_QUICKGELU) return x / (1.0f + expf(-1.702f * x));
    if (act == MATMUL_ACT_GELU) return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    return x;
}

/* OpenBLAS path: sgemm, then bias and activation in a second pass. */
static void blas_bias_act(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                          const float *B, int ldb, float beta, float *C, int ldc, const float *bias,
                          matmul_act act) {
    openblas_threads_for(0);
    if (K <= 0 || alpha == 0.0f) { /* cblas leaves C alone when K = 0; define it as beta*C */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(long)i * ldc + j] = beta != 0 ? beta * C[(long)i * ldc + j] : 0.0f;
    } else {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
    if (bias || act != MATMUL_ACT_NONE)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float *c = C + (long)i * ldc + j;
                *c = act_apply(*c + (bias ? bias[j] : 0.0f), act);
            }
}

void matmul_bias_act(int transA, int transB, int M, int N, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta,
                     float *C, int ldc, const float *bias, matmul_act act) {
    if (M <= 0 || N <= 0) return;
    if (use_avx512()) {
        openblas_threads_for(1);
        gemm_avx512(transA, transB, M, N, K, alpha, A, lda, B, ldb, NULL, NULL, beta, C, ldc, bias, act, threads());
    } else {
        blas_bias_act(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, act);
    }
}

void matmul(int transA, int transB, int M, int N, int K, float alpha,
            const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    matmul_bias_act(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL, MATMUL_ACT_NONE);
}

int matmul_pack_b(matmul_packed_b *pb, int transB, int K, int N, const float *B, int ldb) {
    memset(pb, 0, sizeof *pb);
    if (K < 0 || N < 0 || (K > 0 && N > 0 && !B)) return CLIP_ERR_INVALID;
    int ours = use_avx512();
    size_t floats = ours ? gemm_avx512_packed_size(K, N) : (size_t)K * N;
    size_t bytes = ((floats ? floats : 1) * sizeof(float) + 63) & ~(size_t)63;
    float *d = aligned_alloc(64, bytes);
    if (!d) return CLIP_ERR_NOMEM;
    if (ours) {
        gemm_avx512_pack_b(transB, K, N, B, ldb, d);
    } else { /* plain op(B), K x N */
        for (int k = 0; k < K; k++)
            for (int n = 0; n < N; n++) d[(long)k * N + n] = transB ? B[(long)n * ldb + k] : B[(long)k * ldb + n];
    }
    pb->K = K;
    pb->N = N;
    pb->layout = ours ? 0 : 1;
    pb->owned = 1;
    pb->data = d;
    pb->bytes = bytes;
    return 0;
}

/* B's own storage (K*N floats) takes over a packed form of `bytes` <= its size from src: the
 * whole pages past it are dead and go back to the OS (madvise DONTNEED). Describes *pb. */
static int adopt_in_place(matmul_packed_b *pb, int layout, int K, int N, float *B, const void *src, size_t bytes) {
    size_t have = (size_t)K * N * sizeof(float);
    if (src != B) memcpy(B, src, bytes);
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)B + bytes + page - 1) & ~(page - 1), hi = ((uintptr_t)B + have) & ~(page - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
    *pb = (matmul_packed_b){.K = K, .N = N, .layout = layout, .owned = 0, .data = B, .bytes = bytes};
    return 0;
}

/* ---------------------------------------------------------------- bf16 */

static int bf16_kernel(void) {
    int amx = gemm_bf16_amx_available(), avx = gemm_bf16_avx512_available();
    if (g_force_bf16 == 3) return GEMM_BF16_SCALAR;
    if (g_force_bf16 == 1 && amx) return GEMM_BF16_AMX;
    if (g_force_bf16 == 2 && avx) return GEMM_BF16_AVX512;
    return amx ? GEMM_BF16_AMX : avx ? GEMM_BF16_AVX512 : GEMM_BF16_NONE;
}

const char *matmul_bf16_kernel(void) {
    switch (bf16_kernel()) {
    case GEMM_BF16_AMX: return "amx-bf16";
    case GEMM_BF16_AVX512: return "avx512-bf16";
    case GEMM_BF16_SCALAR: return "scalar-bf16";
    default: return NULL;
    }
}

void matmul_force_bf16_kernel(int which) { g_force_bf16 = which; }

/* The packers need a real kernel to exist (forcing the plain loops does not count). */
static int bf16_possible(void) { return gemm_bf16_amx_available() || gemm_bf16_avx512_available(); }

int matmul_pack_b_bf16(matmul_packed_b *pb, int transB, int K, int N, const float *B, int ldb) {
    memset(pb, 0, sizeof *pb);
    if (!bf16_possible()) return CLIP_ERR_UNSUPPORTED;
    if (K <= 0 || N <= 0 || !B) return CLIP_ERR_INVALID;
    size_t bytes = gemm_bf16_packed_bytes(K, N);
    uint16_t *d = aligned_alloc(64, bytes);
    if (!d) return CLIP_ERR_NOMEM;
    gemm_bf16_pack_b(transB, K, N, B, ldb, d);
    *pb = (matmul_packed_b){.K = K, .N = N, .layout = 2, .owned = 1, .data = (float *)d, .bytes = bytes};
    return 0;
}

int matmul_pack_b_bf16_inplace(matmul_packed_b *pb, int transB, int K, int N, float *B, float *tmp) {
    memset(pb, 0, sizeof *pb);
    if (!bf16_possible()) return CLIP_ERR_UNSUPPORTED;
    if (K <= 0 || N <= 0 || !B || !tmp) return CLIP_ERR_INVALID;
    size_t bytes = gemm_bf16_packed_bytes(K, N), have = (size_t)K * N * sizeof(float);
    if (bytes > have || ((uintptr_t)B & 63)) return matmul_pack_b_bf16(pb, transB, K, N, B, transB ? K : N);
    gemm_bf16_pack_b(transB, K, N, B, transB ? K : N, (uint16_t *)tmp);
    return adopt_in_place(pb, 2, K, N, B, tmp, bytes);
}

/* ---------------------------------------------------------------- int8 */

static int int8_kernel(void) {
    int amx = gemm_int8_amx_available(), vnni = gemm_int8_vnni_available();
    if (g_force_int8 == 3) return GEMM_INT8_SCALAR;
    if (g_force_int8 == 1 && amx) return GEMM_INT8_AMX;
    if (g_force_int8 == 2 && vnni) return GEMM_INT8_VNNI;
    return amx ? GEMM_INT8_AMX : vnni ? GEMM_INT8_VNNI : GEMM_INT8_NONE;
}

const char *matmul_int8_kernel(void) {
    switch (int8_kernel()) {
    case GEMM_INT8_AMX: return "amx-int8";
    case GEMM_INT8_VNNI: return "avx512-vnni";
    case GEMM_INT8_SCALAR: return "scalar-int8";
    default: return NULL;
    }
}

void matmul_force_int8_kernel(int which) { g_force_int8 = which; }

static int int8_possible(void) { return gemm_int8_amx_available() || gemm_int8_vnni_available(); }

int matmul_pack_b_int8(matmul_packed_b *pb, int transB, int K, int N, const float *B, int ldb) {
    memset(pb, 0, sizeof *pb);
    if (!int8_possible()) return CLIP_ERR_UNSUPPORTED;
    if (K <= 0 || N <= 0 || !B) return CLIP_ERR_INVALID;
    size_t bytes = gemm_int8_packed_bytes(K, N);
    void *d = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!d) return CLIP_ERR_NOMEM;
    gemm_int8_pack_b(transB, K, N, B, ldb, d);
    *pb = (matmul_packed_b){.K = K, .N = N, .layout = 3, .owned = 1, .data = d, .bytes = bytes};
    return 0;
}

int matmul_pack_b_int8_inplace(matmul_packed_b *pb, int transB, int K, int N, float *B, float *tmp) {
    memset(pb, 0, sizeof *pb);
    if (!int8_possible()) return CLIP_ERR_UNSUPPORTED;
    if (K <= 0 || N <= 0 || !B || !tmp) return CLIP_ERR_INVALID;
    size_t bytes = gemm_int8_packed_bytes(K, N), have = (size_t)K * N * sizeof(float);
    if (bytes > have || ((uintptr_t)B & 63)) return matmul_pack_b_int8(pb, transB, K, N, B, transB ? K : N);
    gemm_int8_pack_b(transB, K, N, B, transB ? K : N, tmp);
    return adopt_in_place(pb, 3, K, N, B, tmp, bytes);
}

int matmul_pack_b_inplace(matmul_packed_b *pb, int transB, int K, int N, float *B, float *tmp) {
    memset(pb, 0, sizeof *pb);
    if (!use_avx512() || K <= 0 || N <= 0 || N % GEMM_NR || ((uintptr_t)B & 63) || !tmp) return CLIP_ERR_UNSUPPORTED;
    size_t n = (size_t)K * N;
    memcpy(tmp, B, n * sizeof(float));
    gemm_avx512_pack_b(transB, K, N, tmp, transB ? K : N, B);
    pb->K = K;
    pb->N = N;
    pb->layout = 0;
    pb->data = B;
    pb->bytes = n * sizeof(float);
    return 0;
}

void matmul_set_packed_depth(int kc) { gemm_avx512_set_packed_depth(kc < 16 || kc > 4096 ? 0 : kc); }

/* ---------------------------------------------------------------- fp16-exact fp32 weights */

static int g_no_f16 = 0; /* matmul_force_f16_weights */
void matmul_force_f16_weights(int which) { g_no_f16 = which == 1; }

int matmul_pack_b_inplace_f16(matmul_packed_b *pb, int transB, int K, int N, float *B, float *tmp) {
    memset(pb, 0, sizeof *pb);
    if (g_no_f16 || !use_avx512() || K <= 0 || N <= 0 || !B) return CLIP_ERR_UNSUPPORTED;
    size_t n = (size_t)K * N;
    if (!gemm_avx512_f16_exact(B, n)) return CLIP_ERR_UNSUPPORTED;
    int rc = matmul_pack_b_inplace(pb, transB, K, N, B, tmp); /* fp32 panels, then narrowed */
    if (rc) return rc;
    gemm_avx512_narrow_f16(B, n, (uint16_t *)B); /* in place: each value lands at or below where it was read */
    return adopt_in_place(pb, 4, K, N, B, B, n * sizeof(uint16_t));
}

void matmul_unpack_b_to(const matmul_packed_b *pb, int transB, float *dst, float *tmp) {
    size_t n = (size_t)pb->K * pb->N;
    const float *src = pb->data; /* fp32 panels that do not overlap dst */
    if (pb->layout == 4) { gemm_avx512_widen_f16((const uint16_t *)pb->data, n, tmp); src = tmp; }
    else if (dst == pb->data) { memcpy(tmp, pb->data, n * sizeof(float)); src = tmp; }
    gemm_avx512_unpack_b(transB, pb->K, pb->N, src, dst);
}

void matmul_packed_b_free(matmul_packed_b *pb) {
    if (!pb) return;
    if (pb->owned) free(pb->data);
    memset(pb, 0, sizeof *pb);
}

void matmul_prepacked(int transA, int M, float alpha, const float *A, int lda,
                      const matmul_packed_b *B, float beta, float *C, int ldc,
                      const float *bias, matmul_act act) {
    if (M <= 0 || B->N <= 0) return;
    if (B->layout == 3) {
        openblas_threads_for(1);
        gemm_int8(int8_kernel(), transA, M, B->N, B->K, alpha, A, lda, B->data, beta, C, ldc, bias, act, threads());
    } else if (B->layout == 2) {
        openblas_threads_for(1);
        gemm_bf16(bf16_kernel(), transA, M, B->N, B->K, alpha, A, lda, (const uint16_t *)B->data, beta, C, ldc, bias,
                  act, threads());
    } else if (B->layout == 0 || B->layout == 4) {
        openblas_threads_for(1);
        gemm_avx512(transA, 0, M, B->N, B->K, alpha, A, lda, NULL, 0, B->layout == 0 ? B->data : NULL,
                    B->layout == 4 ? (const uint16_t *)B->data : NULL, beta, C, ldc, bias, act, threads());
    } else {
        blas_bias_act(transA, 0, M, B->N, B->K, alpha, A, lda, B->data, B->N > 0 ? B->N : 1, beta, C, ldc,
                      bias, act);
    }
}

void matmul_set_threads(int n) { g_threads = n > 0 ? n : 0; }
int matmul_get_threads(void) { return threads(); }
void matmul_force_backend(int which) { g_force = which; }

const char *matmul_backend(void) { return use_avx512() ? "clip-avx512" : "openblas"; }
