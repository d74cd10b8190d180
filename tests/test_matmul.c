/* matmul against a float64 reference: random shapes (odd sizes, all four transposes,
 * alpha/beta, padded leading dimensions), the fused bias/activation epilogue and the
 * pre-packed B path, on both backends and on 1 and 2 threads.
 * Bound: |C - ref| <= 1e-5 * (K |alpha| + |beta| + |bias|) with inputs in [-1, 1], i.e. 1e-5 of
 * the K max|a| max|b| scale, about 100x the float32 rounding of such a K-term sum. */
#include "testutil.h"
#include "core/matmul.h"

static unsigned long long rng = 88172645463325252ull;
static double urand(void) { /* xorshift64, uniform in [-1, 1) */
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (double)(rng >> 11) / (double)(1ull << 52) - 1.0;
}
static int irand(int lo, int hi) { urand(); return lo + (int)((rng >> 33) % (unsigned)(hi - lo + 1)); }

static double act_ref(double x, matmul_act act) {
    if (act == MATMUL_ACT_QUICKGELU) return x / (1.0 + exp(-1.702 * x));
    if (act == MATMUL_ACT_GELU) return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    return x;
}

enum { PATH_MATMUL, PATH_EPILOGUE, PATH_PACKED };

/* One product through the chosen path, checked element by element against float64. */
static void check_case(int path, int tA, int tB, int M, int N, int K, float alpha, float beta,
                       int pad, int with_bias, matmul_act act, const char *what) {
    int lda = (tA ? M : K) + pad, ldb = (tB ? K : N) + pad, ldc = N + pad;
    size_t na = (size_t)(tA ? K : M) * lda, nb = (size_t)(tB ? N : K) * ldb, nc = (size_t)M * ldc;
    float *A = malloc((na + 1) * sizeof *A), *B = malloc((nb + 1) * sizeof *B), *Bref = malloc((nb + 1) * sizeof *B);
    float *C = malloc((nc + 1) * sizeof *C), *C0 = malloc((nc + 1) * sizeof *C0), *bias = malloc((N + 1) * sizeof *bias);
    for (size_t i = 0; i < na; i++) A[i] = (float)urand();
    for (size_t i = 0; i < nb; i++) Bref[i] = B[i] = (float)urand();
    for (size_t i = 0; i < nc; i++) C0[i] = beta == 0 ? NAN : (float)urand(); /* beta 0: C is not read */
    for (int j = 0; j < N; j++) bias[j] = (float)urand();
    memcpy(C, C0, nc * sizeof *C);
    const float *bb = with_bias ? bias : NULL;
    if (path == PATH_MATMUL) {
        matmul(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    } else if (path == PATH_EPILOGUE) {
        matmul_bias_act(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bb, act);
    } else {
        matmul_packed_b pb;
        int rc = matmul_pack_b(&pb, tB, K, N, B, ldb);
        CHECK(rc == 0, "%s: pack_b returned %d", what, rc);
        if (rc) goto done;
        for (size_t i = 0; i < nb; i++) B[i] = NAN; /* the packed copy must not refer back to B */
        matmul_prepacked(tA, M, alpha, A, lda, &pb, beta, C, ldc, bb, act);
        matmul_packed_b_free(&pb);
    }
    double worst = 0, tol = 1e-5 * (K * fabs(alpha) + fabs(beta) + (with_bias ? 1.0 : 0.0)) + 1e-6;
    int pad_changed = 0;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)(tA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                     (double)(tB ? Bref[(size_t)j * ldb + k] : Bref[(size_t)k * ldb + j]);
            double ref = alpha * s + (beta != 0 ? beta * (double)C0[(size_t)i * ldc + j] : 0.0);
            if (with_bias) ref += bias[j];
            ref = act_ref(ref, act);
            double d = fabs((double)C[(size_t)i * ldc + j] - ref);
            if (!(d <= worst)) worst = d; /* NaN sticks */
        }
        for (int j = N; j < ldc; j++) /* padding must be untouched */
            if (memcmp(&C[(size_t)i * ldc + j], &C0[(size_t)i * ldc + j], sizeof(float))) pad_changed = 1;
    }
    CHECK(worst <= tol, "%s: tA=%d tB=%d M=%d N=%d K=%d alpha=%g beta=%g pad=%d bias=%d act=%d: max err %.3g > %.3g",
          what, tA, tB, M, N, K, alpha, beta, pad, with_bias, act, worst, tol);
    CHECK(!pad_changed, "%s: M=%d N=%d ldc=%d: wrote past column N", what, M, N, ldc);
