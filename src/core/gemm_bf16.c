/* clip.c's bf16 GEMM (see core/gemm_bf16.h). The weights are packed once, at load, into
 * 32-column panels of bf16 pairs (k, k+1) per column: the "VNNI" layout both TDPBF16PS (AMX)
 * and VDPBF16PS (AVX512_BF16) read. Each thread converts its rows of op(A) to a row-major bf16
 * block (MB rows, K padded to 32), then walks the weight panels:
 *   AMX:         a 32x32 block of C in four 16x16 fp32 tiles, two A tiles x two B tiles per
 *                32-deep step, accumulated over all of K inside the tiles;
 *   AVX512_BF16: a 14x32 block in 28 zmm accumulators, one B pair-row (2 zmm) and 14 broadcast
 *                A pairs per step (the fp32 kernel's shape with bf16 pairs).
 * The fp32 epilogue (alpha, beta, bias, activation) is gemm_avx512_epilogue.
 * Only this file is compiled for AMX / AVX512_BF16, per function via target attributes. */
#include "core/scratch.h"
#include "core/gemm_bf16.h"
#include "core/gemm_avx512.h"
#include "core/matmul.h"
#include "core/simd_avx512.h"
#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TGT __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma")))
#define TGT_BF __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma,avx512bf16")))
#define TGT_AMX __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma,amx-tile,amx-bf16")))
#define INLINE static inline __attribute__((always_inline))

#define NR GEMM_BF16_NR
#define KP GEMM_BF16_KP
#define MR 14  /* rows of the AVX512_BF16 kernel */
#define MB 128 /* rows of op(A) converted at a time: 128 x 3072 bf16 = 768 KB, inside the L2 */
#define RG 32  /* row granularity of the thread split (one AMX block) */

typedef int32_t __attribute__((may_alias)) i32_alias;

static int min_i(int a, int b) { return a < b ? a : b; }
static int round_up(int x, int m) { return (x + m - 1) / m * m; }

int gemm_bf16_amx_available(void) {
    static int cached = -1;
    if (cached < 0) {
        unsigned a, b, c, d;
        cached = gemm_avx512_available() && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 22 & 1) /* AMX-BF16 */ &&
                 (d >> 24 & 1) /* AMX-TILE */ && gemm_amx_tiles_permitted();
    }
    return cached;
}

int gemm_bf16_avx512_available(void) {
    static int cached = -1;
    if (cached < 0) {
        unsigned a, b, c, d;
        cached = gemm_avx512_available() && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 5 & 1); /* AVX512_BF16 */
    }
    return cached;
}

/* ---------------------------------------------------------------- conversion and packing */

uint16_t gemm_bf16_round(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(x >> 16 | 0x40); /* quiet NaN */
    x += 0x7fffu + (x >> 16 & 1);
    return (uint16_t)(x >> 16);
}

