/* bf16 inference (clip_load_opts.precision = CLIP_PRECISION_BF16; docs/performance.md "bf16").
 * 1. The bf16 GEMM (every kernel this CPU has: AMX, AVX512_BF16, and the plain loops) against
 *    float64 on random shapes with edges, all epilogues. bf16 keeps 8 significant bits, so the
 *    bound is relative to the |A||B| scale: |C - ref| <= 1e-2 * sum_k |a_ik||b_kj| (rounding both
 *    operands costs at most 2 * 2^-9 = 3.9e-3 of it). The vector kernels must also agree with
 *    the plain loops (same rounding, other summation order) to 1e-5 of that scale.
 * 2. The tiny golden model in bf16 against its golden (OpenAI fp32) features: relative error
 *    max|d| / max|ref| <= 2e-2 and cosine >= 0.999 per row; saving and training refuse.
 * On a CPU without AMX-BF16 / AVX512_BF16 the refusals are checked instead (and reported). */
#include "testutil.h"
#include "core/matmul.h"
#include "model/model.h"

#define G "tests/data/golden/"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (double)(rng >> 11) / 9007199254740992.0; }
static int irand(int n) { return (int)(urand() * n); }

static double g_worst[4]; /* per kernel id: the largest scaled error seen */

static double act_ref(double x, int act) {
    if (act == MATMUL_ACT_QUICKGELU) return x / (1.0 + exp(-1.702 * x));
    if (act == MATMUL_ACT_GELU) return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    return x;
}

/* One random product through every available kernel; returns the worst scaled error seen. */
static void gemm_case(int M, int N, int K, int transA, int transB, const char **kernels, const int *ids, int nk) {
    float alpha = urand() < 0.7 ? 1.0f : 0.5f;
    float beta = (float[]){0.0f, 1.0f, 0.5f}[irand(3)];
    int act = irand(3), use_bias = irand(2);
    int lda = (transA ? M : K) + irand(3), ldb = (transB ? K : N) + irand(3), ldc = N + irand(3);
    float *A = malloc(sizeof(float) * (size_t)(transA ? K : M) * lda), *B = malloc(sizeof(float) * (size_t)(transB ? N : K) * ldb);
    float *C0 = malloc(sizeof(float) * (size_t)M * ldc), *C = malloc(sizeof(float) * (size_t)M * ldc),
          *Cs = malloc(sizeof(float) * (size_t)M * ldc), *bias = malloc(sizeof(float) * N);
    for (size_t i = 0; i < (size_t)(transA ? K : M) * lda; i++) A[i] = (float)(urand() * 2 - 1);
    for (size_t i = 0; i < (size_t)(transB ? N : K) * ldb; i++) B[i] = (float)(urand() * 2 - 1);
    for (size_t i = 0; i < (size_t)M * ldc; i++) C0[i] = (float)(urand() * 2 - 1);
    for (int j = 0; j < N; j++) bias[j] = (float)(urand() - 0.5);
    matmul_packed_b pb;
    int rc = matmul_pack_b_bf16(&pb, transB, K, N, B, ldb);
    CHECK(rc == 0, "pack %dx%d: rc %d", K, N, rc);
    if (rc) goto done;
    for (int kk = 0; kk < nk; kk++) {
        matmul_force_bf16_kernel(ids[kk]);
        memcpy(C, C0, sizeof(float) * (size_t)M * ldc);
        matmul_prepacked(transA, M, alpha, A, lda, &pb, beta, C, ldc, use_bias ? bias : NULL, act);
        if (ids[kk] == 3) memcpy(Cs, C, sizeof(float) * (size_t)M * ldc);
        double worst = 0, worst_s = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double s = 0, scale = 0;
                for (int k = 0; k < K; k++) {
                    double a = transA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                    double b = transB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                    s += a * b;
                    scale += fabs(a * b);
                }
                double pre = alpha * s + beta * C0[(size_t)i * ldc + j] + (use_bias ? bias[j] : 0);
                double ref = act_ref(pre, act);
                /* the activations' slopes are at most ~1.13; the floor covers the fp32 rounding of C
                 * itself, which dominates when the product is tiny next to beta*C or the bias */
                double sc = fabs(alpha) * scale + 1e-5 * (fabs(pre) + 1);
                double d = fabs(C[(size_t)i * ldc + j] - ref) / sc;
                if (!(d <= worst)) worst = d;
                if (ids[kk] != 3) {
                    double ds = fabs(C[(size_t)i * ldc + j] - Cs[(size_t)i * ldc + j]) / sc;
                    if (!(ds <= worst_s)) worst_s = ds;
                }
            }
        if (worst > g_worst[ids[kk]]) g_worst[ids[kk]] = worst;
        CHECK(worst <= 1e-2, "%s M=%d N=%d K=%d tA=%d tB=%d beta=%g act=%d: error %.3g of |A||B|", kernels[kk], M, N, K,
              transA, transB, beta, act, worst);
        if (ids[kk] != 3)
            CHECK(worst_s <= 1e-5, "%s vs plain loops M=%d N=%d K=%d: %.3g of |A||B|", kernels[kk], M, N, K, worst_s);
    }
    matmul_force_bf16_kernel(0);
    matmul_packed_b_free(&pb);
done:
    free(A); free(B); free(C0); free(C); free(Cs); free(bias);
}

