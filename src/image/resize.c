/* Pillow 9.4's Image.resize(size, BICUBIC, box), bit for bit, computed for a window of the
 * output only (each output pixel depends on its own coefficients, so a window is exact).
 *
 * Arithmetic as libImaging/Resample.c: separable, horizontal pass first (over the source rows
 * the vertical pass needs), then vertical. The cubic (a = -0.5) widens its support by the scale
 * factor when shrinking; per output pixel the taps are normalised to sum 1 in double, then
 * rounded to fixed point with 22 fraction bits; sums start at half a unit and are clipped to
 * 0..255 after an arithmetic shift. Mode "I" (16-bit gray PNG) is resampled in double with
 * round-half-away. Modes "1" and "P" use NEAREST (Pillow ignores the filter for them), with
 * Pillow's accumulated double positions; "LA"/"RGBA" are premultiplied around the resize. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/error.h"
#include "image/image.h"

#define PREC 22

int image_mode_channels(int mode) {
    switch (mode) {
    case CLIP_MODE_LA: return 2;
    case CLIP_MODE_RGB: return 3;
    case CLIP_MODE_RGBA: case CLIP_MODE_CMYK: return 4;
    default: return 1;
    }
}

size_t image_sample_bytes(int mode) { return mode == CLIP_MODE_I16 ? 2 : 1; }

void image_view_of(const clip_image *img, int x, int y, int w, int h, image_view *v) {
    size_t px = (size_t)img->channels * image_sample_bytes(img->mode);
    v->stride = (size_t)img->w * px;
    v->p = img->data + (size_t)y * v->stride + (size_t)x * px;
    v->w = w; v->h = h; v->mode = img->mode; v->ch = img->channels;
    v->palette = img->palette;
}

/* ---- filter coefficients (precompute_coeffs) */