static float bf16_to_f(uint16_t h) {
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

size_t gemm_bf16_packed_bytes(int K, int N) {
    return (size_t)round_up(N, NR) * (size_t)round_up(K, KP) * sizeof(uint16_t);
}

void gemm_bf16_pack_b(int transB, int K, int N, const float *B, int ldb, uint16_t *dst) {
    int Kp = round_up(K, KP), Np = round_up(N, NR);
    for (int j0 = 0; j0 < Np; j0 += NR) {
        uint16_t *panel = dst + (size_t)j0 * Kp;
        for (int n = 0; n < NR; n++) {
            int col = j0 + n;
            for (int k = 0; k < Kp; k++) {
                float v = k < K && col < N ? (transB ? B[(long)col * ldb + k] : B[(long)k * ldb + col]) : 0.0f;
                panel[(size_t)(k / 2) * 2 * NR + 2 * n + (k & 1)] = gemm_bf16_round(v);
            }
        }
    }
}

/* 16 floats -> 16 bf16, round to nearest even (as VCVTNEPS2BF16, but denormals kept). */
INLINE TGT __m256i cvt16(__m512 v) {
    __m512i x = _mm512_castps_si512(v);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(x, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(x, 16), _mm512_set1_epi32(0x40));
    return _mm512_cvtepi32_epi16(r);
}

/* Rows [m0, m0+mr) of op(A) -> dst, row-major bf16 with row stride Kp, zero padded to Kp
 * columns and to mr_pad rows. */
static TGT void convert_a(int transA, const float *A, int lda, int m0, int mr, int mr_pad, int K, int Kp,
                          uint16_t *dst) {
    for (int i = 0; i < mr_pad; i++) {
        uint16_t *d = dst + (size_t)i * Kp;
        if (i >= mr) { memset(d, 0, (size_t)Kp * sizeof *d); continue; }
        if (!transA) {
            const float *s = A + (long)(m0 + i) * lda;
            for (int k = 0; k < Kp; k += 16)
                _mm256_storeu_si256((__m256i *)(d + k), cvt16(_mm512_maskz_loadu_ps(simd_mask16(K - k), s + k)));
        } else {
            for (int k = 0; k < Kp; k++) d[k] = k < K ? gemm_bf16_round(A[(long)k * lda + m0 + i]) : 0;
        }
    }
}

/* ---------------------------------------------------------------- job and scratch */

typedef struct {
    int transA, M, N, K, Kp;
    float alpha, beta;
    const float *A;
    int lda, ldc;
    const uint16_t *Bp;
    float *C;
    const float *bias;
    int act;
} job;

static uint16_t *abuf_get(size_t elems) { return thread_scratch(SCRATCH_GEMM_BF16, elems * sizeof(uint16_t)); }

/* ---------------------------------------------------------------- plain loops */

/* The same arithmetic (A rounded to bf16, fp32 sums) without vector code: for tests, and
 * for when a conversion buffer cannot be had. */
static void rect_scalar(const job *g, int m0, int m1, int n0, int n1) {
    for (int i = m0; i < m1; i++)
        for (int j = n0; j < n1; j++) {
            float s = 0;
            if (g->alpha != 0.0f)
                for (int k = 0; k < g->K; k++) {
                    float a = g->transA ? g->A[(long)k * g->lda + i] : g->A[(long)i * g->lda + k];
                    uint16_t b = g->Bp[(size_t)(j / NR) * g->Kp * NR + (size_t)(k / 2) * 2 * NR + 2 * (j % NR) + (k & 1)];
                    s += bf16_to_f(gemm_bf16_round(a)) * bf16_to_f(b);
                }
            float *c = g->C + (long)i * g->ldc + j;
            float v = g->alpha * s + (g->beta != 0 ? g->beta * *c : 0) + (g->bias ? g->bias[j] : 0);
            *c = gemm_act_scalar(v, g->act);
        }
}

/* ---------------------------------------------------------------- AMX */

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* C[m0:m1, n0:n1] with AMX tiles: 0-3 accumulate C (16x16 fp32 each), 4-5 hold A (16 rows x
 * 32 bf16), 6-7 hold B (16 pair-rows x 16 columns). */
static TGT_AMX void rect_amx(const job *g, int m0, int m1, int n0, int n1, uint16_t *abuf) {
    alignas(64) float cbuf[32 * 32];
    alignas(64) tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) { cfg.colsb[t] = 64; cfg.rows[t] = 16; }
    _tile_loadconfig(&cfg);
    const int Kp = g->Kp;
    const long astride = (long)Kp * 2; /* bytes */
    for (int ic = m0; ic < m1; ic += MB) {
        int mc = min_i(MB, m1 - ic);
        convert_a(g->transA, g->A, g->lda, ic, mc, round_up(mc, 16), g->K, Kp, abuf);
        for (int jr = n0; jr < n1; jr += NR) {
            int nr = min_i(NR, n1 - jr);
            const uint16_t *bp = g->Bp + (size_t)(jr / NR) * Kp * NR;
            for (int ir = 0; ir < mc; ir += 32) {
                int rows = min_i(32, mc - ir);
                const uint16_t *a = abuf + (size_t)ir * Kp;
                _tile_zero(0);
                _tile_zero(1);
                if (rows > 16) {
                    _tile_zero(2);
                    _tile_zero(3);
                    for (int k = 0; k < Kp; k += 32) {
                        _tile_loadd(4, a + k, astride);
                        _tile_loadd(5, a + 16 * (size_t)Kp + k, astride);
                        _tile_loadd(6, bp + (size_t)k * NR, 2 * NR * 2);
                        _tile_loadd(7, bp + (size_t)k * NR + NR, 2 * NR * 2);
                        _tile_dpbf16ps(0, 4, 6);
                        _tile_dpbf16ps(1, 4, 7);
                        _tile_dpbf16ps(2, 5, 6);
                        _tile_dpbf16ps(3, 5, 7);
                    }
                    _tile_stored(2, cbuf + 16 * 32, 128);
                    _tile_stored(3, cbuf + 16 * 32 + 16, 128);
                } else { /* a short last block: one row of tiles */
                    for (int k = 0; k < Kp; k += 32) {
                        _tile_loadd(4, a + k, astride);
                        _tile_loadd(6, bp + (size_t)k * NR, 2 * NR * 2);
                        _tile_loadd(7, bp + (size_t)k * NR + NR, 2 * NR * 2);
                        _tile_dpbf16ps(0, 4, 6);
                        _tile_dpbf16ps(1, 4, 7);
                    }
                }
                _tile_stored(0, cbuf, 128);
                _tile_stored(1, cbuf + 16, 128);
                gemm_avx512_epilogue(g->C + (long)(ic + ir) * g->ldc + jr, g->ldc, cbuf, 32, rows, nr, g->alpha, g->beta,
                                     g->bias ? g->bias + jr : NULL, g->act);
            }
        }
    }
    _tile_release(); /* lets the kernel skip saving 8 KB of tile state at context switches */
}

