/* libFuzzer target: the .npy header parser. */
#include <stdint.h>
#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    npy_array a;
    clip_error e;
    if (npy_parse((const char *)data, size, "fuzz", &a, &e) == 0) {
        npy_to_f32(&a, &e);
        npy_to_i32(&a, &e);
        npy_free(&a);
    }
    return 0;
}
