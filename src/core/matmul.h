/* The one matrix-product entry point. Every GEMM in clip.c goes through matmul(), so a
 * faster backend (our own kernels, another BLAS, a GPU) slots in underneath. */
#ifndef CLIP_CORE_MATMUL_H
#define CLIP_CORE_MATMUL_H

/* C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major with leading
 * dimensions lda/ldb/ldc (as cblas_sgemm with CblasRowMajor). transX != 0 means op(X) = X^T. */
void matmul(int transA, int transB, int M, int N, int K, float alpha,
            const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* Threads the backend may use (0 = its default). Called from clip_set_threads(). */
void matmul_set_threads(int n);
/* Name of the backend in use, for `clip info` and the benchmarks. */
const char *matmul_backend(void);
#endif
