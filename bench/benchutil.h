/* Helpers two or more benchmarks share. */
#ifndef CLIP_BENCH_BENCHUTIL_H
#define CLIP_BENCH_BENCHUTIL_H
#include "core/gemm_avx512.h"
#include "model/model.h"
#include <stdint.h>

/* Rounds every parameter to the nearest fp16 value, in place, as loading OpenAI's fp16
 * checkpoints gives: model_pack then holds the matrices as fp16 panels. Needs AVX-512 (F16C). */
static inline void bench_round_params_to_f16(clip_model *m) {
    uint16_t h[4096];
    for (size_t i = 0; i < m->table.total; i += 4096) {
        size_t n = m->table.total - i < 4096 ? m->table.total - i : 4096;
        gemm_avx512_narrow_f16(m->params + i, n, h);
        gemm_avx512_widen_f16(h, n, m->params + i);
    }
}
#endif
