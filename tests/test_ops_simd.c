/* The AVX-512 row loops of core/ops.c against the portable ones (ops_force_portable): LayerNorm
 * must agree bit for bit (output, mean, rstd) for widths around the 8- and 16-lane steps; the
 * attention softmax within 4 ulp-ish (2e-6 relative: exp512 against expf), rows summing to 1,
 * masked (causal) entries exactly 0. */
#include "testutil.h"
#include "core/ops.h"
#include "core/gemm_avx512.h"

static unsigned long long rng = 0x1234567887654321ull;
static float urand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((double)(rng >> 11) / (double)(1ull << 52) - 1.0);
}

static void check_ln(int N, int C) {
    size_t n = (size_t)N * C;
    float *x = malloc(n * 4), *w = malloc(C * 4), *b = malloc(C * 4), *o1 = malloc(n * 4), *o2 = malloc(n * 4);
    float *m1 = malloc(N * 4), *m2 = malloc(N * 4), *r1 = malloc(N * 4), *r2 = malloc(N * 4);
    for (size_t i = 0; i < n; i++) x[i] = 3.0f * urand() + (i % 7 == 0 ? 40.0f : 0.0f);
    for (int c = 0; c < C; c++) { w[c] = urand(); b[c] = urand(); }
    ops_force_portable(1);
    layernorm_forward(o1, m1, r1, x, w, b, N, C, 1e-5f);
    ops_force_portable(0);
    layernorm_forward(o2, m2, r2, x, w, b, N, C, 1e-5f);
    CHECK(!memcmp(o1, o2, n * 4) && !memcmp(m1, m2, N * 4) && !memcmp(r1, r2, N * 4), "LayerNorm N=%d C=%d: vector and portable differ", N, C);
    double worst = 0, worst_v = 0;   /* and it is a LayerNorm: mean 0, variance 1 before the affine part, per row */
    for (int i = 0; i < N; i++) {
        double s = 0, q = 0;
        for (int c = 0; c < C; c++) { double y = ((double)o2[(size_t)i * C + c] - b[c]) / w[c]; s += y; q += y * y; }
        if (C > 1 && fabs(s / C) > worst) worst = fabs(s / C);
        if (C > 1 && fabs(q / C - (s / C) * (s / C) - 1) > worst_v) worst_v = fabs(q / C - (s / C) * (s / C) - 1);
    }
    CHECK(worst < 1e-3, "LayerNorm N=%d C=%d: row mean %.3g", N, C, worst);
    CHECK(worst_v < 1e-3, "LayerNorm N=%d C=%d: row variance off 1 by %.3g", N, C, worst_v);
    free(x); free(w); free(b); free(o1); free(o2); free(m1); free(m2); free(r1); free(r2);
}

static void check_attention(int B, int T, int C, int NH, int causal) {
    size_t nq = (size_t)B * T * 3 * C, np = (size_t)B * NH * T * T, no = (size_t)B * T * C;
    float *qkv = malloc(nq * 4), *p1 = malloc(np * 4), *p2 = malloc(np * 4), *o1 = malloc(no * 4), *o2 = malloc(no * 4);
    for (size_t i = 0; i < nq; i++) qkv[i] = 2.0f * urand();
    ops_force_portable(1);
    attention_forward(o1, p1, qkv, B, T, C, NH, causal);
    ops_force_portable(0);
    attention_forward(o2, p2, qkv, B, T, C, NH, causal);
    double dp = 0, dsum = 0;
    int masked_ok = 1;
    for (int r = 0; r < B * NH * T; r++) {
        const float *a = p1 + (size_t)r * T, *q = p2 + (size_t)r * T;
        int t = r % T, tk = causal ? t + 1 : T;
        double s = 0;
        for (int u = 0; u < T; u++) {
            double d = fabs((double)a[u] - q[u]);
            if (!(d <= dp)) dp = d;
            s += q[u];
            if (u >= tk && q[u] != 0.0f) masked_ok = 0;
        }
        if (fabs(s - 1) > dsum) dsum = fabs(s - 1);
    }
    CHECK(dp <= 2e-6, "attention B=%d T=%d causal=%d: probabilities differ by %.3g", B, T, causal, dp);
    CHECK(dsum <= 2e-6 && masked_ok, "attention T=%d: rows sum to 1 within %.3g, masked zeros %d", T, dsum, masked_ok);
    CHECK(tu_rel_err(o2, o1, no) <= 4e-6, "attention B=%d T=%d: outputs differ by %.3g", B, T, tu_rel_err(o2, o1, no));
    free(qkv); free(p1); free(p2); free(o1); free(o2);
}

int main(void) {
    if (!gemm_avx512_available())
        fprintf(stderr, "test_ops_simd: no AVX-512 here: both paths are the portable loops\n");
    static const int Cs[] = {1, 7, 8, 9, 15, 16, 17, 64, 511, 768};
    for (size_t i = 0; i < sizeof Cs / sizeof *Cs; i++) check_ln(13, Cs[i]);
    check_attention(2, 77, 128, 2, 1);
    check_attention(1, 50, 64, 1, 0);
    check_attention(3, 5, 32, 4, 1);
    check_attention(1, 17, 64, 2, 0);
    TEST_END();
}
