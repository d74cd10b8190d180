/* ViT-B/32 encoder speed with random weights (speed does not depend on the values):
 * encode_image at batch 1 and 16, encode_text (77 tokens, and a 12-token caption) at batch 1
 * and 16, on 1 and 2 threads, with the machine's sgemm peak measured in the same run: sampled
 * right before and right after every row (the VM's speed drifts), each row's share against the
 * mean of its two samples.
 * Usage: build/bench/bench_vit [--arch ViT-B-32] [--reps N] [--threads LIST] [--only image|text] [--plain]
 *                              [--precision fp32,f16w,bf16,int8 (any of them)] [--bf16-kernel amx|avx512]
 *                              [--int8-kernel amx|vnni]
 * --plain keeps the weights in their checkpoint layout (as clip_load_opts.plain_weights = 1);
 * by default they are packed for the GEMM kernel, as clip_model_load does.
 * --precision bf16 converts the weights to bf16 (as clip_load_opts.precision = 1); with
 * fp32,bf16 both models are built and each row is timed in both, back to back. --bf16-kernel
 * forces one bf16 kernel (matmul_force_bf16_kernel). --precision int8: the blocks' weights in
 * int8 (as clip_load_opts.precision = 2); --int8-kernel forces one int8 kernel.
 * --precision f16w: fp32 and exact, but every weight rounded to an fp16 value first, as in
 * OpenAI's released checkpoints; clip.c then holds the matrices as fp16 panels (half the bytes,
 * same results). Rows are labelled "fp32/f16w". Plain fp32 random weights are not fp16 values. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clip.h"
#include "benchutil.h"
#include "core/matmul.h"
#include "model/model.h"
#include "core/gemm_avx512.h"

enum { PREC_F16W = 100 }; /* fp32 on fp16-valued weights (bench only) */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

/* median seconds of reps runs of fn */
#define TIME_MEDIAN(reps, out, stmt) do { double _t[64]; stmt; for (int _r = 0; _r < (reps); _r++) { double _s = now(); stmt; _t[_r] = now() - _s; } \
    qsort(_t, (reps), sizeof(double), cmp_d); out = _t[(reps) / 2]; } while (0)

/* 2·M·N·K over every matmul of one image / one text of T tokens (perf-anchors.md's count). */
static double vit_flops(const clip_config *c) {
    double W = c->vision_width, G = c->image_size / c->patch_size, T = G * G + 1, L = c->vision_layers, P = c->patch_size;
    return 2 * (G * G * W * 3 * P * P) + L * 2 * (T * W * 3 * W + T * T * W * 2 + T * W * W + 2 * T * W * 4 * W) + 2 * W * c->embed_dim;
}
static double text_flops(const clip_config *c, int T) {
    double W = c->text_width, L = c->text_layers;
    return L * 2 * (T * W * 3 * W + (double)T * T * W * 2 + T * W * W + 2 * T * W * 4 * W) + 2 * W * c->embed_dim;
}

/* OpenBLAS sgemm N^3 on th threads, GFLOP/s, median of 3 (matmul keeps OpenBLAS at 1 thread). */
static double sgemm_gflops(int th, int N, const float *A, const float *B, float *C) {
    double ts;
    openblas_set_num_threads(th);
    TIME_MEDIAN(3, ts, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1, A, N, B, N, 0, C, N));
    openblas_set_num_threads(1);
    return 2.0 * N * N * N / ts / 1e9;
}

