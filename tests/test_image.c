/* Images: decoding and OpenAI's preprocessing against Pillow 9.4.
 * - golden/: OpenAI's _transform outputs (crop_u8_*, pixels_*) for four PNGs at 32/64/224.
 * - refs.txt (scripts/gen_image_refs.py): every format and mode, decoded, preprocessed,
 *   composited, resized with boxes and resized-cropped by PIL. All compared exactly.
 * - corrupt, truncated, empty, non-image and oversized inputs fail with a clear error. */
#include "testutil.h"
#include <stdint.h>
#include "io/file.h"

#define D "tests/data/image/"

static int u8_equal(const uint8_t *a, const char *path, size_t n, const char *what) {
    npy_array r;
    clip_error e = {0};
    if (npy_load(path, &r, &e)) { CHECK(0, "%s: %s", what, e.msg); return 0; }
    int ok = r.dtype == NPY_U1 && r.count == n;
    CHECK(ok, "%s: %s has %zu elements, expected %zu", what, path, r.count, n);
    if (ok) {
        const uint8_t *b = r.data;
        size_t bad = 0, first = 0;
        int maxd = 0;
        for (size_t i = 0; i < n; i++)
            if (a[i] != b[i]) {
                if (!bad) first = i;
                bad++;
                int d = abs((int)a[i] - (int)b[i]);
                if (d > maxd) maxd = d;
            }
        ok = bad == 0;
        CHECK(ok, "%s: %zu of %zu values differ (max %d, first at %zu: %d vs %d)", what, bad, n, maxd, first,
              a[first], b[first]);
    }
    npy_free(&r);
    return ok;
}

static int mode_of(const char *s) {
    const char *names[] = {"1", "L", "P", "LA", "I", "RGB", "RGBA", "CMYK"};
    for (int i = 0; i < 8; i++) if (!strcmp(s, names[i])) return i;
    return -1;
}

static void test_golden(void) {
    const char *names[4] = {"gradient", "checkerboard", "noise", "scene"};
    int sizes[3] = {32, 64, 224};
    for (int si = 0; si < 3; si++) {
        int s = sizes[si];
        size_t per = (size_t)s * s * 3;
        uint8_t *u8 = malloc(per * 4);
        float *f = malloc(sizeof(float) * per * 4);
        for (int i = 0; i < 4; i++) {
            char p[256];
            snprintf(p, sizeof p, D "golden/%s.png", names[i]);
            clip_image img;
            clip_error e = {0};
            int rc = clip_image_load_file(p, NULL, &img, &e);
            CHECK(rc == 0, "%s: %s", p, e.msg);
            if (rc) continue;
            rc = clip_image_preprocess(&img, s, u8 + per * i, f + per * i, &e);
            CHECK(rc == 0, "preprocess %s: %s", p, e.msg);
            clip_image_free(&img);
        }
        char p[256], what[64];
        snprintf(p, sizeof p, D "golden/crop_u8_%d.npy", s);
        snprintf(what, sizeof what, "golden crop %d", s);
        u8_equal(u8, p, per * 4, what);
        snprintf(p, sizeof p, D "golden/pixels_%d.npy", s);
        npy_array g = tu_load_npy(p);
        CHECK(g.count == per * 4, "%s size", p);
        if (g.count == per * 4) {
            double md = 0;
            for (size_t i = 0; i < g.count; i++) {
                double d = fabs((double)f[i] - ((float *)g.data)[i]);
                if (!(d <= md)) md = d;
            }
            CHECK(md <= 1e-6, "golden pixels %d: max abs diff %g > 1e-6", s, md);
        }
        npy_free(&g);
        /* the batch API gives the same, in parallel */
        const char *paths[4];
        char pb[4][256];
        for (int i = 0; i < 4; i++) { snprintf(pb[i], 256, D "golden/%s.png", names[i]); paths[i] = pb[i]; }
        float *f2 = malloc(sizeof(float) * per * 4);
        int st[4];
        clip_error e = {0};
        CHECK(clip_preprocess_files(paths, 4, s, NULL, f2, NULL, st, NULL, 2, &e) == 0, "batch: %s", e.msg);
        CHECK(memcmp(f, f2, sizeof(float) * per * 4) == 0, "batch %d differs from one by one", s);
        free(f2); free(u8); free(f);
    }
}

