/* matmul: picks clip.c's AVX-512 kernel (core/gemm_avx512.c) when the CPU has AVX-512 and
 * OpenBLAS's sgemm otherwise. Only one of them ever runs threads: while our kernel is in use
 * OpenBLAS is held at 1 thread, so the two thread pools never fight over this machine's cores. */
#include "core/matmul.h"
#include "core/gemm_avx512.h"
#include "clip.h"
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static int g_threads = 0; /* 0: OpenMP's default */
static int g_force = 0;   /* matmul_force_backend */

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
        gemm_avx512(transA, transB, M, N, K, alpha, A, lda, B, ldb, NULL, beta, C, ldc, bias, act, threads());
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
    pb->data = d;
    pb->bytes = bytes;
    return 0;
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

void matmul_unpack_b_inplace(matmul_packed_b *pb, int transB, float *tmp) {
    if (!pb->data) return;
    size_t n = (size_t)pb->K * pb->N;
    memcpy(tmp, pb->data, n * sizeof(float));
    gemm_avx512_unpack_b(transB, pb->K, pb->N, tmp, pb->data);
    memset(pb, 0, sizeof *pb);
}

void matmul_packed_b_free(matmul_packed_b *pb) {
    if (!pb) return;
    free(pb->data);
    memset(pb, 0, sizeof *pb);
}

void matmul_prepacked(int transA, int M, float alpha, const float *A, int lda,
                      const matmul_packed_b *B, float beta, float *C, int ldc,
                      const float *bias, matmul_act act) {
    if (M <= 0 || B->N <= 0) return;
    if (B->layout == 0) {
        openblas_threads_for(1);
        gemm_avx512(transA, 0, M, B->N, B->K, alpha, A, lda, NULL, 0, B->data, beta, C, ldc, bias, act, threads());
    } else {
        blas_bias_act(transA, 0, M, B->N, B->K, alpha, A, lda, B->data, B->N > 0 ? B->N : 1, beta, C, ldc,
                      bias, act);
    }
}

void matmul_set_threads(int n) { g_threads = n > 0 ? n : 0; }
int matmul_get_threads(void) { return threads(); }
void matmul_force_backend(int which) { g_force = which; }

const char *matmul_backend(void) { return use_avx512() ? "clip-avx512" : "openblas"; }
