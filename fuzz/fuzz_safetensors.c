/* libFuzzer target: the safetensors header parser and validator, then reading every tensor
 * it accepted (which must stay inside the buffer), and a packed model file's own header checks
 * (model/native.c: metadata, config, sizes; seed corpus/fuzz_safetensors/packed_header). */
#include <stdint.h>
#include <stdlib.h>
#include "io/safetensors.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file f;
    clip_error e;
    if (st_parse(data, size, "fuzz", &f, &e) == 0) {
        for (int i = 0; i < f.n; i++) {
            const st_tensor *t = &f.tensors[i];
            if (t->numel > (1u << 20)) continue;
            float *dst = malloc(t->numel * sizeof(float) + 1);
            if (dst) { st_read_f32(t, dst, &e); free(dst); }
            (void)st_find(&f, t->name);
        }
        if (native_is_packed(&f)) (void)native_check(&f, data, "fuzz", &e);
        st_close(&f);
    }
    return 0;
}
