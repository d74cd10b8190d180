/* clip.c's AVX-512 fp32 GEMM, after the BLIS recipe:
 *   for jc (NC columns)  for pc (KC depth): pack op(B) block into NR-wide panels (or use the
 *                                           panels packed at load, in deeper KC_PACKED blocks)
 *     for ic (MC rows): pack op(A) block into MR-tall panels
 *       for jr (NR) for ir (MR): 14x32 micro-kernel, 28 zmm accumulators
 * The micro-kernel keeps one KCxNR B panel hot while it walks the A panels, so each B value is
 * loaded once per 14 rows and each A value is broadcast once per 32 columns. Threads each own a
 * rectangle of C (split along M for tall products, along N for the short ones inference makes),
 * so they share nothing and never wait on each other inside a product.
 * Only this file is compiled with AVX-512 enabled (per function, via target attributes);
 * callers check gemm_avx512_available() first. */
#include "core/scratch.h"
#include "core/gemm_avx512.h"
#include "core/matmul.h"
#include "core/simd_avx512.h"
#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TGT SIMD_TGT
#define INLINE static inline __attribute__((always_inline))

#define MR GEMM_MR
#define NR GEMM_NR
/* Blocking, tuned by bench/bench_gemm on the 2-vCPU AVX-512 VM (docs/performance.md). */
#ifndef KC          /* depth of a block: a KCxNR B panel is 32 KB, it stays in the 48 KB L1 */
#define KC 256      /* (-DKC=... to experiment; 128 and 192 were slower here) */
#endif
#ifndef KC_PACKED   /* depth of a block when B was packed at load: its panels already hold all of */
#define KC_PACKED 768 /* K in order, so a deeper block costs no packing and writes C fewer times. */
#endif              /* In-process A/B against 256: -3 to -9% per ViT-B/32 row (docs/performance.md) */
#ifndef PF_K
#define PF_K 16     /* B prefetch distance in k steps: 16 beat 0, 4 and 8 (batch 1: -12% image, -25% caption) */
#endif
#define MC (6 * MR)  /* rows per A block: MCxKC = 84 KB; 6 tiles beat 12 and 24 at 2048^3 */
#define NC 1024      /* columns per B block: KCxNC = 1 MB, inside the L2 */

static int min_i(int a, int b) { return a < b ? a : b; }

/* F16C (fp16 panels) is CPUID.1:ECX bit 29; clang's __builtin_cpu_supports does not know it. */
static int has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1);
}

int gemm_avx512_available(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("fma") && has_f16c();
    }
    return cached;
}

#ifndef ARCH_REQ_XCOMP_PERM
#define ARCH_REQ_XCOMP_PERM 0x1023
#endif
#define XFEATURE_XTILEDATA 18

int gemm_amx_tiles_permitted(void) {
    static int cached = -1;
    /* Linux hands out the 8 KB tile state only on request; it fails where the OS or the
     * hypervisor does not enable it (XCR0), which is the check we want */
    if (cached < 0) cached = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
    return cached;
}

/* ---------------------------------------------------------------- activations */

float gemm_act_scalar(float x, int act) {
    if (act == MATMUL_ACT_QUICKGELU) return x / (1.0f + expf(-1.702f * x));
    if (act == MATMUL_ACT_GELU) return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    return x;
}

/* ---------------------------------------------------------------- micro-kernel */

typedef struct {
    float alpha, beta; /* beta applies to this k block: the caller's beta for the first, 1 after */
    const float *bias; /* bias + column of this tile, only on the last k block; else NULL */
    int act;           /* only on the last k block */
} epilogue;

/* Writes one 16-wide row piece of C: c = act(alpha*v + beta*c + bias), lanes in m only. */
INLINE TGT void store16(float *c, __m512 v, __mmask16 m, const epilogue *e, const float *bias) {
    if (e->alpha != 1.0f) v = _mm512_mul_ps(v, _mm512_set1_ps(e->alpha));
    if (e->beta == 1.0f) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, c));
    else if (e->beta != 0.0f) v = _mm512_fmadd_ps(_mm512_set1_ps(e->beta), _mm512_maskz_loadu_ps(m, c), v);
    if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias));
    if (e->act == MATMUL_ACT_QUICKGELU) {
        __m512 d = _mm512_add_ps(_mm512_set1_ps(1.0f), exp512(_mm512_mul_ps(v, _mm512_set1_ps(-1.702f))));
        v = _mm512_div_ps(v, d);
    } else if (e->act == MATMUL_ACT_GELU) { /* rare (open_clip models): scalar erff */
        float t[16];
        _mm512_storeu_ps(t, v);
        for (int j = 0; j < 16; j++) t[j] = gemm_act_scalar(t[j], MATMUL_ACT_GELU);
        v = _mm512_loadu_ps(t);
    }
    _mm512_mask_storeu_ps(c, m, v);
}

