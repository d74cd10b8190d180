/* clip.c's int8 GEMM (see core/gemm_int8.h). The weights are quantized and packed once, at
 * load, into 32-column panels of 4-byte k-groups per column: the layout both TDPBSSD (AMX) and
 * VPDPBUSD (AVX512_VNNI) read, followed by the per-column scales and column sums. Each thread
 * quantizes its rows of op(A) to a row-major int8 block (MB rows, K padded to 64, one scale per
 * row), then walks the weight panels:
 *   AMX:  a 32x32 block of C in four 16x16 int32 tiles, two A tiles x two B tiles per 64-deep
 *         step, accumulated over all of K inside the tiles;
 *   VNNI: a 14x32 block in 28 zmm int32 accumulators, one B group-row (2 zmm) and 14 broadcast
 *         A groups per step. VPDPBUSD multiplies unsigned by signed bytes, so A is stored as
 *         q + 128 and 128 * (column sum of B) is taken off afterwards (exact).
 * The int32 block is scaled to fp32 (sa[row] * sb[col]) and handed to gemm_avx512_epilogue.
 * Only this file is compiled for AMX-INT8 / AVX512_VNNI, per function via target attributes. */
#include "core/scratch.h"
#include "core/gemm_int8.h"
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
#define TGT_VNNI __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma,avx512vnni")))
#define TGT_AMX __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma,amx-tile,amx-int8")))
#define INLINE static inline __attribute__((always_inline))

#define NR GEMM_INT8_NR
#define KP GEMM_INT8_KP
#define MR 14  /* rows of the VNNI kernel */
#define MB 128 /* rows of op(A) quantized at a time: 128 x 3072 bytes = 384 KB, inside the L2 */
#define RG 32  /* row granularity of the thread split (one AMX block) */

typedef int32_t __attribute__((may_alias)) i32_alias;

static int min_i(int a, int b) { return a < b ? a : b; }
static int round_up(int x, int m) { return (x + m - 1) / m * m; }

int gemm_int8_amx_available(void) {
    static int cached = -1;
    if (cached < 0) {
        unsigned a, b, c, d;
        cached = gemm_avx512_available() && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 25 & 1) /* AMX-INT8 */ &&
                 (d >> 24 & 1) /* AMX-TILE */ && gemm_amx_tiles_permitted();
    }
    return cached;
}

int gemm_int8_vnni_available(void) {
    static int cached = -1;
    if (cached < 0) {
        unsigned a, b, c, d;
        cached = gemm_avx512_available() && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c >> 11 & 1); /* AVX512_VNNI */
    }
    return cached;
}

/* ---------------------------------------------------------------- quantization and packing */

/* x (already scaled to [-127, 127]) -> int8, round to nearest even, as VCVTPS2DQ + VPMOVSDB. */
static int8_t q8(float x) {
    long r = lrintf(x);
    return (int8_t)(r > 127 ? 127 : r < -128 ? -128 : r);
}

size_t gemm_int8_packed_bytes(int K, int N) {
    size_t Np = (size_t)round_up(N, NR);
    return Np * (size_t)round_up(K, KP) + Np * (sizeof(float) + sizeof(int32_t));
}

void gemm_int8_pack_b(int transB, int K, int N, const float *B, int ldb, void *dst) {
    int Kp = round_up(K, KP), Np = round_up(N, NR);
    int8_t *q = dst;
    float *sb = (float *)(q + (size_t)Np * Kp);
    int32_t *cs = (int32_t *)(sb + Np);
#define BV(k, col) (transB ? B[(long)(col) * ldb + (k)] : B[(long)(k) * ldb + (col)])
    for (int col = 0; col < Np; col++) {
        float mx = 0;
        for (int k = 0; col < N && k < K; k++) mx = fmaxf(mx, fabsf(BV(k, col)));
        float inv = mx > 0 && mx < INFINITY ? 127.0f / mx : 0.0f;
        sb[col] = mx > 0 ? mx / 127.0f : 0.0f;
        int8_t *panel = q + (size_t)(col / NR) * Kp * NR;
        int n = col % NR;
        int32_t sum = 0;
        for (int k = 0; k < Kp; k++) {
            int8_t v = k < K && col < N ? q8(BV(k, col) * inv) : 0;
            panel[(size_t)(k / 4) * 4 * NR + 4 * n + (k & 3)] = v;
            sum += v;
        }
        cs[col] = sum;
    }
#undef BV
}

/* The per-row scale of op(A) row i: *inv multiplies the values into [-127, 127]; the return
 * value (max|row| / 127) multiplies the int32 sums back. A row with Inf or NaN gets NaN (its
 * outputs become NaN, as in fp32) and inv 0. */