/* ---------------------------------------------------------------- AVX512_BF16 */

/* acc[mr, 32] = A rows (bf16, row stride lda elements) x one B panel, over Kp. mr is a
 * constant after inlining, so the 2*mr accumulators live in zmm registers. */
INLINE TGT_BF void kernel_body(const int mr, int Kp, const uint16_t *a, long lda, const uint16_t *b, float *acc) {
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) { c0[i] = _mm512_setzero_ps(); c1[i] = _mm512_setzero_ps(); }
    const i32_alias *ap = (const i32_alias *)a;
    const long ld = lda / 2; /* in pairs */
    for (int p = 0; p < Kp / 2; p++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512(b), b1 = (__m512bh)_mm512_load_si512(b + NR);
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            __m512bh ai = (__m512bh)_mm512_set1_epi32(ap[i * ld + p]);
            c0[i] = _mm512_dpbf16_ps(c0[i], ai, b0);
            c1[i] = _mm512_dpbf16_ps(c1[i], ai, b1);
        }
        b += 2 * NR;
    }
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) { _mm512_store_ps(acc + 32 * i, c0[i]); _mm512_store_ps(acc + 32 * i + 16, c1[i]); }
}

typedef void (*kernel_fn)(int Kp, const uint16_t *a, long lda, const uint16_t *b, float *acc);
#define KERNEL(R) \
    static TGT_BF void kernel_##R(int Kp, const uint16_t *a, long lda, const uint16_t *b, float *acc) { \
        kernel_body(R, Kp, a, lda, b, acc); }
KERNEL(1) KERNEL(2) KERNEL(3) KERNEL(4) KERNEL(5) KERNEL(6) KERNEL(7)
KERNEL(8) KERNEL(9) KERNEL(10) KERNEL(11) KERNEL(12) KERNEL(13) KERNEL(14)
static const kernel_fn kernels[MR + 1] = {
    NULL, kernel_1, kernel_2, kernel_3, kernel_4, kernel_5, kernel_6, kernel_7,
    kernel_8, kernel_9, kernel_10, kernel_11, kernel_12, kernel_13, kernel_14};

static TGT void rect_avx512(const job *g, int m0, int m1, int n0, int n1, uint16_t *abuf) {
    alignas(64) float acc[MR * 32];
    const int Kp = g->Kp;
    for (int ic = m0; ic < m1; ic += MB) {
        int mc = min_i(MB, m1 - ic);
        convert_a(g->transA, g->A, g->lda, ic, mc, mc, g->K, Kp, abuf);
        for (int jr = n0; jr < n1; jr += NR) {
            int nr = min_i(NR, n1 - jr);
            const uint16_t *bp = g->Bp + (size_t)(jr / NR) * Kp * NR;
            for (int ir = 0; ir < mc; ir += MR) {
                int mr = min_i(MR, mc - ir);
                kernels[mr](Kp, abuf + (size_t)ir * Kp, Kp, bp, acc);
                gemm_avx512_epilogue(g->C + (long)(ic + ir) * g->ldc + jr, g->ldc, acc, 32, mr, nr, g->alpha, g->beta,
                                     g->bias ? g->bias + jr : NULL, g->act);
            }
        }
    }
}

/* ---------------------------------------------------------------- driver */

static void rect(int kernel, const job *g, int m0, int m1, int n0, int n1) {
    if (m0 >= m1 || n0 >= n1) return;
    uint16_t *abuf = kernel == GEMM_BF16_SCALAR ? NULL : abuf_get((size_t)round_up(MB, 16) * g->Kp);
    if (!abuf) rect_scalar(g, m0, m1, n0, n1);
    else if (kernel == GEMM_BF16_AMX) rect_amx(g, m0, m1, n0, n1, abuf);
    else rect_avx512(g, m0, m1, n0, n1, abuf);
}

typedef struct { int kernel; const job *g; } tiled;
static void rect_tiled(void *ctx, int m0, int m1, int n0, int n1) {
    const tiled *t = ctx;
    rect(t->kernel, t->g, m0, m1, n0, n1);
}

void gemm_bf16(int kernel, int transA, int M, int N, int K, float alpha, const float *A, int lda,
               const uint16_t *Bp, float beta, float *C, int ldc, const float *bias, int act, int nthreads) {
    if (M <= 0 || N <= 0) return;
    job g = {transA, M, N, K, round_up(K > 0 ? K : 0, KP), alpha, beta, A, lda, ldc, Bp, C, bias, act};
    if (K <= 0 || alpha == 0.0f || kernel == GEMM_BF16_NONE) kernel = GEMM_BF16_SCALAR; /* no product: act(beta C + bias) */
    int nt = nthreads < 1 ? 1 : nthreads;
    if (2.0 * M * N * (K > 0 ? K : 0) < 4e6) nt = 1;
    tiled t = {kernel, &g};
    gemm_run_tiled(M, N, RG, NR, nt, rect_tiled, &t);
}
