/* matmul backed by OpenBLAS's sgemm (AVX-512 kernels on this CPU unless
 * OPENBLAS_CORETYPE forces others; see docs/performance.md). */
#include "core/matmul.h"
#include <cblas.h>

void matmul(int transA, int transB, int M, int N, int K, float alpha,
            const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void matmul_set_threads(int n) {
    if (n > 0) openblas_set_num_threads(n);
}

const char *matmul_backend(void) { return "openblas"; }
