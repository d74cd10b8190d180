/* AVX-512 helpers shared by the kernels that are compiled for it per function (target
 * attributes): callers check gemm_avx512_available() before calling code that uses them. */
#ifndef CLIP_CORE_SIMD_AVX512_H
#define CLIP_CORE_SIMD_AVX512_H
#include <immintrin.h>

#define SIMD_TGT __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma,f16c")))
#define SIMD_INLINE static inline __attribute__((always_inline))

/* The first n of 16 lanes (n <= 0: none), for the tail of a row. */
SIMD_INLINE __mmask16 simd_mask16(int n) { return n >= 16 ? 0xFFFF : (__mmask16)((1u << (n > 0 ? n : 0)) - 1); }

/* e^x for 16 floats: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-7 polynomial (Cephes expf
 * coefficients), then scaled by 2^n. About 1 ulp; inputs clamped to the finite range. */
SIMD_INLINE SIMD_TGT __m512 exp512(__m512 x) {
    x = _mm512_min_ps(x, _mm512_set1_ps(88.3762626647949f));
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.3365447504019f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

#endif
