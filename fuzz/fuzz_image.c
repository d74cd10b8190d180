/* libFuzzer target: every decoder (format sniffed from the bytes), then preprocessing, the
 * composite path and a boxed resize of whatever decoded. Small pixel limit keeps runs fast. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "clip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    clip_image_opts o;
    memset(&o, 0, sizeof o);
    o.max_pixels = 1 << 20;
    o.composite = size & 1;
    o.bg[0] = 200;
    o.jpeg_min_side = (size & 2) ? 8 : 0;
    clip_image img;
    clip_error e;
    if (clip_image_load_memory(data, size, "fuzz", &o, &img, &e)) return 0;
    uint8_t crop[16 * 16 * 3];
    float chw[3 * 16 * 16];
    clip_image_preprocess(&img, 16, crop, chw, &e);
    if (img.w >= 2 && img.h >= 2) {
        float box[4] = {0.5f, 0.25f, (float)img.w - 0.5f, (float)img.h};
        clip_image out;
        if (!clip_image_resize(&img, box, 7, 5, &out, &e)) clip_image_free(&out);
        clip_image_resized_crop(&img, 1, 1, img.w - 1, img.h - 1, 9, crop, NULL, &e);
    }
    clip_image_free(&img);
    return 0;
}
