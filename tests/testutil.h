/* Minimal test helpers: CHECK macros that count failures, and array comparison with the
 * metric the golden vectors use: max|a-b| / max|b|. Tests run from the repo root. */
#ifndef CLIP_TESTUTIL_H
#define CLIP_TESTUTIL_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clip.h"
#include "io/npy.h"
#include "io/file.h"

static int tu_failures = 0;
static int tu_checks = 0;

#define CHECK(cond, ...) do { tu_checks++; if (!(cond)) { tu_failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

/* Ends main(): fails if any check failed or if none ran (a test must assert something). */
#define TEST_END() do { if (tu_checks == 0) { fprintf(stderr, "no checks ran\n"); return 1; } \
    fprintf(stderr, "%d checks, %d failed\n", tu_checks, tu_failures); return tu_failures ? 1 : 0; } while (0)

static inline double tu_rel_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= num)) num = d;           /* NaN propagates as a failure */
        if (fabs((double)b[i]) > den) den = fabs((double)b[i]);
    }
    return den > 0 ? num / den : num;
}

/* OpenAI's logits_per_image: exp(logit_scale) x normalised image . normalised text (normalises
 * img [ni,d] and txt [nt,d] in place). */
static inline void tu_logits(float *img, int ni, float *txt, int nt, int d, float logit_scale, float *out) {
    clip_normalize(img, ni, d);
    clip_normalize(txt, nt, d);
    float s = expf(logit_scale);
    for (int i = 0; i < ni; i++)
        for (int j = 0; j < nt; j++) {
            float dot = 0;
            for (int k = 0; k < d; k++) dot += img[i * d + k] * txt[j * d + k];
            out[i * nt + j] = s * dot;
        }
}

/* Loads a float32 .npy or aborts the test with a message (test data must exist). */
static inline npy_array tu_load_npy(const char *path) {
    npy_array a; clip_error e = {0};
    if (npy_load(path, &a, &e)) { fprintf(stderr, "cannot load %s: %s\n", path, e.msg); exit(1); }
    return a;
}

/* Compares a buffer with a golden .npy (float32) at relative tolerance tol. */
#define CHECK_CLOSE_NPY(buf, n, path, tol) do { npy_array _g = tu_load_npy(path); \
    CHECK(_g.count == (size_t)(n), "%s: %zu elements, expected %zu", path, _g.count, (size_t)(n)); \
    if (_g.count == (size_t)(n)) { double _r = tu_rel_err((buf), (const float *)_g.data, (n)); \
    CHECK(_r <= (tol), "%s: rel err %.3g > %.3g", path, _r, (double)(tol)); } npy_free(&_g); } while (0)
/* Golden activations: set m->hook = tu_act_hook, m->hook_ud = &ctx; every named point of the
 * forward pass that has DIR/act/NAME.npy is compared at 1e-5; ctx.n counts the distinct ones,
 * to be checked against tu_count_act_files(DIR) so no golden file goes unused. */
typedef struct { const char *dir; int n; char names[64][64]; } tu_act_ctx;

static inline void tu_act_hook(void *ud, const char *name, const float *data, size_t n) {
    tu_act_ctx *h = ud;
    char path[256];
    snprintf(path, sizeof path, "%s/act/%s.npy", h->dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return;   /* this point has no golden file */
    fclose(f);
    CHECK_CLOSE_NPY(data, n, path, 1e-5);
    for (int i = 0; i < h->n; i++) if (!strcmp(h->names[i], name)) return;
    if (h->n < 64) snprintf(h->names[h->n++], 64, "%s", name);
}

static inline int tu_count_act_files(const char *dir) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "ls %s/act/*.npy 2>/dev/null | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = 0;
    if (p) { if (fscanf(p, "%d", &n) != 1) n = 0; pclose(p); }
    return n;
}

/* A file's bytes (malloc'd; NULL, with a failed check, if it cannot be read) and the reverse. */
static inline char *tu_slurp(const char *path, size_t *n) {
    char *d = NULL;
    clip_error e = {0};
    CHECK(file_read_all(path, (size_t)1 << 30, &d, n, &e) == 0, "%s", e.msg);
    return d;
}
static inline void tu_spit(const char *path, const char *d, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(d, 1, n, f) == n, "write %s", path);
    if (f) fclose(f);
}

/* The smallest cosine between matching rows of a[rows, d] and b[rows, d]. */
static inline double tu_min_cosine(const float *a, const float *b, int rows, int d) {
    double worst = 1;
    for (int r = 0; r < rows; r++) {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < d; i++) {
            double x = a[(size_t)r * d + i], y = b[(size_t)r * d + i];
            ab += x * y; aa += x * x; bb += y * y;
        }
        double c = ab / sqrt(aa * bb);
        if (!(c >= worst)) worst = c;   /* NaN sticks */
    }
    return worst;
}

/* An activation hook that does nothing: setting it makes a forward pass take the hooked path. */
static inline void tu_hook_nop(void *ud, const char *name, const float *data, size_t n) {
    (void)ud; (void)name; (void)data; (void)n;
}

#endif
