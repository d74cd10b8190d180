/* OpenAI's _transform(n) as torchvision 0.14 runs it on a Pillow image: Resize(n, BICUBIC)
 * (shorter side to n, longer to int(n * long / short)), CenterCrop(n) (offsets
 * int(round((size - n) / 2.0)), half to even), convert("RGB"), ToTensor, Normalize.
 * Only the n x n window that the crop keeps is resampled: exact, and much cheaper. */
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error.h"
#include "image/image.h"

/* ---- Pillow's convert("RGB") */

static inline uint8_t muldiv255(unsigned a, unsigned b) {
    unsigned t = a * b + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

void image_pixels_to_rgb(int mode, const uint8_t *pal, const void *srcv, size_t n, uint8_t *o) {
    const uint8_t *s = srcv;
    for (size_t i = 0; i < n; i++, o += 3) {
        switch (mode) {
        case CLIP_MODE_1: case CLIP_MODE_L: o[0] = o[1] = o[2] = s[i]; break;
        case CLIP_MODE_P: memcpy(o, pal + 3 * s[i], 3); break;
        case CLIP_MODE_LA: o[0] = o[1] = o[2] = s[2 * i]; break;
        case CLIP_MODE_I16: {
            int32_t v = ((const int32_t *)srcv)[i];
            o[0] = o[1] = o[2] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            break;
        }
        case CLIP_MODE_RGB: memcpy(o, s + 3 * i, 3); break;
        case CLIP_MODE_RGBA: memcpy(o, s + 4 * i, 3); break;
        case CLIP_MODE_CMYK: {
            const uint8_t *c = s + 4 * i;
            int nk = 255 - c[3];
            for (int j = 0; j < 3; j++) {
                int v = nk - muldiv255(c[j], (unsigned)nk);
                o[j] = (uint8_t)(v < 0 ? 0 : v);
            }
            break;
        }
        }
    }
}

void clip_image_to_rgb(const clip_image *img, uint8_t *rgb) {
    size_t n = (size_t)img->w * img->h;
    if (img->mode != CLIP_MODE_I16) { image_pixels_to_rgb(img->mode, img->palette, img->data, n, rgb); return; }
    for (size_t i = 0; i < n; i++) {
        uint16_t v;
        memcpy(&v, img->data + 2 * i, 2);
        rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (uint8_t)(v > 255 ? 255 : v);
    }
}

/* ---- ToTensor + Normalize, in float32 as torchvision does it */

void clip_image_normalize(const uint8_t *hwc, int s, float *chw) {
    /* torch.as_tensor(mean, dtype=float32): the Python doubles rounded to float */
    static const float mean[3] = {(float)0.48145466, (float)0.4578275, (float)0.40821073};
    static const float std[3] = {(float)0.26862954, (float)0.26130258, (float)0.27577711};
    float lut[3][256];   /* each value depends only on (channel, byte): tabulate, same bits */
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) lut[c][v] = ((float)v / 255.0f - mean[c]) / std[c];
    size_t n = (size_t)s * s;
    for (int c = 0; c < 3; c++) {
        float *o = chw + (size_t)c * n;
        for (size_t i = 0; i < n; i++) o[i] = lut[c][hwc[3 * i + c]];
    }
}

/* ---- a window of a resize, converted to RGB */

static int window_rgb(const image_view *v, const float *box, int out_w, int out_h, int wx, int wy, int size,
                      uint8_t *rgb, clip_error *err) {
    size_t n = (size_t)size * size;
    size_t sb = v->mode == CLIP_MODE_I16 ? 4 : 1;
    void *win = malloc(n * v->ch * sb);
    if (!win) return clip_fail(err, CLIP_ERR_NOMEM, "preprocess: out of memory");
    int rc = image_resize_window(v, box, out_w, out_h, wx, wy, size, size, win, err);
    if (!rc) image_pixels_to_rgb(v->mode, v->palette, win, n, rgb);
    free(win);
    return rc;
}

