/* ModifiedResNet image encoding speed: ms per image for a named RN architecture (RN50 by
 * default) with random weights (clip_model_init), at batch 1 and 16, 1 and 2 threads.
 * Usage: build/bench/bench_rn [arch] [reps]. Also prints the analytic GFLOP count
 * (2·MACs over convolutions and the attention pool's projections) and the rate reached.
 * Results: docs/resnet.md. */
#include "clip.h"
#include "core/matmul.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clk(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
static double now(void) { return clk(CLOCK_MONOTONIC); }
/* CPU time of the whole process: on a machine shared with other jobs it is a steadier
 * measure than wall time at 1 thread (at 2 it also counts threads' spin-waits). */
static double cpu(void) { return clk(CLOCK_PROCESS_CPUTIME_ID); }

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* FLOPs of one image, following the tower's structure. */
static double rn_flops(const clip_config *c) {
    double f = 0;
    int W = c->vision_width, S = c->image_size, H = S / 2;
    f += 2.0 * (W / 2) * 3 * 9 * H * H + 2.0 * (W / 2) * (W / 2) * 9 * H * H + 2.0 * W * (W / 2) * 9 * H * H;
    H /= 2;
    int inpl = W;
    for (int i = 0; i < 4; i++) {
        int P = W << i;
        for (int j = 0; j < c->rn_layers[i]; j++) {
            int s = (i > 0 && j == 0) ? 2 : 1, Ho = H / s;
            f += 2.0 * P * inpl * H * H + 2.0 * P * P * 9 * H * H + 2.0 * 4 * P * P * Ho * Ho;
            if (s > 1 || inpl != 4 * P) f += 2.0 * 4 * P * inpl * Ho * Ho;
            inpl = 4 * P;
            H = Ho;
        }
    }
    double C = inpl, T = H * H + 1;
    f += 2.0 * C * C * (1 + 2 * T) + 2.0 * C * T * 2 + 2.0 * C * c->embed_dim;
    return f;
}

int main(int argc, char **argv) {
    const char *arch = argc > 1 ? argv[1] : "RN50";
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    clip_config cfg;
    clip_error e = {0};
    if (clip_config_from_name(arch, &cfg, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    clip_model *m = clip_model_init(&cfg, 1, &e);
    if (!m) { fprintf(stderr, "%s\n", e.msg); return 1; }
    int S = cfg.image_size, E = cfg.embed_dim;
    double gf = rn_flops(&cfg) * 1e-9;
    printf("%s: %d px, width %d, layers [%d,%d,%d,%d], %.2f GFLOP/image, matmul backend %s\n", arch, S, cfg.vision_width,
           cfg.rn_layers[0], cfg.rn_layers[1], cfg.rn_layers[2], cfg.rn_layers[3], gf, matmul_backend());
    float *px = malloc(sizeof(float) * 16 * 3 * S * S), *out = malloc(sizeof(float) * 16 * E);
    srand(1);
    for (size_t i = 0; i < (size_t)16 * 3 * S * S; i++) px[i] = (float)rand() / RAND_MAX * 2 - 1;
    int threads[2] = {1, 2}, batches[2] = {1, 16};
    for (int ti = 0; ti < 2; ti++)
        for (int bi = 0; bi < 2; bi++) {
            int T = threads[ti], B = batches[bi];
            clip_set_threads(T);
            if (clip_encode_image(m, px, B, out, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }   /* warm-up */
            double t[32], c[32];
            int n = reps < 32 ? reps : 32;
            for (int r = 0; r < n; r++) {
                double t0 = now(), c0 = cpu();
                clip_encode_image(m, px, B, out, &e);
                t[r] = (now() - t0) * 1000.0 / B;
                c[r] = (cpu() - c0) * 1000.0 / B;
            }
            qsort(t, n, sizeof *t, cmp);
            qsort(c, n, sizeof *c, cmp);
            printf("clip.c %s threads %d batch %2d: %7.1f ms/image wall (median of %d, min %.1f)  %6.1f GFLOP/s; "
                   "cpu %.1f ms/image (min)\n", arch, T, B, t[n / 2], n, t[0], gf / (t[0] * 1e-3), c[0]);
            fflush(stdout);
        }
    free(px); free(out);
    clip_model_free(m);
    return 0;
}
