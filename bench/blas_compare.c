/* sgemm GFLOP/s of whichever CBLAS this is linked against (bench/blas_compare.sh builds it
 * against OpenBLAS and against BLIS): 2048^3 and the ViT-B/32 batch-16 shapes, x·Wᵀ. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "?";
    int shapes[][3] = {{2048, 2048, 2048}, {800, 2304, 768}, {800, 768, 768}, {800, 3072, 768}, {800, 768, 3072}, {50, 3072, 768}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc((size_t)M * K * 4), *B = malloc((size_t)N * K * 4), *C = malloc((size_t)M * N * 4);
        for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)(i % 13) * 0.01f;
        for (size_t i = 0; i < (size_t)N * K; i++) B[i] = (float)(i % 7) * 0.01f;
        double best = 1e30;
        int reps = M * (double)N * K > 1e9 ? 5 : 20;
        for (int r = 0; r <= reps; r++) {
            double t = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, A, K, B, K, 0, C, N);
            t = now() - t;
            if (r && t < best) best = t;   /* r == 0 warms up */
        }
        printf("%-9s %5d x %5d x %5d  %7.1f GFLOP/s\n", name, M, N, K, 2.0 * M * N * K / best / 1e9);
        free(A); free(B); free(C);
    }
    return 0;
}