static void golden_model(void) {
    clip_error e = {0};
    clip_load_opts o = {.activation = -1, .precision = CLIP_PRECISION_BF16};
    clip_model *m = clip_model_load(G "tiny-vit/model.safetensors", &o, &e);
    CHECK(m != NULL, "%s", e.msg);
    if (!m) return;
    CHECK(clip_model_precision(m) == CLIP_PRECISION_BF16, "precision reported");
    npy_array px = tu_load_npy(G "images/pixels_32.npy"), tok = tu_load_npy(G "tokens.npy");
    npy_array gi = tu_load_npy(G "tiny-vit/image_features.npy"), gt = tu_load_npy(G "tiny-vit/text_features.npy");
    float img[4 * 32], txt[6 * 32];
    CHECK(clip_encode_image(m, px.data, 4, img, &e) == 0, "%s", e.msg);
    CHECK(clip_encode_text(m, tok.data, 6, txt, &e) == 0, "%s", e.msg);
    double ri = tu_rel_err(img, gi.data, 4 * 32), rt = tu_rel_err(txt, gt.data, 6 * 32), ci = tu_min_cosine(img, gi.data, 4, 32), ct = tu_min_cosine(txt, gt.data, 6, 32);
    fprintf(stderr, "bf16 (%s) vs golden: image rel err %.3g, min cosine %.6f; text rel err %.3g, min cosine %.6f\n",
            matmul_bf16_kernel(), ri, ci, rt, ct);
    CHECK(ri <= 2e-2 && ci >= 0.999, "image features: rel err %.3g, cosine %.6f", ri, ci);
    CHECK(rt <= 2e-2 && ct >= 0.999, "text features: rel err %.3g, cosine %.6f", rt, ct);
    /* the hooked (unfused) forward runs the same bf16 products */
    float img2[4 * 32];
    m->hook = tu_hook_nop;
    CHECK(clip_encode_image(m, px.data, 4, img2, &e) == 0, "%s", e.msg);
    m->hook = NULL;
    CHECK(tu_rel_err(img2, img, 4 * 32) < 1e-5, "hooked vs fused bf16 forward: %g", tu_rel_err(img2, img, 4 * 32));
    CHECK(clip_encode_image(m, px.data, 4, img2, &e) == 0 && !memcmp(img, img2, sizeof img), "bf16 encode is repeatable");
    /* the fp32 weights are gone: saving and training refuse */
    CHECK(clip_model_save(m, "build/test_bf16.safetensors", &e) == CLIP_ERR_UNSUPPORTED, "save refuses a bf16 model");
    CHECK(strstr(e.msg, "bf16") != NULL, "save's message names bf16: %s", e.msg);
    CHECK(model_unpack(m, &e) == CLIP_ERR_UNSUPPORTED, "unpack (training) refuses a bf16 model");
    o.precision = 7;
    CHECK(clip_model_load(G "tiny-vit/model.safetensors", &o, &e) == NULL && e.status == CLIP_ERR_INVALID, "bad precision refused");
    npy_free(&px); npy_free(&tok); npy_free(&gi); npy_free(&gt);
    clip_model_free(m);
}

int main(void) {
    const char *names[3];
    int ids[3], nk = 0;
    CHECK(clip_precision_from_name("bf16") == CLIP_PRECISION_BF16 && clip_precision_from_name("fp32") == 0 &&
          clip_precision_from_name("fp16") == -1, "precision names");
    const char *k = matmul_bf16_kernel();
    matmul_force_bf16_kernel(1);
    int amx = k && !strcmp(matmul_bf16_kernel(), "amx-bf16");
    matmul_force_bf16_kernel(2);
    int avx = k && !strcmp(matmul_bf16_kernel(), "avx512-bf16");
    matmul_force_bf16_kernel(0);
    names[nk] = "plain loops"; ids[nk++] = 3; /* first: the vector kernels are compared with it */
    if (amx) { names[nk] = "amx-bf16"; ids[nk++] = 1; }
    if (avx) { names[nk] = "avx512-bf16"; ids[nk++] = 2; }
    fprintf(stderr, "bf16 kernels here: AMX %s, AVX512_BF16 %s\n", amx ? "yes" : "no (skipped)", avx ? "yes" : "no (skipped)");
    if (!k) {
        /* no bf16 on this CPU: the packers and the loader must refuse, clearly */
        fprintf(stderr, "no bf16 kernel: checking the refusals only (GEMM and golden checks skipped)\n");
        matmul_packed_b pb;
        float w[64] = {0};
        CHECK(matmul_pack_b_bf16(&pb, 1, 8, 8, w, 8) == CLIP_ERR_UNSUPPORTED, "pack refuses without bf16");
        clip_error e = {0};
        clip_load_opts o = {.activation = -1, .precision = CLIP_PRECISION_BF16};
        CHECK(clip_model_load(G "tiny-vit/model.safetensors", &o, &e) == NULL && e.status == CLIP_ERR_UNSUPPORTED,
              "load refuses bf16 here");
        CHECK(strstr(e.msg, "AVX512_BF16") != NULL, "message says what is missing: %s", e.msg);
        TEST_END();
    }
    static const int Ms[] = {1, 2, 13, 14, 15, 16, 17, 31, 32, 33, 50, 77, 130};
    static const int Ns[] = {1, 7, 16, 31, 32, 33, 64, 70, 96};
    static const int Ks[] = {1, 2, 3, 17, 31, 32, 33, 64, 100, 200};
    for (int t = 0; t < 40; t++)
        gemm_case(Ms[irand(13)], Ns[irand(9)], Ks[irand(10)], irand(4) == 0, irand(2), names, ids, nk);
    /* threaded (over 4 MFLOP) and deep: one with the N split, one with the M split */
    clip_set_threads(2);
    gemm_case(50, 96, 768, 0, 1, names, ids, nk);
    gemm_case(300, 64, 512, 0, 1, names, ids, nk);
    clip_set_threads(0);
    for (int i = 0; i < nk; i++) fprintf(stderr, "%s: worst GEMM error %.3g of |A||B|\n", names[i], g_worst[ids[i]]);
    golden_model();
    TEST_END();
}