int main(int argc, char **argv) {
    const char *arch = "ViT-B-32";
    int reps = 5, threads[4] = {1, 2}, nthreads = 2, plain = 0, prec[3] = {0, 0, 0}, nprec = 1;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--arch") && i + 1 < argc) arch = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--plain")) plain = 1;
        else if (!strcmp(argv[i], "--bf16-kernel") && i + 1 < argc) {
            i++;
            matmul_force_bf16_kernel(!strcmp(argv[i], "amx") ? 1 : !strcmp(argv[i], "avx512") ? 2 : 0);
        }
        else if (!strcmp(argv[i], "--int8-kernel") && i + 1 < argc) {
            i++;
            matmul_force_int8_kernel(!strcmp(argv[i], "amx") ? 1 : !strcmp(argv[i], "vnni") ? 2 : 0);
        }
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            nprec = 0;
            for (char *s = strtok(argv[++i], ","); s && nprec < 3; s = strtok(NULL, ",")) {
                int p = !strcmp(s, "f16w") ? PREC_F16W : clip_precision_from_name(s);
                if (p < 0) { fprintf(stderr, "--precision: '%s' is not fp32, f16w, bf16 or int8\n", s); return 2; }
                prec[nprec++] = p;
            }
            if (!nprec) { fprintf(stderr, "--precision: empty list\n"); return 2; }
        }
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            nthreads = 0;
            for (char *s = strtok(argv[++i], ","); s && nthreads < 4; s = strtok(NULL, ",")) threads[nthreads++] = atoi(s);
        }
    }
    if (reps < 1 || reps > 63) reps = 5;
    clip_config cfg;
    clip_error e = {0};
    if (clip_config_from_name(arch, &cfg, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    clip_model *models[3] = {NULL, NULL, NULL};
    for (int pi = 0; pi < nprec; pi++) {
        double t0 = now();
        clip_model *mm = models[pi] = clip_model_init(&cfg, 1, &e);
        if (!mm) { fprintf(stderr, "%s\n", e.msg); return 1; }
        fprintf(stderr, "init %s: %.2f s, %zu params\n", arch, now() - t0, clip_model_num_params(mm));
        t0 = now();
        if (prec[pi] == PREC_F16W) { /* every parameter an fp16 value, as an fp16 checkpoint loads */
            if (!gemm_avx512_available()) { fprintf(stderr, "f16w needs AVX-512 (F16C)\n"); return 1; }
            bench_round_params_to_f16(mm);
            if (model_pack(mm, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
            fprintf(stderr, "rounded the weights to fp16 values and packed them in %.1f ms\n", (now() - t0) * 1e3);
        } else if (prec[pi] == CLIP_PRECISION_BF16) {
            if (model_pack_bf16(mm, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
            fprintf(stderr, "converted the weights to bf16 (%s) in %.1f ms\n", matmul_bf16_kernel(), (now() - t0) * 1e3);
        } else if (prec[pi] == CLIP_PRECISION_INT8) {
            if (model_pack_int8(mm, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
            fprintf(stderr, "converted the weights to int8 (%s) in %.1f ms\n", matmul_int8_kernel(), (now() - t0) * 1e3);
        } else if (!plain) {
            if (model_pack(mm, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
            fprintf(stderr, "packed the weights in %.1f ms\n", (now() - t0) * 1e3);
        }
    }
    clip_model *m = models[0];
    char la[128] = "?";
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) { if (!fgets(la, sizeof la, lf)) la[0] = 0; fclose(lf); la[strcspn(la, "\n")] = 0; }
    const clip_config *c = clip_model_get_config(m);
    int S = c->image_size, ctx = c->context_length, D = c->embed_dim;
    size_t npx = (size_t)16 * 3 * S * S;
    float *px = malloc(npx * sizeof(float)), *out = malloc((size_t)64 * D * sizeof(float));
    for (size_t i = 0; i < npx; i++) px[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    int32_t *tok77 = calloc((size_t)64 * ctx, sizeof(int32_t)), *tok12 = calloc((size_t)64 * ctx, sizeof(int32_t));
    for (int b = 0; b < 64; b++) {
        for (int t = 0; t < ctx; t++) tok77[b * ctx + t] = t == 0 ? 49406 : t == ctx - 1 ? 49407 : 320 + (b * 7 + t) % 40000;
        for (int t = 0; t < 12; t++) tok12[b * ctx + t] = t == 0 ? 49406 : t == 11 ? 49407 : 320 + (b * 7 + t) % 40000;
    }
    double fi = vit_flops(c), ft77 = text_flops(c, ctx), ft12 = text_flops(c, 12);
    const char *bk = matmul_bf16_kernel(), *ik = matmul_int8_kernel();
    printf("# %s, matmul backend %s%s, bf16 kernel %s, int8 kernel %s, OpenBLAS core %s; FLOPs: image %.3f G, text77 %.3f G, text12 %.3f G; "
           "loadavg %s\n", arch, matmul_backend(), plain ? " (plain weights)" : " (packed weights)", bk ? bk : "none", ik ? ik : "none",
           openblas_get_corename(), fi / 1e9, ft77 / 1e9, ft12 / 1e9, la);
    printf("| threads | sgemm 2048^3 GFLOP/s | what | batch | precision | ms/item | GFLOP/s | %% of sgemm | vs first |\n"
           "|---|---|---|---|---|---|---|---|---|\n");
    int N = 2048;
    float *A = malloc((size_t)N * N * 4), *B = malloc((size_t)N * N * 4), *C = malloc((size_t)N * N * 4);
    for (size_t i = 0; i < (size_t)N * N; i++) { A[i] = (float)(i % 13) * 0.1f; B[i] = (float)(i % 7) * 0.1f; }
    for (int ti = 0; ti < nthreads; ti++) {
        int th = threads[ti];
        clip_set_threads(th);
        double before = sgemm_gflops(th, N, A, B, C), lo = before, hi = before;
        struct { const char *what; int batch; int text; int32_t *tok; double flops; } rows[] = {
            {"encode_image", 1, 0, NULL, fi}, {"encode_image", 16, 0, NULL, fi},
            {"encode_text (77 tokens)", 1, 1, tok77, ft77}, {"encode_text (77 tokens)", 16, 1, tok77, ft77},
            {"encode_text (77 tokens)", 64, 1, tok77, ft77},
            {"encode_text (12-token caption)", 1, 1, tok12, ft12}, {"encode_text (12-token caption)", 16, 1, tok12, ft12},
        };
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
            if (only && (!strcmp(only, "image") ? rows[r].text : !rows[r].text)) continue;
            double per[3];
            for (int pi = 0; pi < nprec; pi++) {
                double t;
                int bsz = rows[r].batch;
                clip_model *mm = models[pi];
                if (rows[r].text) TIME_MEDIAN(reps, t, clip_encode_text(mm, rows[r].tok, bsz, out, &e));
                else TIME_MEDIAN(reps, t, clip_encode_image(mm, px, bsz, out, &e));
                per[pi] = t / bsz;
            }
            /* the VM's speed drifts over minutes: the peak is sampled right before and after each row */
            double after = sgemm_gflops(th, N, A, B, C), peak = (before + after) / 2;
            lo = after < lo ? after : lo;
            hi = after > hi ? after : hi;
            before = after;
            for (int pi = 0; pi < nprec; pi++) {
                double gf = rows[r].flops / per[pi] / 1e9;
                printf("| %d | %.0f | %s | %d | %s | %.1f | %.0f | %.0f%% | %.2fx |\n", th, peak, rows[r].what, rows[r].batch,
                       prec[pi] == PREC_F16W ? "fp32/f16w" : prec[pi] == CLIP_PRECISION_INT8 ? "int8" : prec[pi] ? "bf16" : "fp32",
                       per[pi] * 1e3, gf, 100 * gf / peak, per[0] / per[pi]);
            }
            fflush(stdout);
        }
        printf("# sgemm 2048^3 at %d thread%s, sampled around every row: %.0f to %.0f GFLOP/s\n", th, th > 1 ? "s" : "", lo, hi);
    }
    free(A); free(B); free(C); free(px); free(out); free(tok77); free(tok12);
    for (int pi = 0; pi < nprec; pi++) clip_model_free(models[pi]);
    return 0;
}
