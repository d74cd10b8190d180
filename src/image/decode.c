/* Decoding JPEG (libjpeg-turbo), PNG (libpng) and WebP (libwebp) into the mode Pillow 9.4
 * opens each file in, so that the resize that follows can act per mode as Pillow does.
 *
 * The format comes from the bytes. Dimensions are checked against max_pixels right after the
 * header, before any pixel memory is allocated. libjpeg and libpng report errors through
 * callbacks that longjmp back here; nothing exits or prints. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <webp/decode.h>
#include "core/error.h"
#include "image/image.h"
#include "io/file.h"

#define MAX_JPEG_SCANS 1000   /* progressive files with endless scans are a CPU bomb */

typedef struct {
    int has;                  /* a tRNS chunk was present */
    uint16_t gray, r, g, b;   /* gray / truecolour key, raw values from the chunk */
    uint8_t alpha[256];       /* palette alpha (255 beyond the chunk's entries) */
} png_trns;

static const char *fmt_name(const uint8_t *b, size_t n) {
    if (n >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6))) return "GIF";
    if (n >= 2 && b[0] == 'B' && b[1] == 'M') return "BMP";
    if (n >= 4 && (!memcmp(b, "II*\0", 4) || !memcmp(b, "MM\0*", 4))) return "TIFF";
    if (n >= 12 && !memcmp(b + 4, "ftyp", 4)) return "HEIF/AVIF";
    if (n >= 4 && !memcmp(b, "\0\0\1\0", 4)) return "ICO";
    return NULL;
}

static int check_dims(const char *name, int64_t w, int64_t h, const clip_image_opts *o, clip_error *err) {
    int64_t maxp = o && o->max_pixels > 0 ? o->max_pixels : CLIP_IMAGE_MAX_PIXELS_DEFAULT;
    if (w < 1 || h < 1) return clip_fail(err, CLIP_ERR_FORMAT, "%s: image has no pixels (%lldx%lld)", name, (long long)w, (long long)h);
    if (w > (1 << 24) || h > (1 << 24) || w * h > maxp)
        return clip_fail(err, CLIP_ERR_INVALID, "%s: image too large (%lldx%lld pixels, limit %lld pixels)",
                         name, (long long)w, (long long)h, (long long)maxp);
    return 0;
}

static int alloc_pixels(clip_image *img, const char *name, int w, int h, int mode, clip_error *err) {
    img->w = w; img->h = h; img->mode = mode;
    img->channels = image_mode_channels(mode);
    size_t n = (size_t)w * h * img->channels * image_sample_bytes(mode);
    img->data = malloc(n ? n : 1);
    if (!img->data) return clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory for %dx%d pixels", name, w, h);
    return 0;
}

/* ---------------------------------------------------------------- JPEG */

typedef struct {
    struct jpeg_error_mgr pub;
    struct jpeg_progress_mgr progress;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX + 64];
} jpeg_ctx;

static void jpeg_on_error(j_common_ptr c) {
    jpeg_ctx *x = (jpeg_ctx *)c->err;
    (*c->err->format_message)(c, x->msg);
    longjmp(x->jb, 1);
}

/* Warnings are ignored (Pillow ignores them too), except running out of data: Pillow calls
 * a truncated JPEG an error. */
static void jpeg_on_message(j_common_ptr c, int level) {
    jpeg_ctx *x = (jpeg_ctx *)c->err;
    if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) {
        snprintf(x->msg, sizeof x->msg, "truncated file (premature end of JPEG data)");
        longjmp(x->jb, 1);
    }
}

static void jpeg_on_progress(j_common_ptr c) {
    if (c->is_decompressor && ((j_decompress_ptr)c)->input_scan_number > MAX_JPEG_SCANS) {
        jpeg_ctx *x = (jpeg_ctx *)c->err;
        snprintf(x->msg, sizeof x->msg, "more than %d progressive scans", MAX_JPEG_SCANS);
        longjmp(x->jb, 1);
    }
}