static void test_refs(void) {
    FILE *fp = fopen(D "refs.txt", "r");
    CHECK(fp != NULL, "cannot open " D "refs.txt");
    if (!fp) return;
    char line[512];
    int ncases = 0;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char kind[16], file[128], a[6][32], ref[160];
        int nf = sscanf(line, "%15s %127s", kind, file);
        if (nf != 2) continue;
        char path[256], refp[256];
        snprintf(path, sizeof path, D "%s", file);
        clip_image img;
        clip_error e = {0};
        clip_image_opts o;
        memset(&o, 0, sizeof o);
        if (!strcmp(kind, "pre")) {
            sscanf(line, "%*s %*s %31s %31s %159s", a[0], a[1], ref);
            if (strcmp(a[1], "-")) {
                unsigned r, g, b;
                sscanf(a[1], "%2x%2x%2x", &r, &g, &b);
                o.composite = 1; o.bg[0] = (uint8_t)r; o.bg[1] = (uint8_t)g; o.bg[2] = (uint8_t)b;
            }
        }
        int rc = clip_image_load_file(path, &o, &img, &e);
        CHECK(rc == 0, "%s: %s", path, e.msg);
        if (rc) continue;
        ncases++;
        char what[300];
        snprintf(what, sizeof what, "%.*s", (int)strcspn(line, "\n"), line);
        if (!strcmp(kind, "image")) {
            int w, h;
            sscanf(line, "%*s %*s %31s %d %d", a[0], &w, &h);
            CHECK(img.mode == mode_of(a[0]) && img.w == w && img.h == h, "%s: got mode %d %dx%d", what, img.mode, img.w, img.h);
        } else if (!strcmp(kind, "rgb")) {
            sscanf(line, "%*s %*s %159s", ref);
            uint8_t *rgb = malloc((size_t)img.w * img.h * 3);
            clip_image_to_rgb(&img, rgb);
            snprintf(refp, sizeof refp, D "%s", ref);
            u8_equal(rgb, refp, (size_t)img.w * img.h * 3, what);
            free(rgb);
        } else if (!strcmp(kind, "pre")) {
            int n = atoi(a[0]);
            uint8_t *out = malloc((size_t)n * n * 3);
            rc = clip_image_preprocess(&img, n, out, NULL, &e);
            CHECK(rc == 0, "%s: %s", what, e.msg);
            snprintf(refp, sizeof refp, D "%s", ref);
            if (!rc) u8_equal(out, refp, (size_t)n * n * 3, what);
            free(out);
        } else if (!strcmp(kind, "resize")) {
            int ow, oh;
            sscanf(line, "%*s %*s %d %d %31s %31s %31s %31s %159s", &ow, &oh, a[0], a[1], a[2], a[3], ref);
            float box[4];
            int has_box = strcmp(a[0], "-") != 0;
            for (int i = 0; i < 4; i++) box[i] = has_box ? (float)atof(a[i]) : 0;
            clip_image out;
            rc = clip_image_resize(&img, has_box ? box : NULL, ow, oh, &out, &e);
            CHECK(rc == 0, "%s: %s", what, e.msg);
            if (!rc) {
                uint8_t *rgb = malloc((size_t)ow * oh * 3);
                clip_image_to_rgb(&out, rgb);
                snprintf(refp, sizeof refp, D "%s", ref);
                u8_equal(rgb, refp, (size_t)ow * oh * 3, what);
                free(rgb);
                clip_image_free(&out);
            }
        } else if (!strcmp(kind, "rcrop")) {
            int x, y, w, h, n;
            sscanf(line, "%*s %*s %d %d %d %d %d %159s", &x, &y, &w, &h, &n, ref);
            uint8_t *out = malloc((size_t)n * n * 3);
            rc = clip_image_resized_crop(&img, x, y, w, h, n, out, NULL, &e);
            CHECK(rc == 0, "%s: %s", what, e.msg);
            snprintf(refp, sizeof refp, D "%s", ref);
            if (!rc) u8_equal(out, refp, (size_t)n * n * 3, what);
            free(out);
        }
        clip_image_free(&img);
    }
    fclose(fp);
    CHECK(ncases > 200, "only %d reference cases ran", ncases);
}

