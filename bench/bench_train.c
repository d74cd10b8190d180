/* Training throughput of the small CPU config (ViT-S-64: image 64, patch 8, width 256 × 6
 * layers; text width 256 × 6 layers; context 77) at batch 64: samples/s of whole optimizer
 * steps (forward, loss, backward, AdamW) on synthetic data, and the share of the sgemm peak
 * measured in the same run. Captions are 5–20 tokens (--full-context: one row runs to 77).
 * Usage: build/bench/bench_train [--arch ViT-S-64] [--batch 64] [--steps 3] [--threads 2] [--full-context] */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "train/train.h"
#include "core/matmul.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* 2·M·N·K of every matmul in one forward pass (perf-anchors.md's count) */
static double vit_flops(const clip_config *c) {
    double W = c->vision_width, G = c->image_size / c->patch_size, T = G * G + 1, L = c->vision_layers, P = c->patch_size;
    return 2 * (G * G * W * 3 * P * P) + L * 2 * (T * W * 3 * W + T * T * W * 2 + T * W * W + 2 * T * W * 4 * W) + 2 * W * c->embed_dim;
}
static double text_flops(const clip_config *c, int T) {
    double W = c->text_width, L = c->text_layers;
    return L * 2 * (T * W * 3 * W + (double)T * T * W * 2 + T * W * W + 2 * T * W * 4 * W) + 2 * W * c->embed_dim;
}

static double sgemm_peak(int threads) {
    (void)threads;
    int n = 2048;
    float *a = malloc((size_t)n * n * 4), *b = malloc((size_t)n * n * 4), *c = malloc((size_t)n * n * 4);
    for (size_t i = 0; i < (size_t)n * n; i++) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.1f; }
    double best = 0;
    for (int r = 0; r < 4; r++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        t = now() - t;
        if (r && 2.0 * n * n * n / t > best) best = 2.0 * n * n * n / t;
    }
    free(a); free(b); free(c);
    return best;
}

int main(int argc, char **argv) {
    const char *arch = "ViT-S-64";
    int B = 64, steps = 3, threads = 2, full = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--arch") && i + 1 < argc) arch = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--full-context")) full = 1;
    }
    clip_set_threads(threads);
    clip_config cfg;
    clip_error e = {0};
    if (clip_config_from_name(arch, &cfg, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    clip_model *m = clip_model_init(&cfg, 1, &e);
    if (!m) { fprintf(stderr, "%s\n", e.msg); return 1; }
    const clip_config *c = clip_model_get_config(m);
    int S = c->image_size, ctx = c->context_length;
    float *px = malloc((size_t)B * 3 * S * S * sizeof(float));
    int32_t *tok = calloc((size_t)B * ctx, sizeof(int32_t));
    clip_rng r;
    rng_seed(&r, 3);
    for (size_t i = 0; i < (size_t)B * 3 * S * S; i++) px[i] = (float)rng_normal(&r);
    int T = 0;
    for (int b = 0; b < B; b++) {
        int len = full && b == 0 ? ctx - 1 : 5 + (int)rng_below(&r, 16);
        tok[(size_t)b * ctx] = 49406;
        for (int k = 1; k < len; k++) tok[(size_t)b * ctx + k] = 1 + (int)rng_below(&r, 40000);
        tok[(size_t)b * ctx + len] = 49407;
        if (len + 1 > T) T = len + 1;
    }
    clip_train_opts o;
    clip_train_opts_defaults(&o);
    o.batch_size = B;
    o.steps = 1000;
    trainer t;
    if (trainer_init(&t, m, &o, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    train_stats st;
    if (trainer_step(&t, px, tok, &st, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }   /* warm-up */
    double t0 = now();
    for (int s = 0; s < steps; s++) trainer_step(&t, px, tok, &st, &e);
    double dt = (now() - t0) / steps;
    double flops = 3.0 * B * (vit_flops(c) + text_flops(c, T)), flops77 = 3.0 * B * (vit_flops(c) + text_flops(c, ctx));
    openblas_set_num_threads(threads);   /* the peak at the run's thread count (matmul holds OpenBLAS at 1) */
    double peak = sgemm_peak(threads);
    openblas_set_num_threads(1);
    printf("%s batch %d, text positions run %d of %d, %d threads, backend %s\n", arch, B, T, ctx, threads, matmul_backend());
    printf("step %.3f s  %.1f samples/s  loss %.4f\n", dt, B / dt, st.loss);
    printf("work %.1f GFLOP/step (%.1f if all 77 positions ran) -> %.1f GFLOP/s; sgemm 2048^3 peak %.1f GFLOP/s -> %.0f%% of peak\n",
           flops / 1e9, flops77 / 1e9, flops / dt / 1e9, peak / 1e9, 100 * flops / dt / peak);
    trainer_free(&t);
    clip_model_free(m);
    free(px); free(tok);
    return 0;
}
