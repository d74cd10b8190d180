/* int8 inference (clip_load_opts.precision = CLIP_PRECISION_INT8; docs/performance.md "int8").
 * 1. Exactness: with integer A and B whose every row of op(A) and column of op(B) reaches 127
 *    (so both quantization scales are exactly 1), every kernel this CPU has (AMX-INT8,
 *    AVX512_VNNI, the plain loops) must return the integer sums EXACTLY (tolerance 0; they fit
 *    in float's 24 bits), against an int64 reference computed here, on odd shapes.
 * 2. Quantization: on random floats, all epilogues, every kernel stays within the worst-case
 *    rounding bound of symmetric per-row / per-column int8 (half a step on each operand), and
 *    the vector kernels agree with the plain loops to 1e-5 of |alpha||A||B| + |result| + 1.
 * 3. The tiny golden model in int8 against its golden (OpenAI fp32) features: relative error
 *    max|d| / max|ref| and cosine per row about 3x looser than measured (image 4.2e-3, cosine
 *    0.99998; text 2.8e-2, cosine 0.9994: docs/performance.md "int8"); saving and training
 *    refuse; bad precision names and values are refused.
 * A kernel the CPU lacks is skipped with a note; without any, the refusals are checked. */
#include "testutil.h"
#include "core/matmul.h"
#include "model/model.h"

#define G "tests/data/golden/"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double urand(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (double)(rng >> 11) / 9007199254740992.0; }
static int irand(int n) { return (int)(urand() * n); }

static const char *names[3];
static int ids[3], nk;

static double act_ref(double x, int act) {
    if (act == MATMUL_ACT_QUICKGELU) return x / (1.0 + exp(-1.702 * x));
    if (act == MATMUL_ACT_GELU) return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    return x;
}

/* 1: integer operands in [-127, 127], one +-127 per row of op(A) and per column of op(B). */
static void exact_case(int M, int N, int K, int transA, int transB) {
    int lda = (transA ? M : K) + irand(3), ldb = (transB ? K : N) + irand(3), ldc = N + irand(3);
    float *A = calloc((size_t)(transA ? K : M) * lda, sizeof(float)), *B = calloc((size_t)(transB ? N : K) * ldb, sizeof(float));
    float *C = malloc(sizeof(float) * (size_t)M * ldc);
    int64_t *ref = malloc(sizeof(int64_t) * (size_t)M * N);
#define AV(i, k) A[transA ? (size_t)(k) * lda + (i) : (size_t)(i) * lda + (k)]
#define BV(k, j) B[transB ? (size_t)(j) * ldb + (k) : (size_t)(k) * ldb + (j)]
    for (int i = 0; i < M; i++) {
        for (int k = 0; k < K; k++) AV(i, k) = (float)(irand(255) - 127);
        AV(i, irand(K)) = irand(2) ? 127.0f : -127.0f;
    }
    for (int j = 0; j < N; j++) {
        for (int k = 0; k < K; k++) BV(k, j) = (float)(irand(255) - 127);
        BV(irand(K), j) = irand(2) ? 127.0f : -127.0f;
    }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            int64_t s = 0;
            for (int k = 0; k < K; k++) s += (int64_t)AV(i, k) * (int64_t)BV(k, j);
            ref[(size_t)i * N + j] = s;
        }
    matmul_packed_b pb;
    int rc = matmul_pack_b_int8(&pb, transB, K, N, B, ldb);
    CHECK(rc == 0, "pack %dx%d: rc %d", K, N, rc);
    for (int kk = 0; kk < nk && !rc; kk++) {
        matmul_force_int8_kernel(ids[kk]);
        for (size_t i = 0; i < (size_t)M * ldc; i++) C[i] = NAN; /* beta = 0: C is not read */
        matmul_prepacked(transA, M, 1.0f, A, lda, &pb, 0.0f, C, ldc, NULL, MATMUL_ACT_NONE);
        long bad = 0, first = -1;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                if (C[(size_t)i * ldc + j] != (float)ref[(size_t)i * N + j]) { if (first < 0) first = (long)i * N + j; bad++; }
        CHECK(bad == 0, "%s M=%d N=%d K=%d tA=%d tB=%d: %ld sums differ from the exact ones (first at %ld: %.1f vs %lld)",
              names[kk], M, N, K, transA, transB, bad, first, first < 0 ? 0.0 : C[(size_t)(first / N) * ldc + first % N],
              first < 0 ? 0LL : (long long)ref[first]);
    }
#undef AV
#undef BV
    matmul_force_int8_kernel(0);
    matmul_packed_b_free(&pb);
    free(A); free(B); free(C); free(ref);
}