/* Applies the epilogue to a block computed elsewhere (the bf16 kernels, core/gemm_bf16.c):
 * C[i, j] = act(alpha * V[i, j] + beta * C[i, j] + bias[j]) for i < rows, j < cols. */
TGT void gemm_avx512_epilogue(float *c, long ldc, const float *v, int ldv, int rows, int cols, float alpha,
                              float beta, const float *bias, int act) {
    epilogue e = {alpha, beta, NULL, act};
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j += 16) {
            __mmask16 m = simd_mask16(cols - j);
            store16(c + i * ldc + j, _mm512_maskz_loadu_ps(m, v + (long)i * ldv + j), m, &e, bias ? bias + j : NULL);
        }
}

/* C[mr, nr] (+)= A panel (kc x mr, k-major) * B panel (kc x NR); mr is a constant after
 * inlining, so the accumulators live in zmm registers. half: the B panel holds fp16 values
 * (uint16_t, same layout), widened exactly on load; bout (half only, may be NULL) receives the
 * widened panel so the rest of the A tiles can use the fp32 kernel on it. */
INLINE TGT void kernel_body(const int mr, const int half, int kc, const float *restrict a, const void *restrict bv,
                            float *restrict bout, float *c, long ldc, int nr, const epilogue *e, const void *next) {
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) { /* fetch the C tile now, its misses overlap the FMAs */
        c0[i] = _mm512_setzero_ps(); c1[i] = _mm512_setzero_ps();
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }
    const float *b = bv;
    const uint16_t *bh = bv;
    for (int k = 0; k < kc; k++) {
        __m512 b0, b1;
        if (half) { /* one 64-byte line per k: half the stream of the fp32 panel */
            b0 = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)bh));
            b1 = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(bh + 16)));
            _mm_prefetch((const char *)(bh + PF_K * NR), _MM_HINT_T0);
            if (next) _mm_prefetch((const char *)((const uint16_t *)next + (long)k * NR), _MM_HINT_T1);
            if (bout) { _mm512_store_ps(bout + k * NR, b0); _mm512_store_ps(bout + k * NR + 16, b1); }
            bh += NR;
        } else {
            b0 = _mm512_load_ps(b); b1 = _mm512_load_ps(b + 16);
            _mm_prefetch((const char *)(b + PF_K * NR), _MM_HINT_T0);      /* the B panel streams from L2/L3 */
            _mm_prefetch((const char *)(b + PF_K * NR + 16), _MM_HINT_T0);
            if (next) { /* the next weight panel, into L2 while this one computes (few rows: B-bound) */
                _mm_prefetch((const char *)((const float *)next + (long)k * NR), _MM_HINT_T1);
                _mm_prefetch((const char *)((const float *)next + (long)k * NR + 16), _MM_HINT_T1);
            }
            b += NR;
        }
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
        }
        a += mr;
    }
    __mmask16 m0 = simd_mask16(nr), m1 = simd_mask16(nr - 16);
    for (int i = 0; i < mr; i++) {
        store16(c + i * ldc, c0[i], m0, e, e->bias);
        if (m1) store16(c + i * ldc + 16, c1[i], m1, e, e->bias ? e->bias + 16 : NULL);
    }
}

typedef void (*kernel_fn)(int kc, const float *a, const void *b, float *bout, float *c, long ldc, int nr,
                          const epilogue *e, const void *next);
/* One function per row count and B type; the branches on next/bout are hoisted out of the loop. */
#define KERNEL(R) \
    static TGT void kernel_##R(int kc, const float *a, const void *b, float *bout, float *c, long ldc, int nr, \
                               const epilogue *e, const void *next) { \
        (void)bout; \
        if (next) kernel_body(R, 0, kc, a, b, NULL, c, ldc, nr, e, next); \
        else kernel_body(R, 0, kc, a, b, NULL, c, ldc, nr, e, NULL); } \
    static TGT void kernel_h##R(int kc, const float *a, const void *b, float *bout, float *c, long ldc, int nr, \
                                const epilogue *e, const void *next) { \
        if (next && bout) kernel_body(R, 1, kc, a, b, bout, c, ldc, nr, e, next); \
        else if (next) kernel_body(R, 1, kc, a, b, NULL, c, ldc, nr, e, next); \
        else if (bout) kernel_body(R, 1, kc, a, b, bout, c, ldc, nr, e, NULL); \
        else kernel_body(R, 1, kc, a, b, NULL, c, ldc, nr, e, NULL); }