static float row_scale_scalar(const float *A, long stride, int K, float *inv) {
    float mx = 0;
    int bad = 0;
    for (int k = 0; k < K; k++) {
        float v = fabsf(A[k * stride]);
        if (!(v < INFINITY)) bad = 1;
        else mx = fmaxf(mx, v);
    }
    *inv = !bad && mx > 0 ? 127.0f / mx : 0.0f;
    return bad ? NAN : mx > 0 ? mx / 127.0f : 0.0f;
}

/* Rows [m0, m0+mr) of op(A) -> dst, row-major int8 with row stride Kp (zero padded to Kp
 * columns and to mr_pad rows), each byte XORed with flip (0x80: stored as q + 128 unsigned);
 * sa[i] gets each row's scale. */
static TGT void quantize_a(int transA, const float *A, int lda, int m0, int mr, int mr_pad, int K, int Kp,
                           uint8_t flip, int8_t *dst, float *sa) {
    const __m128i fl = _mm_set1_epi8((char)flip);
    for (int i = 0; i < mr_pad; i++) {
        int8_t *d = dst + (size_t)i * Kp;
        float inv = 0;
        if (i >= mr) {
            sa[i] = 0;
        } else if (transA) {
            const float *s = A + m0 + i;
            sa[i] = row_scale_scalar(s, lda, K, &inv);
            for (int k = 0; k < Kp; k++) d[k] = (int8_t)((uint8_t)(k < K ? q8(s[(long)k * lda] * inv) : 0) ^ flip);
            continue;
        } else {
            const float *s = A + (long)(m0 + i) * lda;
            __m512 mx = _mm512_setzero_ps();
            __mmask16 bad = 0;
            for (int k = 0; k < K; k += 16) {
                __m512 v = _mm512_abs_ps(_mm512_maskz_loadu_ps(simd_mask16(K - k), s + k));
                bad |= _mm512_cmp_ps_mask(v, _mm512_set1_ps(INFINITY), _CMP_NLT_UQ);
                mx = _mm512_max_ps(mx, v);
            }
            float m = _mm512_reduce_max_ps(mx);
            inv = !bad && m > 0 ? 127.0f / m : 0.0f;
            sa[i] = bad ? NAN : m > 0 ? m / 127.0f : 0.0f;
            if (inv != 0) {
                const __m512 vi = _mm512_set1_ps(inv);
                for (int k = 0; k < Kp; k += 16) {
                    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(simd_mask16(K - k), s + k), vi);
                    __m128i q = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(v));
                    _mm_storeu_si128((__m128i *)(d + k), _mm_xor_si128(q, fl));
                }
                continue;
            }
        }
        memset(d, flip, (size_t)Kp); /* padding rows and all-zero (or non-finite) rows: q = 0 */
    }
}

/* ---------------------------------------------------------------- job and scratch */

typedef struct {
    int transA, M, N, K, Kp;
    float alpha, beta;
    const float *A;
    int lda, ldc;
    const int8_t *Bq;  /* panels */
    const float *sb;   /* column scales */
    const int32_t *cs; /* column sums */
    float *C;
    const float *bias;
    int act;
} job;

/* The bf16 kernels' scratch slot: the two GEMMs never run inside each other, and a slot's
 * contents are not kept between calls anyway. */
static void *abuf_get(size_t bytes) { return thread_scratch(SCRATCH_GEMM_BF16, bytes); }

/* acc (int32 block, row stride 32) -> fp32 C block through the epilogue: the sums are scaled
 * by sb[col] then sa[row] (the plain loops do the same, in the same order); flip: subtract
 * 128 * column sums (the VNNI kernel's unsigned A). */
static TGT void finish(const job *g, const int32_t *acc, const float *sa, int row0, int rows, int col0, int cols,
                       int flip) {
    alignas(64) float v[32 * 32];
    for (int i = 0; i < rows; i++) {
        __m512 s = _mm512_set1_ps(sa[i]);
        for (int j = 0; j < 32; j += 16) {
            __m512i a = _mm512_load_si512(acc + 32 * i + j);
            if (flip) a = _mm512_sub_epi32(a, _mm512_slli_epi32(_mm512_loadu_si512(g->cs + col0 + j), 7));
            __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_loadu_ps(g->sb + col0 + j));
            _mm512_store_ps(v + 32 * i + j, _mm512_mul_ps(f, s));
        }
    }
    gemm_avx512_epilogue(g->C + (long)row0 * g->ldc + col0, g->ldc, v, 32, rows, cols, g->alpha, g->beta,
                         g->bias ? g->bias + col0 : NULL, g->act);
}

/* ---------------------------------------------------------------- plain loops */