static int finish(const uint8_t *rgb, int size, uint8_t *crop_hwc, float *chw) {
    if (crop_hwc && crop_hwc != rgb) memcpy(crop_hwc, rgb, (size_t)size * size * 3);
    if (chw) clip_image_normalize(rgb, size, chw);
    return 0;
}

/* Python's round() of a value that is an integer or a half: halves go to the even side. */
static int round_half_even_div2(int d) {
    if (d % 2 == 0) return d / 2;
    int q = (d - 1) / 2;   /* d > 0 here */
    return q % 2 == 0 ? q : q + 1;
}

int clip_image_preprocess(const clip_image *img, int size, uint8_t *crop_hwc, float *chw, clip_error *err) {
    if (!img || !img->data || img->w < 1 || img->h < 1)
        return clip_fail(err, CLIP_ERR_INVALID, "preprocess: empty image");
    if (size < 1 || size > 16384) return clip_fail(err, CLIP_ERR_INVALID, "preprocess: bad size %d", size);
    /* geometry from the file's size: the same crop whether or not the JPEG was DCT-scaled */
    int w = img->src_w > 0 ? img->src_w : img->w, h = img->src_h > 0 ? img->src_h : img->h;
    int sh = w <= h ? w : h, lg = w <= h ? h : w;
    double nl = floor((double)((int64_t)size * lg) / (double)sh);   /* int(size * long / short) */
    if (nl > INT_MAX / 4) return clip_fail(err, CLIP_ERR_INVALID, "preprocess: aspect ratio %dx%d too extreme", w, h);
    int rw = w <= h ? size : (int)nl, rh = w <= h ? (int)nl : size;
    int left = round_half_even_div2(rw - size), top = round_half_even_div2(rh - size);
    image_view v;
    image_view_of(img, 0, 0, img->w, img->h, &v);
    uint8_t *rgb = crop_hwc ? crop_hwc : malloc((size_t)size * size * 3);
    if (!rgb) return clip_fail(err, CLIP_ERR_NOMEM, "preprocess: out of memory");
    int rc = window_rgb(&v, NULL, rw, rh, left, top, size, rgb, err);
    if (!rc) finish(rgb, size, crop_hwc, chw);
    if (rgb != crop_hwc) free(rgb);
    return rc;
}

int clip_image_resized_crop(const clip_image *img, int x, int y, int w, int h, int size, uint8_t *crop_hwc,
                            float *chw, clip_error *err) {
    if (!img || !img->data || w < 1 || h < 1 || x < 0 || y < 0 || x > img->w - w || y > img->h - h)
        return clip_fail(err, CLIP_ERR_INVALID, "resized crop: box (%d,%d,%dx%d) not inside the image", x, y, w, h);
    if (size < 1 || size > 16384) return clip_fail(err, CLIP_ERR_INVALID, "resized crop: bad size %d", size);
    image_view v;
    image_view_of(img, x, y, w, h, &v);   /* torchvision crops first, then resizes the crop */
    uint8_t *rgb = crop_hwc ? crop_hwc : malloc((size_t)size * size * 3);
    if (!rgb) return clip_fail(err, CLIP_ERR_NOMEM, "resized crop: out of memory");
    int rc = window_rgb(&v, NULL, size, size, 0, 0, size, rgb, err);
    if (!rc) finish(rgb, size, crop_hwc, chw);
    if (rgb != crop_hwc) free(rgb);
    return rc;
}

int clip_image_crop(const clip_image *img, int x, int y, int w, int h, clip_image *out, clip_error *err) {
    memset(out, 0, sizeof *out);
    if (!img || !img->data || w < 1 || h < 1 || x < 0 || y < 0 || x > img->w - w || y > img->h - h)
        return clip_fail(err, CLIP_ERR_INVALID, "crop: box (%d,%d,%dx%d) not inside the image", x, y, w, h);
    image_view v;
    image_view_of(img, x, y, w, h, &v);
    size_t rl = (size_t)w * img->channels * image_sample_bytes(img->mode);
    uint8_t *d = malloc(rl * h);
    if (!d) return clip_fail(err, CLIP_ERR_NOMEM, "crop: out of memory");
    for (int r = 0; r < h; r++) memcpy(d + (size_t)r * rl, v.p + (size_t)r * v.stride, rl);
    *out = *img;
    out->w = out->src_w = w; out->h = out->src_h = h; out->data = d;
    return 0;
}

