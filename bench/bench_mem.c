/* Load time and peak memory of inference: clip_model_load of a checkpoint, then n encodes
 * of one kind, reporting wall times and the peak resident set (getrusage ru_maxrss) after each
 * stage. ru_maxrss only grows, so each configuration needs its own process:
 *   build/bench/bench_mem MODEL [--image N | --text N [--tokens T]] [--plain] [--reps R]
 * --plain loads with clip_load_opts.plain_weights = 1 (no repacking; the training layout).
 * --bf16 loads with clip_load_opts.precision = bf16 (then the resident set after the load shows
 * the halved weights; the peak still holds the fp32 read).
 *   build/bench/bench_mem MODEL --phases [--reps R]
 * times the stages of a load (header, allocation, reading, packing) R times, best of each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "clip.h"
#include "model/model.h"
#include "io/safetensors.h"
#include <fcntl.h>
#include <unistd.h>

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

static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static long minflt(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

/* The stages of clip_model_load, each timed (a file in OpenAI layout, no config.json). */
static int phases(const char *path, int reps) {
    double best[5] = {1e9, 1e9, 1e9, 1e9, 1e9};
    const char *name[5] = {"parse header (st_open)", "allocate", "read tensors (pread + finite check)", "pack in place", "free"};
    for (int r = 0; r < reps; r++) {
        clip_error e = {0};
        st_file f;
        clip_config cfg;
        double t[6];
        t[0] = now();
        if (st_open(path, &f, &e) || config_from_checkpoint(&f, NULL, &cfg, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        t[1] = now();
        clip_model *m = model_alloc(&cfg, &e);
        if (!m) { fprintf(stderr, "%s\n", e.msg); return 1; }
        t[2] = now();
        int fd = open(path, O_RDONLY);
        if (weights_load_fd(m, &f, fd, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        close(fd);
        st_close(&f);
        t[3] = now();
        if (model_pack(m, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        t[4] = now();
        clip_model_free(m);
        t[5] = now();
        for (int i = 0; i < 5; i++) if (t[i + 1] - t[i] < best[i]) best[i] = t[i + 1] - t[i];
    }
    double tot = 0;
    for (int i = 0; i < 5; i++) { printf("%-40s %8.1f ms (best of %d)\n", name[i], best[i] * 1e3, reps); if (i < 4) tot += best[i]; }
    printf("%-40s %8.1f ms\n", "sum of the best load stages", tot * 1e3);
    return 0;
}

/* The current resident set (VmRSS), MB. */
static double cur_rss_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atof(line + 6);
    if (f) fclose(f);
    return kb / 1024.0;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: bench_mem MODEL [--image N | --text N [--tokens T]] [--plain] [--bf16] [--reps R]\n"); return 2; }
    const char *path = argv[1];
    int n_img = 0, n_txt = 0, ntok = 77, plain = 0, reps = 3, bf16 = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--image") && i + 1 < argc) n_img = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--text") && i + 1 < argc) n_txt = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tokens") && i + 1 < argc) ntok = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--plain")) plain = 1;
        else if (!strcmp(argv[i], "--bf16")) bf16 = 1;
    }
    for (int i = 2; i < argc; i++) if (!strcmp(argv[i], "--phases")) return phases(path, reps);
    double rss0 = maxrss_mb();
    long f0 = minflt();
    clip_error e = {0};
    clip_load_opts o = {.activation = -1, .plain_weights = plain, .precision = bf16};
    double t0 = now(), c0 = cpu_s();
    clip_model *m = clip_model_load(path, &o, &e);
    double tl = now() - t0, cl = cpu_s() - c0;
    if (!m) { fprintf(stderr, "%s\n", e.msg); return 1; }
    size_t wbytes = clip_model_num_params(m) * sizeof(float);
    printf("model %s: %.1f MB of fp32 weights%s\n", path, wbytes / 1048576.0, plain ? " (plain_weights)" : "");
    printf("load: %.1f ms wall, %.1f ms CPU, %ld minor page faults, peak RSS %.1f MB (%.1f MB before load)\n", tl * 1e3,
           cl * 1e3, minflt() - f0,
           maxrss_mb(), rss0);
    printf("resident after load: %.1f MB%s\n", cur_rss_mb(), bf16 ? " (bf16 weights)" : "");
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
