/* Model load time and peak memory of one ViT-B/32 inference process, for the peer comparison
 * (bench/run_peers.sh) and for packed files (`clip convert --packed`, docs/performance.md "Load").
 * Times clip_model_load (first call, then the median of --reps more, the file being in the page
 * cache by then), then encodes one image and one 77-token text at batch 1, twice each: a packed
 * file is mapped, so its page faults land in the first encode (image_ms, text_ms; the second
 * ones are image2_ms, text2_ms; *_flt count the minor page faults), and reports the process's
 * peak resident set (getrusage ru_maxrss).
 * --cold first drops the file's pages from the page cache (posix_fadvise DONTNEED: this file
 * only), so the first load, or a packed file's first encodes, read it from the disk; the encodes
 * then follow the first load (no reloads).
 * Usage: build/bench/bench_load MODEL.safetensors [--reps N] [--threads N] [--cold] [--precision fp32|bf16|int8]
 * Prints one line: load_first_ms=.. load_median_ms=.. image_ms=.. text_ms=.. maxrss_mb=.. ... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include "clip.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
static long minflt(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}
static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
    const char *path = NULL;
    int reps = 3, threads = 1, cold = 0, precision = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cold")) cold = 1;
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            if ((precision = clip_precision_from_name(argv[++i])) < 0) { fprintf(stderr, "bench_load: --precision fp32|bf16|int8\n"); return 2; }
        }
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else { fprintf(stderr, "usage: bench_load MODEL.safetensors [--reps N] [--threads N] [--cold] [--precision fp32|bf16|int8]\n"); return 2; }
    }
    if (!path) { fprintf(stderr, "usage: bench_load MODEL.safetensors [--reps N] [--threads N] [--cold] [--precision fp32|bf16|int8]\n"); return 2; }
    if (cold) {
        int fd = open(path, O_RDONLY);
        if (fd < 0 || fdatasync(fd) || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)) { fprintf(stderr, "bench_load: --cold: cannot drop %s\n", path); return 1; }
        close(fd);
        reps = 0;
    }
    if (reps < 1 || reps > 63) reps = 3;
    if (cold) reps = 0;
    clip_set_threads(threads);
    clip_error e = {0};
    double t[64], t0 = now();
    clip_load_opts o = {.activation = -1, .precision = precision};
    clip_model *m = clip_model_load(path, &o, &e);
    double first = now() - t0;
    if (!m) { fprintf(stderr, "bench_load: %s\n", e.msg); return 1; }
    for (int r = 0; r < reps; r++) { /* reloads replace the model, so the peak stays one model's */
        clip_model_free(m);
        t0 = now();
        m = clip_model_load(path, &o, &e);
        t[r] = now() - t0;
        if (!m) { fprintf(stderr, "bench_load: %s\n", e.msg); return 1; }
    }
    if (!reps) t[0] = first;
    qsort(t, reps, sizeof(double), cmp_d);
    const clip_config *c = clip_model_get_config(m);
    size_t npx = (size_t)3 * c->image_size * c->image_size;
    float *px = malloc(npx * sizeof(float)), *out = malloc((size_t)c->embed_dim * sizeof(float));
    int32_t *tok = calloc((size_t)c->context_length, sizeof(int32_t));
    if (!px || !out || !tok) { fprintf(stderr, "bench_load: out of memory\n"); return 1; }
    for (size_t i = 0; i < npx; i++) px[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    for (int i = 0; i < c->context_length; i++) tok[i] = i == 0 ? 49406 : i == c->context_length - 1 ? 49407 : 320 + i;
    double ti[2], tt[2];
    long fi[2], ft[2];
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {   /* image, text, image, text: the first of each faults */
        long f0 = minflt();
        t0 = now();
        rc = clip_encode_image(m, px, 1, out, &e);
        ti[k] = now() - t0;
        fi[k] = minflt() - f0;
        f0 = minflt();
        t0 = now();
        rc = rc ? rc : clip_encode_text(m, tok, 1, out, &e);
        tt[k] = now() - t0;
        ft[k] = minflt() - f0;
    }
    if (rc) { fprintf(stderr, "bench_load: %s\n", e.msg); return 1; }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("load_first_ms=%.1f load_median_ms=%.1f image_ms=%.1f text_ms=%.1f maxrss_mb=%.0f image2_ms=%.1f text2_ms=%.1f "
           "image_flt=%ld text_flt=%ld image2_flt=%ld text2_flt=%ld mapped=%d\n",
           first * 1e3, t[reps / 2] * 1e3, ti[0] * 1e3, tt[0] * 1e3, ru.ru_maxrss / 1024.0, ti[1] * 1e3, tt[1] * 1e3,
           fi[0], ft[0], fi[1], ft[1], clip_model_is_mapped(m));
    free(px); free(out); free(tok);
    clip_model_free(m);
    return 0;
}