/* 2: random floats, every epilogue, against float64 with the quantization's error bound. */
static void quant_case(int M, int N, int K, int transA, int transB) {
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
    if (M > 2) for (int k = 0; k < K; k++) *(transA ? &A[(size_t)k * lda + 1] : &A[(size_t)lda + k]) = 0; /* an all-zero row */
    matmul_packed_b pb;
    int rc = matmul_pack_b_int8(&pb, transB, K, N, B, ldb);
    CHECK(rc == 0, "pack %dx%d: rc %d", K, N, rc);
    for (int kk = 0; kk < nk && !rc; kk++) {
        matmul_force_int8_kernel(ids[kk]);
        memcpy(C, C0, sizeof(float) * (size_t)M * ldc);
        matmul_prepacked(transA, M, alpha, A, lda, &pb, beta, C, ldc, use_bias ? bias : NULL, act);
        if (ids[kk] == 3) memcpy(Cs, C, sizeof(float) * (size_t)M * ldc);
        double worst = 0, worst_s = 0;
        for (int i = 0; i < M; i++) {
            double sa = 0;
            for (int k = 0; k < K; k++) sa = fmax(sa, fabs(transA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]));
            sa /= 127;
            for (int j = 0; j < N; j++) {
                double sb = 0, s = 0, bound = 0, scale = 0;
                for (int k = 0; k < K; k++) sb = fmax(sb, fabs(transB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]));
                sb /= 127;
                for (int k = 0; k < K; k++) {
                    double a = transA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                    double b = transB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                    s += a * b;
                    scale += fabs(a * b);
                    bound += fabs(a) * sb / 2 + fabs(b) * sa / 2 + sa * sb / 4; /* half a step on each */
                }
                double pre = alpha * s + beta * C0[(size_t)i * ldc + j] + (use_bias ? bias[j] : 0);
                double ref = act_ref(pre, act);
                /* activation slopes <= 1.13; the floor covers fp32 rounding of C itself */
                double sc = 1.13 * fabs(alpha) * bound + 1e-5 * (fabs(pre) + 1) + 1e-6 * scale;
                double d = fabs(C[(size_t)i * ldc + j] - ref) / sc;
                if (!(d <= worst)) worst = d;
                if (ids[kk] != 3) {
                    double ds = fabs(C[(size_t)i * ldc + j] - Cs[(size_t)i * ldc + j]) / (fabs(alpha) * scale + fabs(pre) + 1);
                    if (!(ds <= worst_s)) worst_s = ds;
                }
            }
        }
        CHECK(worst <= 1.0, "%s M=%d N=%d K=%d tA=%d tB=%d beta=%g act=%d: error %.3g of the quantization bound", names[kk],
              M, N, K, transA, transB, beta, act, worst);
        if (ids[kk] != 3)
            CHECK(worst_s <= 1e-5, "%s vs plain loops M=%d N=%d K=%d: %.3g of |A||B|", names[kk], M, N, K, worst_s);
    }
    matmul_force_int8_kernel(0);
    matmul_packed_b_free(&pb);
    free(A); free(B); free(C0); free(C); free(Cs); free(bias);
}

static void golden_model(void) {
    clip_error e = {0};
    clip_load_opts o = {.activation = -1, .precision = CLIP_PRECISION_INT8};
    clip_model *m = clip_model_load(G "tiny-vit/model.safetensors", &o, &e);
    CHECK(m != NULL, "%s", e.msg);
    if (!m) return;
    CHECK(clip_model_precision(m) == CLIP_PRECISION_INT8, "precision reported");
    npy_array px = tu_load_npy(G "images/pixels_32.npy"), tok = tu_load_npy(G "tokens.npy");
    npy_array gi = tu_load_npy(G "tiny-vit/image_features.npy"), gt = tu_load_npy(G "tiny-vit/text_features.npy");
    float img[4 * 32], txt[6 * 32];
    CHECK(clip_encode_image(m, px.data, 4, img, &e) == 0, "%s", e.msg);
    CHECK(clip_encode_text(m, tok.data, 6, txt, &e) == 0, "%s", e.msg);
    double ri = tu_rel_err(img, gi.data, 4 * 32), rt = tu_rel_err(txt, gt.data, 6 * 32), ci = tu_min_cosine(img, gi.data, 4, 32), ct = tu_min_cosine(txt, gt.data, 6, 32);
    fprintf(stderr, "int8 (%s) vs golden: image rel err %.3g, min cosine %.6f; text rel err %.3g, min cosine %.6f\n",
            matmul_int8_kernel(), ri, ci, rt, ct);
    CHECK(ri <= 1.5e-2 && ci >= 0.9999, "image features: rel err %.3g, cosine %.6f", ri, ci);
    CHECK(rt <= 8e-2 && ct >= 0.998, "text features: rel err %.3g, cosine %.6f", rt, ct);
    /* every kernel gives the same features (exact sums; only the epilogue's rounding differs) */
    for (int kk = 0; kk < nk; kk++) {
        float img2[4 * 32];
        matmul_force_int8_kernel(ids[kk]);
        CHECK(clip_encode_image(m, px.data, 4, img2, &e) == 0, "%s", e.msg);
        CHECK(tu_rel_err(img2, img, 4 * 32) < 1e-4, "%s vs automatic kernel: %g", names[kk], tu_rel_err(img2, img, 4 * 32));
    }
    matmul_force_int8_kernel(0);
    /* the hooked (unfused) forward runs the same int8 products */
    float img2[4 * 32];
    m->hook = tu_hook_nop;
    CHECK(clip_encode_image(m, px.data, 4, img2, &e) == 0, "%s", e.msg);
    m->hook = NULL;
    CHECK(tu_rel_err(img2, img, 4 * 32) < 1e-5, "hooked vs fused int8 forward: %g", tu_rel_err(img2, img, 4 * 32));
    CHECK(clip_encode_image(m, px.data, 4, img2, &e) == 0 && !memcmp(img, img2, sizeof img), "int8 encode is repeatable");
    /* the fp32 weights are gone: saving and training refuse, and so does bf16 on top */
    CHECK(clip_model_save(m, "build/test_int8.safetensors", &e) == CLIP_ERR_UNSUPPORTED, "save refuses an int8 model");
    CHECK(strstr(e.msg, "int8") != NULL, "save's message names int8: %s", e.msg);
    CHECK(model_unpack(m, &e) == CLIP_ERR_UNSUPPORTED, "unpack (training) refuses an int8 model");
    CHECK(model_pack(m, &e) == 0 && clip_model_precision(m) == CLIP_PRECISION_INT8, "model_pack leaves int8 alone");
    o.precision = 3;
    CHECK(clip_model_load(G "tiny-vit/model.safetensors", &o, &e) == NULL && e.status == CLIP_ERR_INVALID, "bad precision refused");
    npy_free(&px); npy_free(&tok); npy_free(&gi); npy_free(&gt);
    clip_model_free(m);
}