/* Loads from memory and expects failure with status st (0: any failure). */
static void expect_fail(const void *buf, size_t n, const clip_image_opts *o, int st, const char *what) {
    clip_image img;
    clip_error e = {0};
    int rc = clip_image_load_memory(buf, n, what, o, &img, &e);
    CHECK(rc != 0 && (st == 0 || rc == st), "%s: rc %d (want %d): %s", what, rc, st, e.msg);
    CHECK(rc == 0 || (img.data == NULL && e.msg[0]), "%s: no message or data left", what);
    if (rc == 0) clip_image_free(&img);
    else fprintf(stderr, "  ok, %s -> %s\n", what, e.msg);
}

static char *slurp(const char *p, size_t *n) {
    char *b;
    clip_error e = {0};
    if (file_read_all(p, 1 << 24, &b, n, &e)) { fprintf(stderr, "%s\n", e.msg); exit(1); }
    return b;
}

static uint32_t crc32_png(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = (uint8_t)v; }

static void test_errors(void) {
    expect_fail("", 0, NULL, CLIP_ERR_FORMAT, "empty");
    expect_fail("hello, world, not an image at all", 33, NULL, CLIP_ERR_FORMAT, "text");
    expect_fail("GIF89a\1\0\1\0\0\0\0;", 14, NULL, CLIP_ERR_UNSUPPORTED, "gif");
    const char *fmts[] = {D "fmt/baseline.jpg", D "fmt/progressive.jpg", D "fmt/rgb8.png", D "fmt/interlaced_rgba16.png",
                          D "fmt/lossy.webp", D "fmt/lossless_alpha.webp"};
    for (int i = 0; i < 6; i++) {
        size_t n;
        uint8_t *b = (uint8_t *)slurp(fmts[i], &n);
        char what[160];
        /* truncated at several points, header only, and with corrupted bytes */
        size_t cuts[4] = {n / 2, n * 9 / 10, 40, n - 20};
        for (int c = 0; c < 4; c++) {
            snprintf(what, sizeof what, "%s cut to %zu of %zu bytes", fmts[i], cuts[c], n);
            expect_fail(b, cuts[c], NULL, 0, what);
        }
        /* corrupted bytes: PNG's CRCs and WebP's checks catch them; JPEG may decode garbage
         * (as PIL does); any outcome but a crash or a leak is fine there */
        uint8_t *m = malloc(n);
        memcpy(m, b, n);
        for (size_t k = 30; k < 60 && k < n; k++) m[k] ^= 0x5A;
        snprintf(what, sizeof what, "%s corrupted header", fmts[i]);
        if (strstr(fmts[i], ".jpg")) {
            clip_image img;
            clip_error e = {0};
            int rc = clip_image_load_memory(m, n, what, NULL, &img, &e);
            CHECK(rc == 0 ? img.data != NULL : e.msg[0] != 0, "%s", what);
            clip_image_free(&img);
        } else {
            expect_fail(m, n, NULL, 0, what);
        }
        free(m);
        /* too many pixels for a small limit */
        clip_image_opts o;
        memset(&o, 0, sizeof o);
        o.max_pixels = 1000;
        snprintf(what, sizeof what, "%s over max_pixels", fmts[i]);
        expect_fail(b, n, &o, CLIP_ERR_INVALID, what);
        free(b);
    }
    /* decompression bombs: headers claiming huge images in tiny files */
    size_t n;
    uint8_t *b = (uint8_t *)slurp(D "fmt/rgb8.png", &n);
    put32(b + 16, 60000); put32(b + 20, 60000);
    put32(b + 29, crc32_png(b + 12, 17));
    expect_fail(b, n, NULL, CLIP_ERR_INVALID, "PNG 60000x60000 bomb");
    free(b);
    b = (uint8_t *)slurp(D "fmt/baseline.jpg", &n);
    for (size_t i = 2; i + 9 < n; i++)
        if (b[i] == 0xFF && b[i + 1] == 0xC0) { b[i + 5] = 0x75; b[i + 6] = 0x30; b[i + 7] = 0x75; b[i + 8] = 0x30; break; }
    expect_fail(b, n, NULL, CLIP_ERR_INVALID, "JPEG 30000x30000 bomb");
    free(b);
    b = (uint8_t *)slurp(D "fmt/lossless.webp", &n);
    if (n > 25 && !memcmp(b + 12, "VP8L", 4)) {   /* 14-bit width-1 and height-1 after the signature byte */
        uint32_t v = 16383u | (16383u << 14) | ((uint32_t)(b[24] >> 4 & 0xF) << 28);
        b[21] = (uint8_t)v; b[22] = (uint8_t)(v >> 8); b[23] = (uint8_t)(v >> 16); b[24] = (uint8_t)(v >> 24);
        expect_fail(b, n, NULL, CLIP_ERR_INVALID, "WebP 16384x16384 bomb");
    }
    free(b);
    clip_image img;
    clip_error e = {0};
    CHECK(clip_image_load_file(D "does-not-exist.png", NULL, &img, &e) == CLIP_ERR_IO, "missing file");
    /* a batch with one bad file: its status, the others fine */
    const char *paths[3] = {D "fmt/rgb8.png", D "refs.txt", D "fmt/lossy.webp"};
    int st[3];
    clip_error errs[3];
    float *out = malloc(sizeof(float) * 3 * 3 * 16 * 16);
    int rc = clip_preprocess_files(paths, 3, 16, NULL, out, NULL, st, errs, 2, &e);
    CHECK(rc == CLIP_ERR_FORMAT && st[0] == 0 && st[1] == CLIP_ERR_FORMAT && st[2] == 0, "batch statuses %d %d %d", st[0], st[1], st[2]);
    CHECK(strstr(e.msg, "refs.txt") != NULL, "batch error names the file: %s", e.msg);
    free(out);
}