static int decode_jpeg(const uint8_t *buf, size_t len, const char *name, const clip_image_opts *o,
                       clip_image *img, clip_error *err) {
    struct jpeg_decompress_struct cinfo;
    jpeg_ctx ctx;
    uint8_t *volatile data = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&ctx.pub);
    ctx.pub.error_exit = jpeg_on_error;
    ctx.pub.emit_message = jpeg_on_message;
    ctx.msg[0] = 0;
    if (setjmp(ctx.jb)) {
        jpeg_destroy_decompress(&cinfo);
        free(data);
        memset(img, 0, sizeof *img);
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: bad JPEG: %s", name, ctx.msg);
    }
    jpeg_create_decompress(&cinfo);
    ctx.progress.progress_monitor = jpeg_on_progress;
    cinfo.progress = &ctx.progress;
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    int rc = check_dims(name, cinfo.image_width, cinfo.image_height, o, err);
    if (rc) { jpeg_destroy_decompress(&cinfo); return rc; }
    int mode;
    /* Pillow: 1 component -> L, 3 -> RGB, 4 -> CMYK (libjpeg turns YCCK into CMYK) */
    switch (cinfo.num_components) {
    case 1: cinfo.out_color_space = JCS_GRAYSCALE; mode = CLIP_MODE_L; break;
    case 3: cinfo.out_color_space = JCS_RGB; mode = CLIP_MODE_RGB; break;
    case 4: cinfo.out_color_space = JCS_CMYK; mode = CLIP_MODE_CMYK; break;
    default:
        jpeg_destroy_decompress(&cinfo);
        return clip_fail(err, CLIP_ERR_UNSUPPORTED, "%s: JPEG with %d colour components", name, cinfo.num_components);
    }
    /* Pillow's settings are libjpeg's defaults: slow integer IDCT, fancy upsampling. */
    if (o && o->jpeg_min_side > 0) {   /* fast path: DCT-domain downscale by k/8 */
        for (int k = 1; k <= 8; k++) {
            cinfo.scale_num = (unsigned)k; cinfo.scale_denom = 8;
            jpeg_calc_output_dimensions(&cinfo);
            unsigned s = cinfo.output_width < cinfo.output_height ? cinfo.output_width : cinfo.output_height;
            if ((int)s >= o->jpeg_min_side || k == 8) break;
        }
    }
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    if ((rc = alloc_pixels(img, name, w, h, mode, err))) { jpeg_destroy_decompress(&cinfo); return rc; }
    img->src_w = (int)cinfo.image_width; img->src_h = (int)cinfo.image_height;
    data = img->data;
    size_t stride = (size_t)w * img->channels;
    if ((size_t)cinfo.output_components != (size_t)img->channels) {
        snprintf(ctx.msg, sizeof ctx.msg, "unexpected component count");
        longjmp(ctx.jb, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = data + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_destroy_decompress(&cinfo);   /* skips finish: trailing bytes do not matter */
    if (mode == CLIP_MODE_CMYK) {      /* Pillow reads CMYK JPEGs as Adobe's inverted "CMYK;I" */
        size_t n = (size_t)w * h * 4;
        for (size_t i = 0; i < n; i++) data[i] = (uint8_t)(255 - data[i]);
    }
    img->format = CLIP_FORMAT_JPEG;
    return 0;
}

/* ---------------------------------------------------------------- PNG */

typedef struct {
    const uint8_t *buf;
    size_t len, pos;
    char msg[256];
} png_ctx;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_ctx *x = png_get_error_ptr(png);
    snprintf(x->msg, sizeof x->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void png_on_read(png_structp png, png_bytep out, png_size_t n) {
    png_ctx *x = png_get_io_ptr(png);
    if (n > x->len - x->pos) png_error(png, "truncated file");
    memcpy(out, x->buf + x->pos, n);
    x->pos += n;
}

static int decode_png(const uint8_t *buf, size_t len, const char *name, const clip_image_opts *o,
                      clip_image *img, png_trns *trns, clip_error *err) {
    png_ctx ctx = {buf, len, 0, ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
    if (!png) return clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", name);
    png_infop info = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    uint8_t *volatile data = NULL;
    if (!info) { png_destroy_read_struct(&png, NULL, NULL); return clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", name); }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        free(data);
        memset(img, 0, sizeof *img);
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: bad PNG: %s", name, ctx.msg);
    }
    png_set_read_fn(png, &ctx, png_on_read);
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, ctype, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    int rc = check_dims(name, w, h, o, err);
    if (rc) { png_destroy_read_struct(&png, &info, NULL); return rc; }
    memset(trns, 0, sizeof *trns);
    memset(trns->alpha, 255, sizeof trns->alpha);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) {
        png_bytep ta = NULL; int nt = 0; png_color_16p tc = NULL;
        png_get_tRNS(png, info, &ta, &nt, &tc);
        trns->has = 1;
        if (ctype == PNG_COLOR_TYPE_PALETTE && ta)
            for (int i = 0; i < nt && i < 256; i++) trns->alpha[i] = ta[i];
        if (tc) { trns->gray = tc->gray; trns->r = tc->red; trns->g = tc->green; trns->b = tc->blue; }
    }
    /* Pillow's modes (PngImagePlugin._MODES): 16-bit samples keep their high byte, except
     * 16-bit gray, which becomes mode "I"; 16-bit gray+alpha becomes RGBA. */
    int mode;
    switch (ctype) {
    case PNG_COLOR_TYPE_GRAY:
        if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);   /* scaled to 0..255, as Pillow */
        mode = depth == 1 ? CLIP_MODE_1 : depth == 16 ? CLIP_MODE_I16 : CLIP_MODE_L;
        break;
    case PNG_COLOR_TYPE_PALETTE:
        if (depth < 8) png_set_packing(png);
        mode = CLIP_MODE_P;
        break;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        if (depth == 16) { png_set_strip_16(png); png_set_gray_to_rgb(png); mode = CLIP_MODE_RGBA; }
        else mode = CLIP_MODE_LA;
        break;
    case PNG_COLOR_TYPE_RGB:
        if (depth == 16) png_set_strip_16(png);
        mode = CLIP_MODE_RGB;
        break;
    case PNG_COLOR_TYPE_RGB_ALPHA:
        if (depth == 16) png_set_strip_16(png);
        mode = CLIP_MODE_RGBA;
        break;
    default:
        png_error(png, "unknown colour type");
        return CLIP_ERR_FORMAT;   /* not reached */
    }
    if (mode == CLIP_MODE_P) {
        png_colorp pal = NULL; int np = 0;
        if (!png_get_PLTE(png, info, &pal, &np)) png_error(png, "palette image without PLTE chunk");
        memset(img->palette, 0, sizeof img->palette);
        for (int i = 0; i < np && i < 256; i++) {
            img->palette[3 * i] = pal[i].red; img->palette[3 * i + 1] = pal[i].green; img->palette[3 * i + 2] = pal[i].blue;
        }
    }
    if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
    png_read_update_info(png, info);
    img->w = (int)w; img->h = (int)h; img->mode = mode;
    img->channels = image_mode_channels(mode);
    size_t stride = (size_t)w * img->channels * image_sample_bytes(mode);
    if (png_get_rowbytes(png, info) != stride) png_error(png, "unexpected row size");
    data = malloc(stride * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (!data || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = data + y * stride;
    png_read_image(png, rows);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    if (mode == CLIP_MODE_I16) {   /* PNG samples are big-endian; store native uint16 */
        size_t n = (size_t)w * h;
        for (size_t i = 0; i < n; i++) {
            uint16_t v = (uint16_t)(data[2 * i] << 8 | data[2 * i + 1]);
            memcpy(data + 2 * i, &v, 2);
        }
    }
    img->data = data;
    img->format = CLIP_FORMAT_PNG;
    return 0;
}

/* ---------------------------------------------------------------- WebP */

static int decode_webp(const uint8_t *buf, size_t len, const char *name, const clip_image_opts *o,
                       clip_image *img, clip_error *err) {
    WebPBitstreamFeatures f;
    if (WebPGetFeatures(buf, len, &f) != VP8_STATUS_OK)
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: bad WebP header", name);
    if (f.has_animation)
        return clip_fail(err, CLIP_ERR_UNSUPPORTED, "%s: animated WebP is not supported", name);
    int rc = check_dims(name, f.width, f.height, o, err);
    if (rc) return rc;
    /* Pillow opens WebP as RGBA when the bitstream has alpha, else RGB; libwebp's default
     * (fancy) upsampling for lossy, as Pillow's decoder uses. */
    if ((rc = alloc_pixels(img, name, f.width, f.height, f.has_alpha ? CLIP_MODE_RGBA : CLIP_MODE_RGB, err))) return rc;
    size_t stride = (size_t)f.width * img->channels, size = stride * f.height;
    uint8_t *ok = f.has_alpha ? WebPDecodeRGBAInto(buf, len, img->data, size, (int)stride)
                              : WebPDecodeRGBInto(buf, len, img->data, size, (int)stride);
    if (!ok) {
        clip_image_free(img);
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: bad or truncated WebP data", name);
    }
    img->format = CLIP_FORMAT_WEBP;
    return 0;
}

/* ---------------------------------------------------------------- compositing */

void image_composite_rgba(const uint8_t *s, size_t n, const uint8_t bg[3], uint8_t *out) {
    /* Pillow's AlphaComposite.c with an opaque destination: 7 extra bits, divisions by 255
     * done as ((x >> 8) + x) >> 8 with rounding. */
    for (size_t i = 0; i < n; i++, s += 4, out += 3) {
        uint32_t a = s[3];
        if (a == 0) { out[0] = bg[0]; out[1] = bg[1]; out[2] = bg[2]; continue; }
        uint32_t outa255 = a * 255 + 255 * (255 - a);
        uint32_t c1 = a * 255 * 255 * 128 / outa255, c2 = 255 * 128 - c1;
        for (int j = 0; j < 3; j++) {
            uint32_t t = s[j] * c1 + bg[j] * c2 + (0x80 << 7);
            out[j] = (uint8_t)((((t >> 8) + t) >> 8) >> 7);
        }
    }
}

/* Pillow's im.convert("RGBA") (tRNS honoured, as Pillow's transparency conversion) composited
 * onto bg; the image becomes mode RGB. */
static int composite(clip_image *img, const png_trns *t, const uint8_t bg[3], const char *name, clip_error *err) {
    size_t n = (size_t)img->w * img->h;
    uint8_t *rgba = malloc(n * 4), *rgb = malloc(n * 3);
    if (!rgba || !rgb) { free(rgba); free(rgb); return clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", name); }
    const uint8_t *d = img->data;
    for (size_t i = 0; i < n; i++) {
        uint8_t *o = rgba + 4 * i;
        o[3] = 255;
        switch (img->mode) {
        case CLIP_MODE_1: case CLIP_MODE_L:
            o[0] = o[1] = o[2] = d[i];
            if (t->has && d[i] == t->gray) o[3] = 0;
            break;
        case CLIP_MODE_P:
            memcpy(o, img->palette + 3 * d[i], 3);
            o[3] = t->alpha[d[i]];
            break;
        case CLIP_MODE_LA: o[0] = o[1] = o[2] = d[2 * i]; o[3] = d[2 * i + 1]; break;
        case CLIP_MODE_I16: {
            uint16_t v; memcpy(&v, d + 2 * i, 2);
            o[0] = o[1] = o[2] = (uint8_t)(v > 255 ? 255 : v);
            if (t->has && v == t->gray) o[3] = 0;
            break;
        }
        case CLIP_MODE_RGB:
            memcpy(o, d + 3 * i, 3);
            if (t->has && d[3 * i] == t->r && d[3 * i + 1] == t->g && d[3 * i + 2] == t->b) o[3] = 0;
            break;
        case CLIP_MODE_RGBA: memcpy(o, d + 4 * i, 4); break;
        case CLIP_MODE_CMYK: image_pixels_to_rgb(CLIP_MODE_CMYK, NULL, d + 4 * i, 1, o); break;
        }
    }
    image_composite_rgba(rgba, n, bg, rgb);
    free(rgba);
    free(img->data);
    img->data = rgb;
    img->mode = CLIP_MODE_RGB;
    img->channels = 3;
    return 0;
}

/* ---------------------------------------------------------------- entry points */

int clip_image_load_memory(const void *bufv, size_t len, const char *name, const clip_image_opts *o,
                           clip_image *img, clip_error *err) {
    const uint8_t *b = bufv;
    if (!name) name = "image";
    memset(img, 0, sizeof *img);
    if (!b || len == 0) return clip_fail(err, CLIP_ERR_FORMAT, "%s: empty file", name);
    png_trns trns;
    memset(&trns, 0, sizeof trns);
    int rc;
    if (len >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
        rc = decode_jpeg(b, len, name, o, img, err);
    } else if (len >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) {
        rc = decode_png(b, len, name, o, img, &trns, err);
    } else if (len >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4)) {
        rc = decode_webp(b, len, name, o, img, err);
    } else {
        const char *f = fmt_name(b, len);
        if (f) return clip_fail(err, CLIP_ERR_UNSUPPORTED, "%s: %s images are not supported (JPEG, PNG, WebP are)", name, f);
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: not a JPEG, PNG or WebP image", name);
    }
    if (rc) { memset(img, 0, sizeof *img); return rc; }
    if (o && o->composite && (rc = composite(img, &trns, o->bg, name, err))) { clip_image_free(img); return rc; }
    if (!img->src_w) { img->src_w = img->w; img->src_h = img->h; }
    return 0;
}

int clip_image_load_file(const char *path, const clip_image_opts *o, clip_image *img, clip_error *err) {
    memset(img, 0, sizeof *img);
    size_t maxb = o && o->max_file_bytes ? o->max_file_bytes : CLIP_IMAGE_MAX_FILE_BYTES_DEFAULT;
    char *buf;
    size_t len;
    int rc = file_read_all(path, maxb, &buf, &len, err);
    if (rc) return rc;
    rc = clip_image_load_memory(buf, len, path, o, img, err);
    free(buf);
    return rc;
}

void clip_image_free(clip_image *img) {
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

int clip_image_from_pixels(clip_image *img, int w, int h, int mode, const void *data, clip_error *err) {
    memset(img, 0, sizeof *img);
    if (w < 1 || h < 1 || mode < CLIP_MODE_1 || mode > CLIP_MODE_CMYK || (int64_t)w * h > ((int64_t)1 << 31))
        return clip_fail(err, CLIP_ERR_INVALID, "image: bad size %dx%d or mode %d", w, h, mode);
    int rc = alloc_pixels(img, "image", w, h, mode, err);
    if (rc) return rc;
    memcpy(img->data, data, (size_t)w * h * img->channels * image_sample_bytes(mode));
    img->src_w = w; img->src_h = h;
    return 0;
}