/* ---- RandomResizedCrop.get_params with our own generator (splitmix64) */

static double uniform(uint64_t *s, double lo, double hi) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return lo + (hi - lo) * ((double)(z >> 11) * (1.0 / 9007199254740992.0));
}

void clip_random_resized_crop_box(int w, int h, double scale_lo, double scale_hi, double ratio_lo,
                                  double ratio_hi, uint64_t *rng, int box[4]) {
    double area = (double)w * h, lr0 = log(ratio_lo), lr1 = log(ratio_hi);
    for (int t = 0; t < 10; t++) {
        double ta = area * uniform(rng, scale_lo, scale_hi);
        double ar = exp(uniform(rng, lr0, lr1));
        int cw = (int)nearbyint(sqrt(ta * ar)), ch = (int)nearbyint(sqrt(ta / ar));
        if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
            int i = (int)floor(uniform(rng, 0, h - ch + 1)), j = (int)floor(uniform(rng, 0, w - cw + 1));
            if (i > h - ch) i = h - ch;
            if (j > w - cw) j = w - cw;
            box[0] = j; box[1] = i; box[2] = cw; box[3] = ch;
            return;
        }
    }
    double in_ratio = (double)w / h;   /* fallback: centre crop at the nearest allowed ratio */
    int cw = w, ch = h;
    if (in_ratio < ratio_lo) ch = (int)nearbyint(cw / ratio_lo);
    else if (in_ratio > ratio_hi) cw = (int)nearbyint(ch * ratio_hi);
    if (ch < 1) ch = 1;
    if (cw < 1) cw = 1;
    if (ch > h) ch = h;
    if (cw > w) cw = w;
    box[0] = (w - cw) / 2; box[1] = (h - ch) / 2; box[2] = cw; box[3] = ch;
}

/* ---- batches, one image per thread */

int clip_preprocess_files(const char *const *paths, int n, int size, const clip_image_opts *opts, float *out,
                          uint8_t *out_u8, int *status, clip_error *errs, int nthreads, clip_error *err) {
    if (n < 0 || size < 1 || size > 16384 || (n > 0 && !paths))
        return clip_fail(err, CLIP_ERR_INVALID, "preprocess: bad arguments (n=%d, size=%d)", n, size);
    clip_image_opts o;
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    if (o.jpeg_fast > 0) o.jpeg_min_side = o.jpeg_fast * size;
    size_t per = (size_t)size * size * 3;
    int first_bad = -1, first_rc = 0;
    if (nthreads <= 0) nthreads = omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (int i = 0; i < n; i++) {
        clip_error e = {0};
        clip_image img;
        int rc = clip_image_load_file(paths[i], &o, &img, &e);
        if (!rc) {
            rc = clip_image_preprocess(&img, size, out_u8 ? out_u8 + per * i : NULL, out ? out + per * i : NULL, &e);
            if (rc) {   /* name the file in the message */
                char m[sizeof e.msg];
                memcpy(m, e.msg, sizeof m);
                clip_fail(&e, rc, "%.200s: %.300s", paths[i], m);
            }
            clip_image_free(&img);
        }
        if (status) status[i] = rc;
        if (errs) errs[i] = e;
        if (rc) {
#pragma omp critical(clip_preprocess_first_bad)
            {
                if (first_bad < 0 || i < first_bad) {
                    first_bad = i;
                    first_rc = rc;
                    if (err) *err = e;
                }
            }
        }
    }
    if (first_bad >= 0) return first_rc;
    return 0;
}
