/* The K-block depth of clip.c's GEMM for weights packed at load, A/B'd inside one process:
 * ViT-B/32 with random weights runs each row with the depths taking turns call by call, so the
 * VM's drift over minutes (often 5-10% between runs) falls on every depth alike and differences
 * of 1-2% show. Prints each row's median ms per item at each depth and its ratio to the first.
 * Usage: bench_depth [-t threads] [-r calls] [--f16] [DEPTH ...]   (default: 256 768)
 * --f16 rounds the weights to fp16 values first, so they are held as fp16 panels. */
#include "clip.h"
#include "benchutil.h"
#include "core/gemm_avx512.h"
#include "core/matmul.h"
#include "model/model.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAXD = 8, MAXR = 63, B16 = 16 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
    int threads = 2, reps = 21, f16 = 0, depth[MAXD], nd = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--f16")) f16 = 1;
        else if (nd < MAXD && atoi(argv[i]) >= 16 && atoi(argv[i]) <= 4096) depth[nd++] = atoi(argv[i]);
        else { fprintf(stderr, "usage: bench_depth [-t threads] [-r calls] [--f16] [DEPTH (16..4096) ...]\n"); return 2; }
    }
    if (!nd) { depth[0] = 256; depth[1] = 768; nd = 2; }
    if (reps < 3 || reps > MAXR) reps = 21;
    if (!gemm_avx512_available()) { fprintf(stderr, "bench_depth: the depth is the AVX-512 kernel's; this CPU lacks it\n"); return 1; }
    clip_config cfg;
    clip_error e = {0};
    clip_model *m = clip_config_from_name("ViT-B-32", &cfg, &e) ? NULL : clip_model_init(&cfg, 1, &e);
    if (!m) { fprintf(stderr, "%s\n", e.msg); return 1; }
    if (f16) bench_round_params_to_f16(m); /* as bench_vit --precision f16w */
    if (model_pack(m, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    clip_set_threads(threads);
    const clip_config *c = clip_model_get_config(m);
    int S = c->image_size, ctx = c->context_length;
    float *px = malloc((size_t)B16 * 3 * S * S * sizeof(float)), *out = malloc((size_t)B16 * c->embed_dim * sizeof(float));
    int32_t *tok = calloc((size_t)B16 * ctx, sizeof(int32_t)), *cap = calloc((size_t)ctx, sizeof(int32_t));
    double *t = malloc((size_t)MAXD * MAXR * sizeof(double));
    if (!px || !out || !tok || !cap || !t) { fprintf(stderr, "bench_depth: out of memory\n"); return 1; }
    for (size_t i = 0; i < (size_t)B16 * 3 * S * S; i++) px[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    for (int b = 0; b < B16; b++)
        for (int k = 0; k < ctx; k++) tok[b * ctx + k] = k == 0 ? 49406 : k == ctx - 1 ? 49407 : 320 + (b * 7 + k) % 40000;
    for (int k = 0; k < 12; k++) cap[k] = k == 0 ? 49406 : k == 11 ? 49407 : 320 + k;
    static const struct { const char *what; int batch, kind; } rows[] = {
        {"encode_image", 1, 0}, {"encode_text (77 tokens)", 1, 1}, {"encode_text (12-token caption)", 1, 2},
        {"encode_image", B16, 0}, {"encode_text (77 tokens)", B16, 1}};
    printf("# bench_depth: ViT-B-32, %d thread%s, %s weights, median of %d calls per depth (batch 16: %d), depths taking turns\n",
           threads, threads > 1 ? "s" : "", f16 ? "fp16-valued (fp16 panels)" : "fp32", reps, reps / 3 + 1);
    printf("| what | batch |");
    for (int d = 0; d < nd; d++) printf(" depth %d ms/item |", depth[d]);
    for (int d = 1; d < nd; d++) printf(" %d ÷ %d |", depth[d], depth[0]);
    printf("\n|---|---|");
    for (int d = 0; d < 2 * nd - 1; d++) printf("---|");
    printf("\n");
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        int bs = rows[r].batch, n = bs > 1 ? reps / 3 + 1 : reps; /* batch 16 calls are long */
        for (int d = 0; d < nd; d++) { /* one untimed call per depth: buffers grown, caches warm */
            matmul_set_packed_depth(depth[d]);
            if (rows[r].kind == 0) clip_encode_image(m, px, bs, out, &e);
            else clip_encode_text(m, rows[r].kind == 2 ? cap : tok, bs, out, &e);
        }
        for (int i = 0; i < n * nd; i++) {
            int d = i % nd;
            matmul_set_packed_depth(depth[d]);
            double t0 = now();
            int rc = rows[r].kind == 0 ? clip_encode_image(m, px, bs, out, &e)
                                       : clip_encode_text(m, rows[r].kind == 2 ? cap : tok, bs, out, &e);
            if (rc) { fprintf(stderr, "%s\n", e.msg); return 1; }
            t[d * MAXR + i / nd] = (now() - t0) / bs;
        }
        double med[MAXD];
        for (int d = 0; d < nd; d++) {
            qsort(t + d * MAXR, n, sizeof(double), cmp_d);
            med[d] = t[d * MAXR + n / 2];
        }
        printf("| %s | %d |", rows[r].what, bs);
        for (int d = 0; d < nd; d++) printf(" %.2f |", med[d] * 1e3);
        for (int d = 1; d < nd; d++) printf(" %.3f |", med[d] / med[0]);
        printf("\n");
        fflush(stdout);
    }
    matmul_set_packed_depth(0);
    free(px); free(out); free(tok); free(cap); free(t);
    clip_model_free(m);
    return 0;
}
