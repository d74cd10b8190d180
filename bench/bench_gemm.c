/* GFLOP/s of matmul() (clip.c's AVX-512 kernel, plain and with pre-packed B) against OpenBLAS's
 * cblas_sgemm, on the shapes CLIP ViT-B/32 makes (forward x W^T, and the two backward products),
 * plus 2048^3 and a register-only FMA loop that gives this machine's peak in the same run.
 * Each figure is the median of -r repetitions (each >= 20 ms of calls), products side by side.
 * Other helpers may share the machine: figures are noisy, compare columns of one run.
 * Usage: bench_gemm [-t 1,2] [-r 7] [-s substring-of-shape-name] */
#include "core/matmul.h"
#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

char *openblas_get_corename(void);
char *openblas_get_config(void);

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 12 independent FMA chains in zmm registers: enough to cover 2 pipes x 4-cycle latency. */
__attribute__((target("avx512f,fma"), noinline)) static float fma_loop(long iters, float seed) {
    __m512 x = _mm512_set1_ps(0.9999999f), y = _mm512_set1_ps(1e-7f);
    __m512 a0 = _mm512_set1_ps(seed), a1 = _mm512_set1_ps(seed + 1), a2 = _mm512_set1_ps(seed + 2),
           a3 = _mm512_set1_ps(seed + 3), a4 = _mm512_set1_ps(seed + 4), a5 = _mm512_set1_ps(seed + 5),
           a6 = _mm512_set1_ps(seed + 6), a7 = _mm512_set1_ps(seed + 7), a8 = _mm512_set1_ps(seed + 8),
           a9 = _mm512_set1_ps(seed + 9), a10 = _mm512_set1_ps(seed + 10), a11 = _mm512_set1_ps(seed + 11);
    for (long i = 0; i < iters; i++) {
        a0 = _mm512_fmadd_ps(a0, x, y); a1 = _mm512_fmadd_ps(a1, x, y); a2 = _mm512_fmadd_ps(a2, x, y);
        a3 = _mm512_fmadd_ps(a3, x, y); a4 = _mm512_fmadd_ps(a4, x, y); a5 = _mm512_fmadd_ps(a5, x, y);
        a6 = _mm512_fmadd_ps(a6, x, y); a7 = _mm512_fmadd_ps(a7, x, y); a8 = _mm512_fmadd_ps(a8, x, y);
        a9 = _mm512_fmadd_ps(a9, x, y); a10 = _mm512_fmadd_ps(a10, x, y); a11 = _mm512_fmadd_ps(a11, x, y);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    return _mm512_reduce_add_ps(s);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double fma_peak(int threads, int reps) {
    long iters = 20000000; /* 12*32*2e7 = 7.7 GFLOP per thread, ~35 ms */
    double r[32];
    volatile float sink = 0;
    for (int k = 0; k < reps; k++) {
        double t0 = now();
#pragma omp parallel num_threads(threads)
        { float v = fma_loop(iters, (float)omp_get_thread_num()); if (v == 12345.f) sink = v; }
        r[k] = threads * iters * 12.0 * 32.0 / (now() - t0) * 1e-9;
    }
    (void)sink;
    qsort(r, reps, sizeof *r, cmp_d);
    return r[reps / 2];
}

typedef struct {
    const char *name;
    int tA, tB, M, N, K;
    int packable; /* B is a weight: the pre-packed path applies */
} shape;

enum { OURS, PACKED, BLAS };

/* Median GFLOP/s of one method on one shape. */
static double measure(int method, const shape *s, int threads, int reps, const float *A, int lda,
                      const float *B, int ldb, const matmul_packed_b *pb, float *C, int ldc) {
    double flop = 2.0 * s->M * s->N * s->K, r[64];
    int calls = 1;
    for (int k = -1; k < reps; k++) { /* k = -1: warm up and size the repetition */
        double t0 = now();
        for (int c = 0; c < calls; c++) {
            if (method == OURS) matmul(s->tA, s->tB, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
            else if (method == PACKED) matmul_prepacked(s->tA, s->M, 1.0f, A, lda, pb, 0.0f, C, ldc, NULL, MATMUL_ACT_NONE);
            else cblas_sgemm(CblasRowMajor, s->tA ? CblasTrans : CblasNoTrans, s->tB ? CblasTrans : CblasNoTrans,
                             s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
        }
        double dt = now() - t0;
        if (k < 0) { calls = (int)(0.02 / dt) + 1; continue; }
        r[k] = flop * calls / dt * 1e-9;
    }
    qsort(r, reps, sizeof *r, cmp_d);
    return r[reps / 2];
}

int main(int argc, char **argv) {
    int thread_list[4] = {1, 2}, nthr = 2, reps = 7;
    const char *filter = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-t")) {
            nthr = 0;
            for (char *p = strtok(argv[i + 1], ","); p && nthr < 4; p = strtok(NULL, ",")) thread_list[nthr++] = atoi(p);
        } else if (!strcmp(argv[i], "-r")) reps = atoi(argv[i + 1]) > 63 ? 63 : atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-s")) filter = argv[i + 1];
        else { fprintf(stderr, "usage: %s [-t 1,2] [-r reps] [-s name-filter]\n", argv[0]); return 2; }
    }
    if (reps < 1) reps = 1;

    /* ViT-B/32: vision width 768 (50 tokens/image), text width 512 (77 tokens/text); batch 1 and 16. */
    static const struct { const char *n; int N, K; } nk[] = {
        {"qkv768", 2304, 768}, {"out768", 768, 768}, {"fc768", 3072, 768}, {"proj768", 768, 3072},
        {"qkv512", 1536, 512}, {"out512", 512, 512}, {"fc512", 2048, 512}, {"proj512", 512, 2048}};
    static const int ms[] = {50, 800, 77, 1232};
    shape shapes[64];
    static char names[64][48];
    int ns = 0;
    shapes[ns++] = (shape){"square2048", 0, 0, 2048, 2048, 2048, 0};
    for (int m = 0; m < 4; m++)
        for (int j = 0; j < 8; j++) {
            snprintf(names[ns], sizeof names[ns], "fwd %s M=%d", nk[j].n, ms[m]);
            shapes[ns] = (shape){names[ns], 0, 1, ms[m], nk[j].N, nk[j].K, 1};
            ns++;
        }
    for (int j = 0; j < 8; j++) { /* training, batch 16: dW = dY^T X and dX = dY W */
        int M = j < 4 ? 800 : 1232;
        snprintf(names[ns], sizeof names[ns], "dW %s M=%d", nk[j].n, M);
        shapes[ns] = (shape){names[ns], 1, 0, nk[j].N, nk[j].K, M, 0};
        ns++;
        snprintf(names[ns], sizeof names[ns], "dX %s M=%d", nk[j].n, M);
        shapes[ns] = (shape){names[ns], 0, 0, M, nk[j].K, nk[j].N, 1};
        ns++;
    }

    time_t t = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M", localtime(&t));
    const char *env_core = getenv("OPENBLAS_CORETYPE");
    printf("# bench_gemm %s; OpenBLAS core \"%s\" (OPENBLAS_CORETYPE=%s), config \"%s\"\n", date,
           openblas_get_corename(), env_core ? env_core : "(unset)", openblas_get_config());
    printf("# matmul backend: %s; online CPUs: %ld; median of %d repetitions of >= 20 ms each\n",
           matmul_backend(), sysconf(_SC_NPROCESSORS_ONLN), reps);
    double peak[4], ob_peak[4] = {0}; /* ob_peak: OpenBLAS on 2048^3, this run */
    for (int ti = 0; ti < nthr; ti++) {
        peak[ti] = fma_peak(thread_list[ti], reps);
        printf("# FMA peak (12 zmm chains), %d thread(s): %.1f GFLOP/s\n", thread_list[ti], peak[ti]);
    }
    printf("# GFLOP/s; best = max(ours, packed); %%fma = best / FMA peak; %%ob2k = best / OpenBLAS on 2048^3;\n"
           "# maxdiff = max|ours - openblas| / max|openblas|\n");
    printf("%-24s %5s %5s %5s %2s %2s %3s %8s %8s %8s %7s %6s %6s %9s\n", "shape", "M", "N", "K", "tA", "tB",
           "thr", "ours", "packed", "openblas", "best/ob", "%fma", "%ob2k", "maxdiff");

    for (int si = 0; si < ns; si++) {
        const shape *s = &shapes[si];
        if (filter && !strstr(s->name, filter)) continue;
        int lda = s->tA ? s->M : s->K, ldb = s->tB ? s->K : s->N, ldc = s->N;
        size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N, nc = (size_t)s->M * s->N;
        float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
        float *C = malloc(nc * sizeof *C), *C2 = malloc(nc * sizeof *C);
        for (size_t i = 0; i < na; i++) A[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
        for (size_t i = 0; i < nb; i++) B[i] = (float)((i * 40503u + 7) % 1000) * 1e-3f - 0.5f;
        matmul_packed_b pb = {0};
        if (s->packable && matmul_pack_b(&pb, s->tB, s->K, s->N, B, ldb)) { fprintf(stderr, "pack failed\n"); return 1; }
        for (int ti = 0; ti < nthr; ti++) {
            int th = thread_list[ti];
            matmul_set_threads(th);
            double ours = measure(OURS, s, th, reps, A, lda, B, ldb, NULL, C, ldc);
            double packed = s->packable ? measure(PACKED, s, th, reps, A, lda, B, ldb, &pb, C, ldc) : 0;
            openblas_set_num_threads(th); /* matmul() sets it back to 1 on its next call */
            double ob = measure(BLAS, s, th, reps, A, lda, B, ldb, NULL, C2, ldc);
            openblas_set_num_threads(1);
            usleep(200000); /* let OpenBLAS's idle workers stop spinning before our next run */
            double diff = 0, scale = 0;
            for (size_t i = 0; i < nc; i++) {
                double d = fabs((double)C[i] - C2[i]);
                if (d > diff) diff = d;
                if (fabs(C2[i]) > scale) scale = fabs(C2[i]);
            }
            double best = packed > ours ? packed : ours;
            if (si == 0) ob_peak[ti] = ob;
            char pk[16];
            if (s->packable) snprintf(pk, sizeof pk, "%.1f", packed); else snprintf(pk, sizeof pk, "-");
            printf("%-24s %5d %5d %5d %2d %2d %3d %8.1f %8s %8.1f %7.2f %5.0f%% %5.0f%% %9.2g\n", s->name, s->M,
                   s->N, s->K, s->tA, s->tB, th, ours, pk, ob, best / ob, 100 * best / peak[ti],
                   ob_peak[ti] > 0 ? 100 * best / ob_peak[ti] : 0,
                   scale > 0 ? diff / scale : diff);
            fflush(stdout);
        }
        matmul_packed_b_free(&pb);
        free(A); free(B); free(C); free(C2);
    }
    return 0;
}
