/* Why batch 1 is slower per item than batch 16: the cost of streaming the weights.
 * Runs the 48 Linear products of ViT-B/32's 12 blocks (768 -> 2304, 768 -> 768, 768 -> 3072,
 * 3072 -> 768) at M rows, with prepacked weights as inference uses them, twice: once with 12
 * distinct weight sets (350 MB: read from memory on every pass, as a real model is) and once
 * with one set reused by every block (29 MB: mostly cached). The difference is what the weight
 * stream costs beyond the arithmetic. Also measures plain read bandwidth (an AVX-512 sum over
 * 350 MB), the bound for a batch-1 pass. Best of 15 passes each.
 * --f16: the weights are fp16 values (as OpenAI's checkpoints are), stored as fp16 panels (exact).
 * Usage: bench_stream [-m 50] [-t 1,2] [--f16] */
#include "core/matmul.h"
#include "clip.h"
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { L = 12, NMAT = 4, PASSES = 15 };
static const int KN[NMAT][2] = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}};

__attribute__((target("avx512f"))) static double read_gbs(const float *a, size_t n, int th) {
    double best = 1e9;
    float sink = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = omp_get_wtime();
#pragma omp parallel num_threads(th) reduction(+ : sink)
        {
            int t = omp_get_thread_num();
            size_t lo = n * t / th / 64 * 64, hi = n * (t + 1) / th / 64 * 64;
            __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
            for (size_t i = lo; i < hi; i += 64) {
                s0 = _mm512_add_ps(s0, _mm512_load_ps(a + i));
                s1 = _mm512_add_ps(s1, _mm512_load_ps(a + i + 16));
                s2 = _mm512_add_ps(s2, _mm512_load_ps(a + i + 32));
                s3 = _mm512_add_ps(s3, _mm512_load_ps(a + i + 48));
            }
            sink += _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
        }
        double dt = omp_get_wtime() - t0;
        if (dt < best) best = dt;
    }
    if (sink == 12345.678f) printf(" ");   /* keeps the sum alive */
    return (double)n * 4 / best / 1e9;
}

static double pass_ms(matmul_packed_b pk[L][NMAT], int distinct, int M, const float *A, float *C) {
    double best = 1e9;
    for (int r = 0; r < PASSES; r++) {
        double t0 = omp_get_wtime();
        for (int l = 0; l < L; l++)
            for (int j = 0; j < NMAT; j++)
                matmul_prepacked(0, M, 1.0f, A, KN[j][0], &pk[distinct ? l : 0][j], 0.0f, C, KN[j][1], NULL, MATMUL_ACT_NONE);
        double t = omp_get_wtime() - t0;
        if (t < best) best = t;
    }
    return best * 1e3;
}

int main(int argc, char **argv) {
    int M = 50, threads[4] = {1, 2}, nth = 2, f16 = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc) M = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--f16")) f16 = 1;
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
            nth = 0;
            for (char *s = strtok(argv[++i], ","); s && nth < 4; s = strtok(NULL, ",")) threads[nth++] = atoi(s);
        } else { fprintf(stderr, "usage: bench_stream [-m rows] [-t 1,2] [--f16]\n"); return 2; }
    }
    if (M < 1 || M > 4096 || nth < 1) { fprintf(stderr, "bench_stream: bad -m or -t\n"); return 2; }
    static matmul_packed_b pk[L][NMAT];
    size_t bytes = 0;
    for (int l = 0; l < L; l++)
        for (int j = 0; j < NMAT; j++) {
            int K = KN[j][0], N = KN[j][1];
            float *w = aligned_alloc(64, (size_t)K * N * sizeof(float));
            if (!w) { fprintf(stderr, "bench_stream: out of memory\n"); return 1; }
            /* k/1024 - 0.5 is an fp16 value; the fp32 set is not */
            for (size_t i = 0; i < (size_t)K * N; i++)
                w[i] = (float)((i * 2654435761u + l) % 1000) / (f16 ? 1024.0f : 1000.0f) - 0.5f;
            if (f16) {
                float *tmp = malloc((size_t)K * N * sizeof(float));
                if (!tmp || matmul_pack_b_inplace_f16(&pk[l][j], 1, K, N, w, tmp)) {
                    fprintf(stderr, "bench_stream: fp16 packing failed\n"); return 1; }
                free(tmp);  /* w now holds pk's panels (not owned: freed at the end) */
            } else {
                if (matmul_pack_b(&pk[l][j], 1, K, N, w, K)) { fprintf(stderr, "bench_stream: packing failed\n"); return 1; }
                free(w);
            }
            bytes += pk[l][j].bytes;
        }
    float *A = malloc((size_t)M * 3072 * sizeof(float)), *C = malloc((size_t)M * 3072 * sizeof(float));
    size_t nbw = bytes / sizeof(float) / 64 * 64;
    float *big = aligned_alloc(64, nbw * sizeof(float));
    if (!A || !C || !big) { fprintf(stderr, "bench_stream: out of memory\n"); return 1; }
    for (size_t i = 0; i < (size_t)M * 3072; i++) A[i] = 0.01f * (float)(i % 100);
    memset(big, 0, nbw * sizeof(float));
    double flops = 0;
    for (int j = 0; j < NMAT; j++) flops += 2.0 * M * KN[j][0] * KN[j][1] * L;
    printf("# ViT-B/32's 48 block products at M=%d: %.2f GFLOP, weights %.0f MB %s (matmul backend %s)\n", M, flops / 1e9,
           bytes / 1e6, f16 ? "fp16 panels" : "fp32 panels", matmul_backend());
    printf("| threads | read GB/s | weights cached: ms (GFLOP/s) | weights streamed: ms (GFLOP/s) | stream cost ms | "
           "stream alone ms |\n|---|---|---|---|---|---|\n");
    for (int ti = 0; ti < nth; ti++) {
        clip_set_threads(threads[ti]);
        double gbs = read_gbs(big, nbw, threads[ti]);
        double shared = pass_ms(pk, 0, M, A, C), distinct = pass_ms(pk, 1, M, A, C);
        printf("| %d | %.1f | %.1f (%.0f) | %.1f (%.0f) | %.1f | %.1f |\n", threads[ti], gbs, shared, flops / shared / 1e6,
               distinct, flops / distinct / 1e6, distinct - shared, bytes / gbs / 1e6);
    }
    for (int l = 0; l < L; l++)
        for (int j = 0; j < NMAT; j++) { if (f16) free(pk[l][j].data); else matmul_packed_b_free(&pk[l][j]); }
    free(A); free(C); free(big);
    return 0;
}