KERNEL(1) KERNEL(2) KERNEL(3) KERNEL(4) KERNEL(5) KERNEL(6) KERNEL(7)
KERNEL(8) KERNEL(9) KERNEL(10) KERNEL(11) KERNEL(12) KERNEL(13) KERNEL(14)
static const kernel_fn kernels[MR + 1] = {
    NULL, kernel_1, kernel_2, kernel_3, kernel_4, kernel_5, kernel_6, kernel_7,
    kernel_8, kernel_9, kernel_10, kernel_11, kernel_12, kernel_13, kernel_14};
static const kernel_fn kernels_h[MR + 1] = {
    NULL, kernel_h1, kernel_h2, kernel_h3, kernel_h4, kernel_h5, kernel_h6, kernel_h7,
    kernel_h8, kernel_h9, kernel_h10, kernel_h11, kernel_h12, kernel_h13, kernel_h14};

/* ---------------------------------------------------------------- packing */

/* In-register transpose of a 16x16 block: r[i] lane j becomes r[j] lane i. */
INLINE TGT void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) { /* u[4q+c], lane L: rows 4q..4q+3 of column 4L+c */
        u[4 * q + 0] = _mm512_shuffle_ps(t[4 * q], t[4 * q + 2], 0x44);
        u[4 * q + 1] = _mm512_shuffle_ps(t[4 * q], t[4 * q + 2], 0xEE);
        u[4 * q + 2] = _mm512_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0x44);
        u[4 * q + 3] = _mm512_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0xEE);
    }
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) { /* 4x4 transpose of 128-bit lanes across u[c], u[4+c], ... */
        __m512 x0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);
        __m512 x1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
        __m512 x2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
        __m512 x3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
        r[c] = _mm512_shuffle_f32x4(x0, x2, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(x0, x2, 0xDD);
        r[8 + c] = _mm512_shuffle_f32x4(x1, x3, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(x1, x3, 0xDD);
    }
}

/* Packs rows src[i*ld + k] (i < rows <= 16, k < kc) transposed: dst[k*dst_ld + i] for i < rows.
 * Missing rows read as zero; dst_ld >= rows. The row-major-to-k-major step of both packers.
 * Reading 16 strided rows defeats the hardware prefetcher, hence the explicit prefetch. */
static TGT void pack_transposed(const float *src, long ld, int rows, int kc, float *dst, int dst_ld,
                                int store_w) {
    __mmask16 ms = simd_mask16(store_w);
    if (rows > 16) rows = 16;
    const float *row[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) row[i] = src + (i < rows ? i : 0) * ld;
    for (int k = 0; k < kc; k += 16) {
        __mmask16 mk = simd_mask16(kc - k);
        __m512 r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            _mm_prefetch((const char *)(row[i] + k + 64), _MM_HINT_T0);
            r[i] = _mm512_maskz_loadu_ps(i < rows ? mk : 0, row[i] + k);
        }
        transpose16(r);
        if (kc - k >= 16) {
#pragma GCC unroll 16
            for (int j = 0; j < 16; j++) _mm512_mask_storeu_ps(dst + (long)(k + j) * dst_ld, ms, r[j]);
        } else {
            for (int j = 0; j < kc - k; j++) _mm512_mask_storeu_ps(dst + (long)(k + j) * dst_ld, ms, r[j]);
        }
    }
}

/* op(A)[m0:m0+mc, k0:k0+kc] -> MR-tall panels, each kc x mr (k-major), back to back. */
static TGT void pack_a(int transA, const float *A, int lda, int m0, int mc, int k0, int kc, float *dst) {
    for (int ir = 0; ir < mc; ir += MR) {
        int mr = min_i(MR, mc - ir);
        if (!transA) {
            pack_transposed(A + (long)(m0 + ir) * lda + k0, lda, mr, kc, dst, mr, mr);
        } else { /* op(A)[m,k] = A[k*lda + m]: each k is a contiguous run of mr floats */
            __mmask16 m = simd_mask16(mr);
            for (int k = 0; k < kc; k++)
                _mm512_mask_storeu_ps(dst + k * mr, m,
                                      _mm512_maskz_loadu_ps(m, A + (long)(k0 + k) * lda + m0 + ir));
        }
        dst += (long)mr * kc;
    }
}