static void test_fast_path_and_crops(void) {
    clip_image_opts o;
    memset(&o, 0, sizeof o);
    o.jpeg_min_side = 24;
    clip_image img, full;
    clip_error e = {0};
    CHECK(clip_image_load_file(D "fmt/baseline.jpg", &o, &img, &e) == 0, "%s", e.msg);
    CHECK(img.w == 34 && img.h == 24, "DCT-scaled to 4/8: %dx%d", img.w, img.h);
    CHECK(clip_image_load_file(D "fmt/baseline.jpg", NULL, &full, &e) == 0, "%s", e.msg);
    uint8_t a[24 * 24 * 3], b[24 * 24 * 3];
    clip_image_preprocess(&img, 24, a, NULL, &e);
    clip_image_preprocess(&full, 24, b, NULL, &e);
    double mad = 0;
    for (int i = 0; i < 24 * 24 * 3; i++) mad += abs(a[i] - b[i]);
    mad /= 24 * 24 * 3;
    /* approximate by design: libjpeg averages 2x2 blocks where Pillow filters bicubically;
     * this noisy checkerboard is a hard case (photos: docs/image.md) */
    CHECK(mad < 16.0, "fast path mean abs error %.2f", mad);
    clip_image_free(&img);
    /* random boxes lie inside and respect the scale range */
    uint64_t rng = 42;
    for (int t = 0; t < 1000; t++) {
        int box[4];
        clip_random_resized_crop_box(full.w, full.h, 0.9, 1.0, 3.0 / 4, 4.0 / 3, &rng, box);
        double area = (double)box[2] * box[3] / (full.w * full.h);
        CHECK(box[0] >= 0 && box[1] >= 0 && box[0] + box[2] <= full.w && box[1] + box[3] <= full.h && area > 0.8,
              "box %d %d %d %d", box[0], box[1], box[2], box[3]);
        if (tu_failures) break;
    }
    int box[4];
    clip_random_resized_crop_box(1000, 10, 0.9, 1.0, 3.0 / 4, 4.0 / 3, &rng, box);   /* falls back */
    CHECK(box[2] == 13 && box[3] == 10 && box[0] == 493 && box[1] == 0, "fallback box %d %d %d %d", box[0], box[1], box[2], box[3]);
    CHECK(clip_image_resized_crop(&full, 60, 0, 10, 10, 8, a, NULL, &e) == CLIP_ERR_INVALID, "box outside rejected");
    clip_image_free(&full);
}

int main(void) {
    test_golden();
    test_refs();
    test_errors();
    test_fast_path_and_crops();
    TEST_END();
}