/* The same arithmetic (same quantization, exact integer sums) without vector code: for tests,
 * and for when a quantization buffer cannot be had. */
static void rect_scalar(const job *g, int m0, int m1, int n0, int n1) {
    for (int i = m0; i < m1; i++) {
        const float *row = g->transA ? g->A + i : g->A + (long)i * g->lda;
        long stride = g->transA ? g->lda : 1;
        float inv, sa = row_scale_scalar(row, stride, g->K, &inv);
        for (int j = n0; j < n1; j++) {
            int32_t s = 0;
            if (g->alpha != 0.0f)
                for (int k = 0; k < g->K; k++) {
                    int8_t b = g->Bq[(size_t)(j / NR) * g->Kp * NR + (size_t)(k / 4) * 4 * NR + 4 * (j % NR) + (k & 3)];
                    s += (int32_t)q8(row[k * stride] * inv) * b;
                }
            float *c = g->C + (long)i * g->ldc + j;
            float p = ((float)s * g->sb[j]) * sa;
            float v = g->alpha * p + (g->beta != 0 ? g->beta * *c : 0) + (g->bias ? g->bias[j] : 0);
            *c = gemm_act_scalar(v, g->act);
        }
    }
}

/* ---------------------------------------------------------------- AMX */

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* C[m0:m1, n0:n1] with AMX tiles: 0-3 accumulate C (16x16 int32 each), 4-5 hold A (16 rows x
 * 64 int8), 6-7 hold B (16 group-rows x 16 columns x 4 int8). */
static TGT_AMX void rect_amx(const job *g, int m0, int m1, int n0, int n1, int8_t *abuf, float *sa) {
    alignas(64) int32_t acc[32 * 32];
    alignas(64) tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) { cfg.colsb[t] = 64; cfg.rows[t] = 16; }
    _tile_loadconfig(&cfg);
    const int Kp = g->Kp;
    for (int ic = m0; ic < m1; ic += MB) {
        int mc = min_i(MB, m1 - ic);
        quantize_a(g->transA, g->A, g->lda, ic, mc, round_up(mc, 16), g->K, Kp, 0, abuf, sa);
        for (int jr = n0; jr < n1; jr += NR) {
            int nr = min_i(NR, n1 - jr);
            const int8_t *bp = g->Bq + (size_t)(jr / NR) * Kp * NR;
            for (int ir = 0; ir < mc; ir += 32) {
                int rows = min_i(32, mc - ir);
                const int8_t *a = abuf + (size_t)ir * Kp;
                _tile_zero(0);
                _tile_zero(1);
                if (rows > 16) {
                    _tile_zero(2);
                    _tile_zero(3);
                    for (int k = 0; k < Kp; k += 64) {
                        _tile_loadd(4, a + k, Kp);
                        _tile_loadd(5, a + 16 * (size_t)Kp + k, Kp);
                        _tile_loadd(6, bp + (size_t)k * NR, 4 * NR);
                        _tile_loadd(7, bp + (size_t)k * NR + 64, 4 * NR);
                        _tile_dpbssd(0, 4, 6);
                        _tile_dpbssd(1, 4, 7);
                        _tile_dpbssd(2, 5, 6);
                        _tile_dpbssd(3, 5, 7);
                    }
                    _tile_stored(2, acc + 16 * 32, 128);
                    _tile_stored(3, acc + 16 * 32 + 16, 128);
                } else { /* a short last block: one row of tiles */
                    for (int k = 0; k < Kp; k += 64) {
                        _tile_loadd(4, a + k, Kp);
                        _tile_loadd(6, bp + (size_t)k * NR, 4 * NR);
                        _tile_loadd(7, bp + (size_t)k * NR + 64, 4 * NR);
                        _tile_dpbssd(0, 4, 6);
                        _tile_dpbssd(1, 4, 7);
                    }
                }
                _tile_stored(0, acc, 128);
                _tile_stored(1, acc + 16, 128);
                finish(g, acc, sa + ir, ic + ir, rows, jr, nr, 0);
            }
        }
    }
    _tile_release(); /* lets the kernel skip saving 8 KB of tile state at context switches */
}

/* ---------------------------------------------------------------- AVX512_VNNI */

/* acc[mr, 32] = A rows (q + 128 as uint8, row stride lda bytes) x one B panel, over Kp. mr is
 * a constant after inlining, so the 2*mr accumulators live in zmm registers. */