/* op(B)[k0:k0+kc, n0:n0+nc] -> NR-wide panels, each kc x NR, zero padded past nc. */
static TGT void pack_b(int transB, const float *B, int ldb, int k0, int kc, int n0, int nc, float *dst) {
    for (int jr = 0; jr < nc; jr += NR) {
        int nr = min_i(NR, nc - jr);
        if (transB) { /* op(B)[k,n] = B[n*ldb + k]: transpose 16 rows of B at a time */
            for (int h = 0; h < 2; h++)
                pack_transposed(B + (long)(n0 + jr + 16 * h) * ldb + k0, ldb, nr - 16 * h, kc,
                                dst + 16 * h, NR, 16);
        } else {
            __mmask16 m0 = simd_mask16(nr), m1 = simd_mask16(nr - 16);
            for (int k = 0; k < kc; k++) {
                const float *s = B + (long)(k0 + k) * ldb + n0 + jr;
                _mm512_store_ps(dst + k * NR, _mm512_maskz_loadu_ps(m0, s));
                _mm512_store_ps(dst + k * NR + 16, _mm512_maskz_loadu_ps(m1, s + 16));
            }
        }
        dst += (long)kc * NR;
    }
}

size_t gemm_avx512_packed_size(int K, int N) { return (size_t)((N + NR - 1) / NR) * NR * (size_t)K; }

void gemm_avx512_pack_b(int transB, int K, int N, const float *B, int ldb, float *dst) {
    if (K > 0 && N > 0) pack_b(transB, B, ldb, 0, K, 0, N, dst);
}

void gemm_avx512_unpack_b(int transB, int K, int N, const float *src, float *B) {
    for (int j0 = 0; j0 < N; j0 += NR) {
        const float *p = src + (long)(j0 / NR) * K * NR;
        int nr = min_i(NR, N - j0);
        for (int k = 0; k < K; k++)
            for (int j = 0; j < nr; j++) {
                float v = p[(long)k * NR + j];
                if (transB) B[(long)(j0 + j) * K + k] = v;
                else B[(long)k * N + j0 + j] = v;
            }
    }
}

/* ---------------------------------------------------------------- fp16 panels
 * Weights that are fp16 values held in fp32 (OpenAI's released checkpoints are fp16) can be
 * stored in half the bytes and widened on load, exactly: same products, same sums, bit for bit.
 * Batch-1 inference streams every weight once, so this halves its memory traffic. */

TGT int gemm_avx512_f16_exact(const float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512 r = _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        if (_mm512_cmpneq_epi32_mask(_mm512_castps_si512(v), _mm512_castps_si512(r))) return 0;
    }
    if (i < n) {
        __mmask16 m = simd_mask16((int)(n - i));
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __m512 r = _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        if (_mm512_mask_cmpneq_epi32_mask(m, _mm512_castps_si512(v), _mm512_castps_si512(r))) return 0;
    }
    return 1;
}

TGT void gemm_avx512_narrow_f16(const float *src, size_t n, uint16_t *dst) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

TGT void gemm_avx512_widen_f16(const uint16_t *src, size_t n, float *dst) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
    for (; i < n; i++) dst[i] = _cvtsh_ss(src[i]);
}

/* kc rows of nc/NR fp16 panels (panel p at src + p*stride halves) -> fp32 panels back to back:
 * each panel's kc rows are contiguous, so one widening per panel. */
static void widen_block(const uint16_t *src, long stride, int kc, int nc, float *dst) {
    for (int p = 0; p < (nc + NR - 1) / NR; p++)
        gemm_avx512_widen_f16(src + p * stride, (size_t)kc * NR, dst + (long)p * kc * NR);
}

/* ---------------------------------------------------------------- driver */

typedef struct {
    int transA, transB, M, N, K;
    float alpha, beta;
    const float *A, *B, *Bp;
    const uint16_t *Bh; /* fp16 panels (instead of Bp) */
    int lda, ldb, ldc;
    float *C;
    const float *bias;
    int act;
} gemm_job;

