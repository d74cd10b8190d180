/* AVX-512 row loops for core/ops.c (see ops_avx512.h). LayerNorm and the attention softmax are
 * the largest costs of a forward pass after the matrix products (a 77-token text at batch 16:
 * LayerNorm 2%, softmax 3% of the time in their portable form). */
#include "core/ops_avx512.h"
#include "core/simd_avx512.h"
#include <math.h>

SIMD_TGT void ln_row_avx512(float *o, float *mean, float *rstd, const float *x, const float *w, const float *b, int C,
                            float eps) {
    /* lane j of acc is the portable loop's partial sum pm[j]; the tail and the combination run
     * in its order, so the result is the same double */
    __m512d acc = _mm512_setzero_pd();
    int c = 0;
    for (; c + 8 <= C; c += 8) acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_loadu_ps(x + c)));
    double part[8], m = 0, v = 0;
    for (; c < C; c++) m += x[c];
    _mm512_storeu_pd(part, acc);
    for (int j = 0; j < 8; j++) m += part[j];
    m /= C;
    __m512d mv = _mm512_set1_pd(m);
    acc = _mm512_setzero_pd();
    for (c = 0; c + 8 <= C; c += 8) {
        __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + c)), mv);
        acc = _mm512_add_pd(acc, _mm512_mul_pd(d, d));   /* no FMA: the portable loop rounds the product */
    }
    for (; c < C; c++) { double d = x[c] - m; v += d * d; }
    _mm512_storeu_pd(part, acc);
    for (int j = 0; j < 8; j++) v += part[j];
    v /= C;
    float s = (float)(1.0 / sqrt(v + eps)), mf = (float)m;
    __m512 sv = _mm512_set1_ps(s), mfv = _mm512_set1_ps(mf);
    for (c = 0; c < C; c += 16) {
        __mmask16 k = simd_mask16(C - c);
        __m512 y = _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + c), mfv), sv),
                                 _mm512_maskz_loadu_ps(k, w + c));
        _mm512_mask_storeu_ps(o + c, k, _mm512_add_ps(y, _mm512_maskz_loadu_ps(k, b + c)));
    }
    if (mean) *mean = mf;
    if (rstd) *rstd = s;
}

SIMD_TGT void softmax_row_avx512(float *row, int n) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int u = 0; u < n; u += 16)
        mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), simd_mask16(n - u), row + u));
    __m512 maxv = _mm512_set1_ps(_mm512_reduce_max_ps(mx)), sum = _mm512_setzero_ps();
    for (int u = 0; u < n; u += 16) {
        __mmask16 k = simd_mask16(n - u);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row + u), maxv));
        e = _mm512_maskz_mov_ps(k, e);
        _mm512_mask_storeu_ps(row + u, k, e);
        sum = _mm512_add_ps(sum, e);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (int u = 0; u < n; u += 16) {
        __mmask16 k = simd_mask16(n - u);
        _mm512_mask_storeu_ps(row + u, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, row + u), inv));
    }
}
