/* Load time and peak memory of inference: clip_model_load of a checkpoint, then n encodes
 * of one kind, reporting wall times and the peak resident set (getrusage ru_maxrss) after each
 * stage. ru_maxrss only grows, so each configuration needs its own process:
 *   build/bench/bench_mem MODEL [--image N | --text N [--tokens T]] [--plain] [--reps R]
 * --plain loads with clip_load_opts.plain_weights = 1 (no repacking; the training layout). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "clip.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double maxrss_mb(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024.0;
}

static long minflt(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: bench_mem MODEL [--image N | --text N [--tokens T]] [--plain] [--reps R]\n"); return 2; }
    const char *path = argv[1];
    int n_img = 0, n_txt = 0, ntok = 77, plain = 0, reps = 3;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--image") && i + 1 < argc) n_img = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--text") && i + 1 < argc) n_txt = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tokens") && i + 1 < argc) ntok = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--plain")) plain = 1;
    }
    double rss0 = maxrss_mb();
    long f0 = minflt();
    clip_error e = {0};
    clip_load_opts o = {.activation = -1, .plain_weights = plain};
    double t0 = now();
    clip_model *m = clip_model_load(path, &o, &e);
    double tl = now() - t0;
    if (!m) { fprintf(stderr, "%s\n", e.msg); return 1; }
    size_t wbytes = clip_model_num_params(m) * sizeof(float);
    printf("model %s: %.1f MB of fp32 weights%s\n", path, wbytes / 1048576.0, plain ? " (plain_weights)" : "");
    printf("load: %.1f ms, %ld minor page faults, peak RSS %.1f MB (%.1f MB before load)\n", tl * 1e3, minflt() - f0,
           maxrss_mb(), rss0);
    const clip_config *c = clip_model_get_config(m);
    int n = n_img ? n_img : n_txt, S = c->image_size, ctx = c->context_length;
    if (n > 0) {
        float *out = malloc((size_t)n * c->embed_dim * sizeof(float));
        float *px = NULL;
        int32_t *tok = NULL;
        if (n_img) {
            size_t np = (size_t)n * 3 * S * S;
            px = malloc(np * sizeof(float));
            for (size_t i = 0; i < np; i++) px[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
        } else {
            tok = calloc((size_t)n * ctx, sizeof(int32_t));
            for (int b = 0; b < n; b++)
                for (int t = 0; t < ntok; t++) tok[b * ctx + t] = t == 0 ? 49406 : t == ntok - 1 ? 49407 : 320 + (b * 7 + t) % 40000;
        }
        for (int r = 0; r < reps; r++) {
            double ts = now();
            int rc = n_img ? clip_encode_image(m, px, n, out, &e) : clip_encode_text(m, tok, n, out, &e);
            if (rc) { fprintf(stderr, "%s\n", e.msg); return 1; }
            printf("encode_%s x%d%s: %.1f ms, peak RSS %.1f MB (%.0f%% of the weights)\n", n_img ? "image" : "text", n,
                   r == 0 ? " (first)" : "", (now() - ts) * 1e3, maxrss_mb(), 100.0 * maxrss_mb() * 1048576.0 / wbytes);
        }
        free(out); free(px); free(tok);
    }
    clip_model_free(m);
    return 0;
}
