/* AVX-512 versions of the row loops of core/ops.c that are not matrix products (LayerNorm, the
 * attention softmax). core/ops.c calls them where the CPU has AVX-512 (gemm_avx512_available). */
#ifndef CLIP_CORE_OPS_AVX512_H
#define CLIP_CORE_OPS_AVX512_H

/* One LayerNorm row: o[C] = (x - mean) * rstd * w + b; bitwise what the portable loop of
 * layernorm_forward computes (the same eight partial sums in double, the same operation order). */
void ln_row_avx512(float *o, float *mean, float *rstd, const float *x, const float *w, const float *b, int C, float eps);
/* row[0..n) = softmax(row[0..n)) in place with exp512 (about 1 ulp from expf). */
void softmax_row_avx512(float *row, int n);
#endif
