/* Images per second on one core: decode + OpenAI preprocessing to 224 (float32 CHW), exact
 * path and JPEG fast path (DCT-domain downscale, k = 1 and 2 times the target); and what the
 * fast path costs in pixel error against the exact path.
 *   make bench && /usr/bin/python3 bench/image_pil.py && build/bench/bench_image [JPEG PNG] */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clip.h"

#define S 224

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* decode + preprocess from memory, repeated for ~secs; returns images/s */
static double rate(const void *buf, size_t len, const clip_image_opts *o, uint8_t *u8, float *f) {
    double t0 = now(), secs = 2.0;
    int n = 0;
    clip_error e = {0};
    while (now() - t0 < secs || n < 3) {
        clip_image img;
        if (clip_image_load_memory(buf, len, "bench", o, &img, &e) || clip_image_preprocess(&img, S, u8, f, &e)) {
            fprintf(stderr, "bench: %s\n", e.msg);
            exit(1);
        }
        clip_image_free(&img);
        n++;
    }
    return n / (now() - t0);
}

static void *slurp(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    if (!f) { fprintf(stderr, "bench: cannot open %s (run /usr/bin/python3 bench/image_pil.py first)\n", p); exit(1); }
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = malloc(*n);
    if (fread(b, 1, *n, f) != *n) exit(1);
    fclose(f);
    return b;
}

int main(int argc, char **argv) {
    const char *jpg = argc > 1 ? argv[1] : "build/bench/photo_1mp.jpg";
    const char *png = argc > 2 ? argv[2] : "build/bench/icon_64.png";
    omp_set_num_threads(1);
    uint8_t *ex = malloc(S * S * 3), *fa = malloc(S * S * 3);
    float *f = malloc(sizeof(float) * 3 * S * S), *ff = malloc(sizeof(float) * 3 * S * S);
    size_t n;
    void *b = slurp(jpg, &n);
    clip_image info;
    clip_error e = {0};
    if (clip_image_load_memory(b, n, jpg, NULL, &info, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    printf("%s: %dx%d JPEG, %zu bytes\n", jpg, info.w, info.h, n);
    clip_image_free(&info);
    clip_image_opts o;
    memset(&o, 0, sizeof o);
    printf("  exact            %7.1f images/s\n", rate(b, n, &o, ex, f));
    for (int k = 1; k <= 2; k++) {
        o.jpeg_min_side = k * S;
        double r = rate(b, n, &o, fa, ff);
        double mad = 0, se = 0, fmax = 0;
        int mx = 0;
        for (int i = 0; i < S * S * 3; i++) {
            int d = abs(ex[i] - fa[i]);
            mad += d; se += (double)d * d;
            if (d > mx) mx = d;
        }
        for (int i = 0; i < 3 * S * S; i++) fmax = fmax > fabs(f[i] - ff[i]) ? fmax : fabs(f[i] - ff[i]);
        mad /= S * S * 3;
        double psnr = se > 0 ? 10 * log10(255.0 * 255.0 / (se / (S * S * 3))) : INFINITY;
        printf("  fast (side>=%d) %7.1f images/s   vs exact: mean |d| %.3f, max |d| %d, PSNR %.1f dB, max |d| normalised %.4f\n",
               k * S, r, mad, mx, psnr, fmax);
    }
    free(b);
    b = slurp(png, &n);
    o.jpeg_min_side = 0;
    printf("%s: %zu bytes PNG\n  exact            %7.1f images/s\n", png, n, rate(b, n, &o, ex, f));
    o.composite = 1; o.bg[0] = o.bg[1] = o.bg[2] = 255;
    printf("  composite white  %7.1f images/s\n", rate(b, n, &o, ex, f));
    free(b); free(ex); free(fa); free(f); free(ff);
    return 0;
}