/* Per-thread packing buffers, kept between calls (grow only) so products do not page-fault. */
static float *scratch(size_t floats) { return thread_scratch(SCRATCH_GEMM_F32, floats * sizeof(float)); }

/* Plain loops for when a packing buffer cannot be had: slow but correct. */
static TGT void rect_plain(const gemm_job *g, int m0, int m1, int n0, int n1) {
    for (int i = m0; i < m1; i++)
        for (int j = n0; j < n1; j++) {
            float s = 0;
            for (int k = 0; k < g->K; k++) {
                float a = g->transA ? g->A[(long)k * g->lda + i] : g->A[(long)i * g->lda + k];
                long pi = (long)(j / NR) * g->K * NR + (long)k * NR + j % NR;
                float b = g->Bp ? g->Bp[pi] : g->Bh ? _cvtsh_ss(g->Bh[pi])
                                : g->transB ? g->B[(long)j * g->ldb + k] : g->B[(long)k * g->ldb + j];
                s += a * b;
            }
            float *c = g->C + (long)i * g->ldc + j;
            float v = g->alpha * s + (g->beta != 0 ? g->beta * *c : 0) + (g->bias ? g->bias[j] : 0);
            *c = gemm_act_scalar(v, g->act);
        }
}

static int packed_depth = KC_PACKED;
void gemm_avx512_set_packed_depth(int kc) { packed_depth = kc > 0 ? kc : KC_PACKED; }

/* Computes the rectangle C[m0:m1, n0:n1] (n0 a multiple of NR) on this thread. */
static TGT void rect(const gemm_job *g, int m0, int m1, int n0, int n1) {
    if (m0 >= m1 || n0 >= n1) return;
    int K = g->K;
    /* fp16 weights: with a single A block (few rows) the first tile widens each panel as it
     * streams in and the other tiles reuse it from the cache; with more rows, a block is widened once
     * into bbuf like a packed B and then every A block runs the fp32 kernel on it. */
    int half_inline = g->Bh && m1 - m0 <= MC;
    int kcb = g->Bp || g->Bh ? packed_depth : KC; /* B packed here must fit the L2 as a KCxNC block */
    size_t a_floats = (size_t)MC * kcb, b_floats = g->Bp ? 0 : half_inline ? (size_t)kcb * NR : (size_t)kcb * NC;
    float *buf = scratch(a_floats + b_floats);
    if (!buf) { rect_plain(g, m0, m1, n0, n1); return; }
    float *abuf = buf, *bbuf = buf + a_floats;
    for (int jc = n0; jc < n1; jc += NC) {
        int nc = min_i(NC, n1 - jc);
        for (int pc = 0; pc < K; pc += kcb) {
            int kc = min_i(kcb, K - pc);
            const float *bblk;
            const uint16_t *hblk = NULL; /* half_inline: this block's fp16 panels */
            long bstride; /* elements from one B panel to the next */
            if (g->Bp) {
                bblk = g->Bp + (long)(jc / NR) * K * NR + (long)pc * NR;
                bstride = (long)K * NR;
            } else if (g->Bh) {
                hblk = g->Bh + (long)(jc / NR) * K * NR + (long)pc * NR;
                bstride = (long)K * NR;
                bblk = bbuf;
                if (!half_inline) { widen_block(hblk, bstride, kc, nc, bbuf); bstride = (long)kc * NR; hblk = NULL; }
            } else {
                pack_b(g->transB, g->B, g->ldb, pc, kc, jc, nc, bbuf);
                bblk = bbuf;
                bstride = (long)kc * NR;
            }
            int last = pc + kc >= K;
            epilogue e = {g->alpha, pc == 0 ? g->beta : 1.0f, NULL, last ? g->act : MATMUL_ACT_NONE};
            for (int ic = m0; ic < m1; ic += MC) {
                int mc = min_i(MC, m1 - ic);
                pack_a(g->transA, g->A, g->lda, ic, mc, pc, kc, abuf);
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = min_i(NR, nc - jr);
                    e.bias = last && g->bias ? g->bias + jc + jr : NULL;
                    /* Prepacked weights stream from memory: the first tile also pulls the panel that
                     * comes next (in this depth block, else the next one) into L2, so with few rows
                     * the stream overlaps all of this panel's work (12-token caption: -18%).
                     * Two panels ahead was no better. */
                    const void *next = NULL;
                    if (g->Bp || hblk) { /* weights read in place: panel after this one, in elements */
                        long nx = jr + NR < nc ? (long)(jc / NR + jr / NR + 1) * K * NR + (long)pc * NR
                                : pc + kc < K ? (long)(jc / NR) * K * NR + (long)(pc + kc) * NR : -1;
                        if (nx >= 0) next = g->Bp ? (const void *)(g->Bp + nx) : (const void *)(g->Bh + nx);
                    }
                    float *cc = g->C + (long)ic * g->ldc + jc + jr;
                    int ir = 0;
                    if (hblk) { /* the first tile widens the fp16 panel into bbuf for the others */
                        int mr = min_i(MR, mc);
                        kernels_h[mr](kc, abuf, hblk + (long)(jr / NR) * bstride, mc > MR ? bbuf : NULL, cc, g->ldc,
                                      nr, &e, next);
                        ir = MR;
                    }
                    const float *bp = hblk ? bbuf : bblk + (long)(jr / NR) * bstride;
                    for (; ir < mc; ir += MR) {
                        int mr = min_i(MR, mc - ir);
                        kernels[mr](kc, abuf + (long)ir * kc, bp, NULL, cc + (long)ir * g->ldc, g->ldc, nr, &e,
                                    ir == 0 ? next : NULL);
                    }
                }
            }
        }
    }
}