static double bicubic(double x) {
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((-0.5 + 2.0) * x - (-0.5 + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * -0.5;
    return 0.0;
}

typedef struct {
    int n, ksize;
    int *lo, *cnt;       /* first tap and number of taps, per output pixel */
    double *k;           /* [n][ksize] normalised taps */
    int32_t *ki;         /* the same in fixed point */
} coeffs;

static void coeffs_free(coeffs *c) { free(c->lo); free(c->cnt); free(c->k); free(c->ki); }

/* Taps for outputs first..first+n-1 of a resize of [in0, in1) (in_size samples) to out_size. */
static int coeffs_make(int in_size, float in0, float in1, int out_size, int first, int n, coeffs *c) {
    memset(c, 0, sizeof *c);
    double scale = (double)(in1 - in0) / out_size;   /* float difference, as Pillow */
    double fscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * fscale;
    if (!(support < 1e9)) return -1;
    int ksize = (int)ceil(support) * 2 + 1;
    c->n = n; c->ksize = ksize;
    c->lo = malloc(sizeof(int) * (size_t)n);
    c->cnt = malloc(sizeof(int) * (size_t)n);
    c->k = calloc((size_t)n * ksize, sizeof(double));
    c->ki = calloc((size_t)n * ksize, sizeof(int32_t));
    if (!c->lo || !c->cnt || !c->k || !c->ki) { coeffs_free(c); return -1; }
    for (int i = 0; i < n; i++) {
        int xx = first + i;
        double center = in0 + (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / fscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        if (xmax < 0) xmax = 0;
        if (xmax > ksize) xmax = ksize;   /* cannot happen; keeps indexing safe */
        double *k = c->k + (size_t)i * ksize;
        for (int x = 0; x < xmax; x++) {
            double w = bicubic((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (int x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        int32_t *ki = c->ki + (size_t)i * ksize;
        for (int x = 0; x < xmax; x++)
            ki[x] = k[x] < 0 ? (int)(-0.5 + k[x] * (1 << PREC)) : (int)(0.5 + k[x] * (1 << PREC));
        c->lo[i] = xmin;
        c->cnt[i] = xmax;
    }
    return 0;
}

static inline uint8_t clip8(int v) {
    v >>= PREC;   /* arithmetic shift, as Pillow's lookup index */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static inline int32_t round_up(double f) { return (int32_t)(f >= 0.0 ? f + 0.5F : f - 0.5F); }

/* ---- 8-bit passes. Rows are packed arrays of w * ch bytes. */

static void horiz_u8(const uint8_t *src, size_t sstride, int rows, int ch, const coeffs *c,
                     uint8_t *dst, size_t dstride) {
    for (int y = 0; y < rows; y++) {
        const uint8_t *s = src + (size_t)y * sstride;
        uint8_t *d = dst + (size_t)y * dstride;
        for (int i = 0; i < c->n; i++) {
            const int32_t *k = c->ki + (size_t)i * c->ksize;
            const uint8_t *p = s + (size_t)c->lo[i] * ch;
            int cnt = c->cnt[i];
            int acc[4] = {1 << (PREC - 1), 1 << (PREC - 1), 1 << (PREC - 1), 1 << (PREC - 1)};
            if (ch == 3) {
                for (int x = 0; x < cnt; x++) {
                    acc[0] += p[3 * x] * k[x];
                    acc[1] += p[3 * x + 1] * k[x];
                    acc[2] += p[3 * x + 2] * k[x];
                }
            } else {
                for (int x = 0; x < cnt; x++)
                    for (int j = 0; j < ch; j++) acc[j] += p[ch * x + j] * k[x];
            }
            for (int j = 0; j < ch; j++) d[(size_t)i * ch + j] = clip8(acc[j]);
        }
    }
}

/* Output rows of c (taps index rows of src relative to row0). Integer sums: any order is exact. */
/* The vertical pass's inner loop: gcc's -O2 cost model leaves it scalar; ask for -O3 here. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("O3")))
#endif
static void acc_row(int *restrict acc, const uint8_t *restrict s, int32_t kt, int n) {
    for (int x = 0; x < n; x++) acc[x] += s[x] * kt;
}

static int vert_u8(const uint8_t *src, size_t sstride, int row0, int rowlen, const coeffs *c,
                   uint8_t *dst, size_t dstride) {
    int *acc = malloc(sizeof(int) * (size_t)(rowlen > 0 ? rowlen : 1));
    if (!acc) return -1;
    for (int i = 0; i < c->n; i++) {
        const int32_t *k = c->ki + (size_t)i * c->ksize;
        for (int x = 0; x < rowlen; x++) acc[x] = 1 << (PREC - 1);
        for (int t = 0; t < c->cnt[i]; t++)
            acc_row(acc, src + (size_t)(c->lo[i] + t - row0) * sstride, k[t], rowlen);
        uint8_t *d = dst + (size_t)i * dstride;
        for (int x = 0; x < rowlen; x++) d[x] = clip8(acc[x]);
    }
    free(acc);
    return 0;
}

/* ---- mode "I" passes: double sums in Pillow's tap order, rounded half away from zero. */

static void horiz_i16(const uint8_t *src, size_t sstride, int rows, const coeffs *c, int32_t *dst) {
    for (int y = 0; y < rows; y++) {
        const uint16_t *s = (const uint16_t *)(const void *)(src + (size_t)y * sstride);
        for (int i = 0; i < c->n; i++) {
            const double *k = c->k + (size_t)i * c->ksize;
            double ss = 0.0;
            for (int x = 0; x < c->cnt[i]; x++) ss += s[c->lo[i] + x] * k[x];
            dst[(size_t)y * c->n + i] = round_up(ss);
        }
    }
}

static int vert_i32(const int32_t *src, int row0, int rowlen, const coeffs *c, int32_t *dst) {
    double *acc = malloc(sizeof(double) * (size_t)(rowlen > 0 ? rowlen : 1));
    if (!acc) return -1;
    for (int i = 0; i < c->n; i++) {
        const double *k = c->k + (size_t)i * c->ksize;
        for (int x = 0; x < rowlen; x++) acc[x] = 0.0;
        for (int t = 0; t < c->cnt[i]; t++) {
            const int32_t *s = src + (size_t)(c->lo[i] + t - row0) * rowlen;
            for (int x = 0; x < rowlen; x++) acc[x] += s[x] * k[t];
        }
        for (int x = 0; x < rowlen; x++) dst[(size_t)i * rowlen + x] = round_up(acc[x]);
    }
    free(acc);
    return 0;
}

/* ---- the bicubic resample of one window (ImagingResampleInner) */

static int resample(const image_view *v, const uint8_t *p, size_t stride, const float box[4], int out_w,
                    int out_h, int wx, int wy, int ww, int wh, void *dst, clip_error *err) {
    int ch = v->ch, i16 = v->mode == CLIP_MODE_I16;
    int need_h = out_w != v->w || box[0] != 0 || box[2] != out_w;
    int need_v = out_h != v->h || box[1] != 0 || box[3] != out_h;
    coeffs cv = {0}, chz = {0};
    void *tmp = NULL;
    int rc = CLIP_ERR_NOMEM;
    if (coeffs_make(v->h, box[1], box[3], out_h, wy, wh, &cv)) goto done;
    int r0 = cv.lo[0], r1 = cv.lo[wh - 1] + cv.cnt[wh - 1];   /* source rows the window needs */
    if (!need_v) { r0 = wy; r1 = wy + wh; }
    if (r1 < r0) r1 = r0;
    int rows = r1 - r0;
    size_t rowlen = (size_t)ww * ch;
    /* horizontal pass (or the identity columns) into tmp: rows x ww */
    if (i16) {
        tmp = malloc(sizeof(int32_t) * (rowlen * (size_t)rows + 1));
        if (!tmp) goto done;
        if (need_h) {
            if (coeffs_make(v->w, box[0], box[2], out_w, wx, ww, &chz)) goto done;
            horiz_i16(p + (size_t)r0 * stride, stride, rows, &chz, tmp);
        } else {
            for (int y = 0; y < rows; y++)
                for (int x = 0; x < ww; x++)
                    ((int32_t *)tmp)[(size_t)y * ww + x] =
                        ((const uint16_t *)(const void *)(p + (size_t)(r0 + y) * stride))[wx + x];
        }
        if (need_v) {
            if (vert_i32(tmp, r0, (int)rowlen, &cv, dst)) goto done;
        } else {
            memcpy(dst, tmp, sizeof(int32_t) * rowlen * (size_t)wh);
        }
    } else {
        const uint8_t *hp;
        size_t hstride;
        if (need_h) {
            tmp = malloc(rowlen * (size_t)rows + 1);
            if (!tmp) goto done;
            if (coeffs_make(v->w, box[0], box[2], out_w, wx, ww, &chz)) goto done;
            horiz_u8(p + (size_t)r0 * stride, stride, rows, ch, &chz, tmp, rowlen);
            hp = tmp; hstride = rowlen;
        } else {
            hp = p + (size_t)r0 * stride + (size_t)wx * ch; hstride = stride;
        }
        if (need_v) {
            if (vert_u8(hp, hstride, r0, (int)rowlen, &cv, dst, rowlen)) goto done;
        } else {
            for (int y = 0; y < wh; y++) memcpy((uint8_t *)dst + (size_t)y * rowlen, hp + (size_t)y * hstride, rowlen);
        }
    }
    rc = 0;
done:
    coeffs_free(&cv); coeffs_free(&chz); free(tmp);
    if (rc) clip_fail(err, rc, "image resize: out of memory");
    return rc;
}

/* ---- NEAREST for modes 1 and P (ImagingScaleAffine, positions accumulated as Pillow does) */

static int nearest(const image_view *v, const float box[4], int out_w, int out_h, int wx, int wy, int ww,
                   int wh, uint8_t *dst, clip_error *err) {
    int *xt = malloc(sizeof(int) * (size_t)(ww > 0 ? ww : 1));
    if (!xt) return clip_fail(err, CLIP_ERR_NOMEM, "image resize: out of memory");
    double a0 = (double)(box[2] - box[0]) / out_w, a4 = (double)(box[3] - box[1]) / out_h;
    double xo = (double)box[0] + a0 * 0.5, yo = (double)box[1] + a4 * 0.5;
    for (int x = 0; x < wx + ww; x++) {
        int xin = xo < 0.0 ? -1 : (int)xo;
        if (x >= wx) xt[x - wx] = xin < v->w ? xin : -1;
        xo += a0;
    }
    for (int y = 0; y < wy + wh; y++) {
        int yin = yo < 0.0 ? -1 : (int)yo;
        if (y >= wy) {
            uint8_t *d = dst + (size_t)(y - wy) * ww;
            const uint8_t *s = (yin >= 0 && yin < v->h) ? v->p + (size_t)yin * v->stride : NULL;
            for (int x = 0; x < ww; x++) d[x] = (s && xt[x] >= 0) ? s[xt[x]] : 0;
        }
        yo += a4;
    }
    free(xt);
    return 0;
}

/* ---- premultiplied alpha (Pillow's RGBA <-> RGBa, LA <-> La converters) */

static inline uint8_t muldiv255(unsigned a, unsigned b) {
    unsigned t = a * b + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

static void premultiply(const uint8_t *src, size_t n, int ch, uint8_t *dst) {
    for (size_t i = 0; i < n; i++, src += ch, dst += ch) {
        unsigned a = src[ch - 1];
        for (int j = 0; j < ch - 1; j++) dst[j] = muldiv255(src[j], a);
        dst[ch - 1] = (uint8_t)a;
    }
}

static void unpremultiply(uint8_t *p, size_t n, int ch) {
    for (size_t i = 0; i < n; i++, p += ch) {
        unsigned a = p[ch - 1];
        if (a == 255 || a == 0) continue;
        for (int j = 0; j < ch - 1; j++) {
            unsigned v = 255u * p[j] / a;
            p[j] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
}

/* ---- Image.resize, as its Python and C layers decide */

static void copy_window(const image_view *v, const uint8_t *p, size_t stride, int x0, int y0, int ww,
                        int wh, void *dst) {
    if (v->mode == CLIP_MODE_I16) {
        for (int y = 0; y < wh; y++) {
            const uint16_t *s = (const uint16_t *)(const void *)(p + (size_t)(y0 + y) * stride) + x0;
            for (int x = 0; x < ww; x++) ((int32_t *)dst)[(size_t)y * ww + x] = s[x];
        }
    } else {
        size_t rl = (size_t)ww * v->ch;
        for (int y = 0; y < wh; y++)
            memcpy((uint8_t *)dst + (size_t)y * rl, p + (size_t)(y0 + y) * stride + (size_t)x0 * v->ch, rl);
    }
}

int image_resize_window(const image_view *v, const float *boxp, int out_w, int out_h, int wx, int wy,
                        int ww, int wh, void *dst, clip_error *err) {
    float box[4] = {0, 0, (float)v->w, (float)v->h};
    if (boxp) memcpy(box, boxp, sizeof box);
    if (out_w < 1 || out_h < 1 || ww < 1 || wh < 1 || wx < 0 || wy < 0 || wx + ww > out_w || wy + wh > out_h)
        return clip_fail(err, CLIP_ERR_INVALID, "image resize: bad output size or window");
    if (!(box[0] >= 0 && box[1] >= 0 && box[2] <= v->w && box[3] <= v->h && box[2] - box[0] >= 0 &&
          box[3] - box[1] >= 0))
        return clip_fail(err, CLIP_ERR_INVALID, "image resize: box outside the image or empty");
    /* Python layer: same size and whole box -> a copy */
    if (out_w == v->w && out_h == v->h && box[0] == 0 && box[1] == 0 && box[2] == v->w && box[3] == v->h) {
        copy_window(v, v->p, v->stride, wx, wy, ww, wh, dst);
        return 0;
    }
    int alpha = v->mode == CLIP_MODE_LA || v->mode == CLIP_MODE_RGBA;
    const uint8_t *p = v->p;
    size_t stride = v->stride;
    uint8_t *pre = NULL;
    if (alpha) {   /* premultiply the whole view (Python layer: convert to "La"/"RGBa") */
        size_t rl = (size_t)v->w * v->ch;
        pre = malloc(rl * (size_t)v->h + 1);
        if (!pre) return clip_fail(err, CLIP_ERR_NOMEM, "image resize: out of memory");
        for (int y = 0; y < v->h; y++) premultiply(v->p + (size_t)y * v->stride, (size_t)v->w, v->ch, pre + (size_t)y * rl);
        p = pre; stride = rl;
    }
    int rc = 0;
    /* C layer: an integer box of the output's size is a crop */
    if (box[0] - (int)box[0] == 0 && box[2] - box[0] == out_w && box[1] - (int)box[1] == 0 &&
        box[3] - box[1] == out_h) {
        copy_window(v, p, stride, (int)box[0] + wx, (int)box[1] + wy, ww, wh, dst);
    } else if (v->mode == CLIP_MODE_1 || v->mode == CLIP_MODE_P) {
        rc = nearest(v, box, out_w, out_h, wx, wy, ww, wh, dst, err);
    } else {
        rc = resample(v, p, stride, box, out_w, out_h, wx, wy, ww, wh, dst, err);
    }
    if (alpha && !rc) unpremultiply(dst, (size_t)ww * wh, v->ch);
    free(pre);
    return rc;
}

int clip_image_resize(const clip_image *img, const float *box, int out_w, int out_h, clip_image *out,
                      clip_error *err) {
    memset(out, 0, sizeof *out);
    if (!img || !img->data || out_w < 1 || out_h < 1 || (int64_t)out_w * out_h > ((int64_t)1 << 31))
        return clip_fail(err, CLIP_ERR_INVALID, "image resize: bad image or size %dx%d", out_w, out_h);
    image_view v;
    image_view_of(img, 0, 0, img->w, img->h, &v);
    size_t n = (size_t)out_w * out_h * img->channels;
    int i16 = img->mode == CLIP_MODE_I16;
    void *win = malloc(n * (i16 ? 4 : 1));
    if (!win) return clip_fail(err, CLIP_ERR_NOMEM, "image resize: out of memory");
    int rc = image_resize_window(&v, box, out_w, out_h, 0, 0, out_w, out_h, win, err);
    if (rc) { free(win); return rc; }
    if (i16) {   /* back to 16 bits: values outside 0..65535 (cubic overshoot) are clamped */
        const int32_t *s = win;
        uint16_t *d = malloc(n * 2);
        if (!d) { free(win); return clip_fail(err, CLIP_ERR_NOMEM, "image resize: out of memory"); }
        for (size_t i = 0; i < n; i++) d[i] = (uint16_t)(s[i] < 0 ? 0 : s[i] > 65535 ? 65535 : s[i]);
        free(win);
        win = d;
    }
    *out = *img;
    out->w = out->src_w = out_w; out->h = out->src_h = out_h; out->data = win;
    return 0;
}
