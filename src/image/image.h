/* Internals shared by the image modules: views of pixels and Pillow's resampling. */
#ifndef CLIP_IMAGE_IMAGE_H
#define CLIP_IMAGE_IMAGE_H
#include <stddef.h>
#include <stdint.h>
#include "clip.h"

/* A read-only rectangle of a clip_image (row stride may exceed w * pixel size). */
typedef struct image_view {
    const uint8_t *p;
    size_t stride;           /* bytes between rows */
    int w, h, mode, ch;
    const uint8_t *palette;  /* CLIP_MODE_P */
} image_view;

int image_mode_channels(int mode);
size_t image_sample_bytes(int mode);     /* 2 for CLIP_MODE_I16, else 1 */
void image_view_of(const clip_image *img, int x, int y, int w, int h, image_view *v);

/* The window [wx, wx+ww) x [wy, wy+wh) of Pillow 9.4's view.resize((out_w, out_h), BICUBIC,
 * box) (box NULL: the whole view). dst is packed, ww * ch samples a row: uint8, or int32 for
 * CLIP_MODE_I16 (Pillow's mode "I" result, not clamped). */
int image_resize_window(const image_view *v, const float *box, int out_w, int out_h,
                        int wx, int wy, int ww, int wh, void *dst, clip_error *err);

/* Pillow's convert("RGB") of n pixels in mode (I16 samples as int32, as resize gives them). */
void image_pixels_to_rgb(int mode, const uint8_t *palette, const void *src, size_t n, uint8_t *rgb);

/* Pillow's alpha_composite of RGBA over an opaque bg, giving RGB: n pixels. */
void image_composite_rgba(const uint8_t *rgba, size_t n, const uint8_t bg[3], uint8_t *rgb);
#endif