/* How nt threads tile C: tm row groups x tn column groups. Tall products split rows (each
 * thread then reads all of B but packs only its own A); short ones split columns, so the
 * weights are streamed once in total. */
static void split(int M, int N, int row_gran, int col_gran, int nt, int *tm, int *tn) {
    int tiles_m = (M + row_gran - 1) / row_gran, panels_n = (N + col_gran - 1) / col_gran;
    *tm = 1;
    *tn = nt;
    for (int d = nt; d >= 1; d--) {
        if (nt % d) continue;
        if (tiles_m >= 4 * d || d == 1) { *tm = d; *tn = nt / d; break; }
    }
    while (*tn > 1 && panels_n < *tn) { *tn /= 2; } /* too few panels: leave threads idle */
}

void gemm_run_tiled(int M, int N, int row_gran, int col_gran, int nt,
                    void (*rect_fn)(void *ctx, int m0, int m1, int n0, int n1), void *ctx) {
    int tm, tn;
    split(M, N, row_gran, col_gran, nt < 1 ? 1 : nt, &tm, &tn);
    nt = tm * tn;
    if (nt == 1) { rect_fn(ctx, 0, M, 0, N); return; }
    int tiles_m = (M + row_gran - 1) / row_gran, panels_n = (N + col_gran - 1) / col_gran;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), nth = omp_get_num_threads();
        if (nth == nt) {
            int ti = t / tn, tj = t % tn;
            int m0 = (int)((long)tiles_m * ti / tm) * row_gran, m1 = min_i(M, (int)((long)tiles_m * (ti + 1) / tm) * row_gran);
            int n0 = (int)((long)panels_n * tj / tn) * col_gran, n1 = min_i(N, (int)((long)panels_n * (tj + 1) / tn) * col_gran);
            rect_fn(ctx, m0, m1, n0, n1);
        } else if (t == 0) { /* the runtime gave fewer threads (nested region): do it all */
            rect_fn(ctx, 0, M, 0, N);
        }
    }
}

static void rect_job(void *g, int m0, int m1, int n0, int n1) { rect(g, m0, m1, n0, n1); }

void gemm_avx512(int transA, int transB, int M, int N, int K, float alpha,
                 const float *A, int lda, const float *B, int ldb, const float *Bp, const uint16_t *Bh,
                 float beta, float *C, int ldc, const float *bias, int act, int nthreads) {
    if (M <= 0 || N <= 0) return;
    gemm_job g = {transA, transB, M, N, K, alpha, beta, A, B, Bp, Bh, lda, ldb, ldc, C, bias, act};
    if (K <= 0 || alpha == 0.0f) { /* no product: C = act(beta*C + bias), A and B unread */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float *c = C + (long)i * ldc + j;
                *c = gemm_act_scalar((beta != 0 ? beta * *c : 0) + (bias ? bias[j] : 0), act);
            }
        return;
    }
    double flops = 2.0 * M * N * K;
    int nt = nthreads < 1 ? 1 : nthreads;
    if (flops < 4e6) nt = 1; /* a parallel region costs more than it saves */
    gemm_run_tiled(M, N, MR, NR, nt, rect_job, &g);
}