int main(void) {
    CHECK(clip_precision_from_name("int8") == CLIP_PRECISION_INT8 && clip_precision_from_name("bf16") == CLIP_PRECISION_BF16 &&
          clip_precision_from_name("fp32") == CLIP_PRECISION_FP32, "precision names");
    CHECK(clip_precision_from_name("int4") == -1 && clip_precision_from_name("INT8") == -1 &&
          clip_precision_from_name("int8 ") == -1 && clip_precision_from_name("") == -1 && clip_precision_from_name(NULL) == -1,
          "bad precision names refused");
    const char *k = matmul_int8_kernel();
    matmul_force_int8_kernel(1);
    int amx = k && !strcmp(matmul_int8_kernel(), "amx-int8");
    matmul_force_int8_kernel(2);
    int vnni = k && !strcmp(matmul_int8_kernel(), "avx512-vnni");
    matmul_force_int8_kernel(0);
    names[nk] = "plain loops"; ids[nk++] = 3; /* first: the vector kernels are compared with it */
    if (amx) { names[nk] = "amx-int8"; ids[nk++] = 1; }
    if (vnni) { names[nk] = "avx512-vnni"; ids[nk++] = 2; }
    fprintf(stderr, "int8 kernels here: AMX-INT8 %s, AVX512_VNNI %s\n", amx ? "yes" : "no (skipped)", vnni ? "yes" : "no (skipped)");
    if (!k) {
        fprintf(stderr, "no int8 kernel: checking the refusals only (GEMM and golden checks skipped)\n");
        matmul_packed_b pb;
        float w[64] = {0};
        CHECK(matmul_pack_b_int8(&pb, 1, 8, 8, w, 8) == CLIP_ERR_UNSUPPORTED, "pack refuses without int8");
        clip_error e = {0};
        clip_load_opts o = {.activation = -1, .precision = CLIP_PRECISION_INT8};
        CHECK(clip_model_load(G "tiny-vit/model.safetensors", &o, &e) == NULL && e.status == CLIP_ERR_UNSUPPORTED,
              "load refuses int8 here");
        CHECK(strstr(e.msg, "AVX512_VNNI") != NULL, "message says what is missing: %s", e.msg);
        TEST_END();
    }
    static const int Ms[] = {1, 2, 13, 14, 15, 16, 17, 31, 32, 33, 50, 77, 130};
    static const int Ns[] = {1, 7, 16, 31, 32, 33, 64, 70, 96};
    static const int Ks[] = {1, 2, 3, 5, 17, 63, 64, 65, 100, 200, 257};
    for (int t = 0; t < 40; t++) exact_case(Ms[irand(13)], Ns[irand(9)], Ks[irand(11)], irand(4) == 0, irand(2));
    for (int t = 0; t < 30; t++) quant_case(Ms[irand(13)], Ns[irand(9)], Ks[irand(11)], irand(4) == 0, irand(2));
    /* threaded (over 4 MFLOP) and deep: one with the N split, one with the M split; K near
     * float's exact limit (127^2 * 1000 < 2^24) */
    clip_set_threads(2);
    exact_case(50, 96, 1000, 0, 1);
    exact_case(300, 64, 517, 0, 1);
    quant_case(61, 96, 768, 0, 1);
    clip_set_threads(0);
    golden_model();
    TEST_END();
}