done:
    free(A); free(B); free(Bref); free(C); free(C0); free(bias);
}

static void run_suite(const char *what, int ncases) {
    static const float alphas[] = {1.0f, -0.5f, 2.0f}, betas[] = {0.0f, 1.0f, 0.25f};
    for (int c = 0; c < ncases; c++) {
        int M = irand(1, 300); urand();
        int N = irand(1, 300); urand();
        int K = irand(1, 300); urand();
        int tA = c & 1, tB = (c >> 1) & 1;
        float alpha = alphas[c % 3], beta = betas[(c / 3) % 3];
        int pad = (c % 5 == 0) ? irand(1, 17) : 0; urand();
        int path = c % 3;
        int with_bias = path != PATH_MATMUL && (c % 2);
        matmul_act act = path == PATH_MATMUL ? MATMUL_ACT_NONE : (matmul_act)((c / 2) % 3);
        check_case(path, tA, tB, M, N, K, alpha, beta, pad, with_bias, act, what);
    }
    /* Shapes that cross every blocking boundary (KC 256, KC_PACKED 768 for weights packed at load,
     * MC 84, NC 1024) and the tiny/degenerate. */
    check_case(PATH_PACKED, 0, 1, 50, 200, 1600, 1.0f, 1.0f, 0, 1, MATMUL_ACT_QUICKGELU, what);
    check_case(PATH_PACKED, 1, 1, 181, 1100, 800, 1.0f, 0.0f, 2, 1, MATMUL_ACT_NONE, what);
    check_case(PATH_MATMUL, 0, 1, 50, 1100, 600, 1.0f, 0.0f, 3, 0, MATMUL_ACT_NONE, what);
    check_case(PATH_EPILOGUE, 0, 1, 200, 96, 520, 1.0f, 1.0f, 0, 1, MATMUL_ACT_QUICKGELU, what);
    check_case(PATH_PACKED, 1, 0, 181, 70, 513, 0.5f, 0.0f, 1, 1, MATMUL_ACT_NONE, what);
    check_case(PATH_PACKED, 0, 1, 77, 512, 300, 1.0f, 0.0f, 0, 1, MATMUL_ACT_GELU, what);
    check_case(PATH_MATMUL, 1, 1, 1, 1, 1, 1.0f, 0.0f, 0, 0, MATMUL_ACT_NONE, what);
    check_case(PATH_MATMUL, 0, 0, 5, 7, 0, 1.0f, 0.5f, 0, 0, MATMUL_ACT_NONE, what);   /* K = 0: C = beta C */
    check_case(PATH_EPILOGUE, 0, 0, 5, 7, 9, 0.0f, 0.0f, 0, 1, MATMUL_ACT_NONE, what); /* alpha = 0 */
}

int main(void) {
    char what[64];
    for (int backend = 1; backend <= 2; backend++) {
        matmul_force_backend(backend);
        for (int t = 1; t <= 2; t++) {
            matmul_set_threads(t);
            snprintf(what, sizeof what, "backend %d (%s) threads %d", backend, matmul_backend(), t);
            run_suite(what, backend == 1 ? 36 : 12);
        }
    }
    /* Other depths of the K blocks for packed weights (bench_depth's knob): 16 and 100 put many
     * block edges inside small products; 5 is out of range and means the default. */
    matmul_force_backend(1);
    static const int depths[] = {16, 100, 5};
    for (int d = 0; d < 3; d++) {
        matmul_set_packed_depth(depths[d]);
        snprintf(what, sizeof what, "packed depth %d", depths[d]);
        check_case(PATH_PACKED, 0, 1, 50, 70, 333, 1.0f, 0.5f, 0, 1, MATMUL_ACT_QUICKGELU, what);
        check_case(PATH_PACKED, 1, 0, 181, 40, 801, 1.0f, 0.0f, 1, 0, MATMUL_ACT_NONE, what);
    }
    matmul_set_packed_depth(0);
    matmul_force_backend(0);
    matmul_set_threads(0);
    CHECK(matmul_backend() != NULL, "backend name");
    TEST_END();
}