INLINE TGT_VNNI void kernel_body(const int mr, int Kp, const int8_t *a, long lda, const int8_t *b, int32_t *acc) {
    __m512i c0[MR], c1[MR];
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) { c0[i] = _mm512_setzero_si512(); c1[i] = _mm512_setzero_si512(); }
    const i32_alias *ap = (const i32_alias *)a;
    const long ld = lda / 4; /* in 4-byte groups */
    for (int p = 0; p < Kp / 4; p++) {
        __m512i b0 = _mm512_load_si512(b), b1 = _mm512_load_si512(b + 64);
#pragma GCC unroll 16
        for (int i = 0; i < mr; i++) {
            __m512i ai = _mm512_set1_epi32(ap[i * ld + p]);
            c0[i] = _mm512_dpbusd_epi32(c0[i], ai, b0);
            c1[i] = _mm512_dpbusd_epi32(c1[i], ai, b1);
        }
        b += 4 * NR;
    }
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) { _mm512_store_si512(acc + 32 * i, c0[i]); _mm512_store_si512(acc + 32 * i + 16, c1[i]); }
}

typedef void (*kernel_fn)(int Kp, const int8_t *a, long lda, const int8_t *b, int32_t *acc);
#define KERNEL(R) \
    static TGT_VNNI void kernel_##R(int Kp, const int8_t *a, long lda, const int8_t *b, int32_t *acc) { \
        kernel_body(R, Kp, a, lda, b, acc); }
KERNEL(1) KERNEL(2) KERNEL(3) KERNEL(4) KERNEL(5) KERNEL(6) KERNEL(7)
KERNEL(8) KERNEL(9) KERNEL(10) KERNEL(11) KERNEL(12) KERNEL(13) KERNEL(14)
static const kernel_fn kernels[MR + 1] = {
    NULL, kernel_1, kernel_2, kernel_3, kernel_4, kernel_5, kernel_6, kernel_7,
    kernel_8, kernel_9, kernel_10, kernel_11, kernel_12, kernel_13, kernel_14};

static TGT void rect_vnni(const job *g, int m0, int m1, int n0, int n1, int8_t *abuf, float *sa) {
    alignas(64) int32_t acc[32 * 32];
    const int Kp = g->Kp;
    for (int ic = m0; ic < m1; ic += MB) {
        int mc = min_i(MB, m1 - ic);
        quantize_a(g->transA, g->A, g->lda, ic, mc, mc, g->K, Kp, 0x80, abuf, sa);
        for (int jr = n0; jr < n1; jr += NR) {
            int nr = min_i(NR, n1 - jr);
            const int8_t *bp = g->Bq + (size_t)(jr / NR) * Kp * NR;
            for (int ir = 0; ir < mc; ir += MR) {
                int mr = min_i(MR, mc - ir);
                kernels[mr](Kp, abuf + (size_t)ir * Kp, Kp, bp, acc);
                finish(g, acc, sa + ir, ic + ir, mr, jr, nr, 1);
            }
        }
    }
}

/* ---------------------------------------------------------------- driver */

static void rect(int kernel, const job *g, int m0, int m1, int n0, int n1) {
    if (m0 >= m1 || n0 >= n1) return;
    size_t qbytes = (size_t)round_up(MB, 16) * g->Kp;
    int8_t *abuf = kernel == GEMM_INT8_SCALAR ? NULL : abuf_get(qbytes + MB * sizeof(float));
    float *sa = abuf ? (float *)(abuf + qbytes) : NULL;
    if (!abuf) rect_scalar(g, m0, m1, n0, n1);
    else if (kernel == GEMM_INT8_AMX) rect_amx(g, m0, m1, n0, n1, abuf, sa);
    else rect_vnni(g, m0, m1, n0, n1, abuf, sa);
}

typedef struct { int kernel; const job *g; } tiled;
static void rect_tiled(void *ctx, int m0, int m1, int n0, int n1) {
    const tiled *t = ctx;
    rect(t->kernel, t->g, m0, m1, n0, n1);
}

void gemm_int8(int kernel, int transA, int M, int N, int K, float alpha, const float *A, int lda,
               const void *Bq, float beta, float *C, int ldc, const float *bias, int act, int nthreads) {
    if (M <= 0 || N <= 0) return;
    int Kp = round_up(K > 0 ? K : 0, KP), Np = round_up(N, NR);
    const int8_t *q = Bq;
    const float *sb = (const float *)(q + (size_t)Np * Kp);
    job g = {transA, M, N, K, Kp, alpha, beta, A, lda, ldc, q, sb, (const int32_t *)(sb + Np), C, bias, act};
    if (K <= 0 || alpha == 0.0f || kernel == GEMM_INT8_NONE) kernel = GEMM_INT8_SCALAR; /* no product: act(beta C + bias) */
    int nt = nthreads < 1 ? 1 : nthreads;
    if (2.0 * M * N * (K > 0 ? K : 0) < 4e6) nt = 1;
    tiled t = {kernel, &g};
    gemm_run_tiled(M, N, RG, NR, nt, rect_tiled, &t);
}
