/* fp16-exact weights (matmul layout 4): for a B whose values are all fp16 numbers, the fp16
 * panels must give C bitwise equal to the fp32 panels, on every path the driver takes (one A
 * block with the first tile widening the panel for the others; several A blocks widened per
 * block; row counts at and around the 14-row tile and the 84-row block; depths across the
 * 256 and 768 blocks; bias, activation, beta), on 1 and 2 threads; unpacking must give B back bitwise;
 * a B with one non-fp16 value must be refused and left untouched. Then a whole model: the
 * golden tiny ViT saved in f16 encodes bitwise equal with and without fp16 storage, and through
 * its packed file (version 2, 'h' matrices, mapped), plain and bf16 loads of it, and saves. */
#include "testutil.h"
#include "core/matmul.h"
#include "core/gemm_avx512.h"
#include "io/safetensors.h"
#include "model/model.h"
#include <stdint.h>

static unsigned long long rng = 0x9E3779B97F4A7C15ull;
static float urand(void) { /* xorshift64, uniform in [-1, 1) */
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((double)(rng >> 11) / (double)(1ull << 52) - 1.0);
}
/* An fp16 number: 11 significant bits, exponents from subnormal to large. */
static float f16val(int i) {
    float v = (float)((int)(urand() * 2048)) / 1024.0f; /* [-2, 2) in steps of 2^-10 */
    if (i % 97 == 0) v = ldexpf((float)((int)(urand() * 1024)), -24); /* subnormal fp16 */
    if (i % 101 == 0) v = -0.0f;
    if (i % 103 == 0) v = 65504.0f;
    return v;
}

static float *alloc64(size_t n) { return aligned_alloc(64, (n * sizeof(float) + 63) & ~(size_t)63); }

static void check_product(int tA, int tB, int M, int N, int K, float beta, int with_bias, matmul_act act) {
    size_t nb = (size_t)K * N;
    float *B = alloc64(nb), *B32 = alloc64(nb), *orig = malloc(nb * sizeof(float)), *tmp = malloc(nb * sizeof(float));
    float *A = malloc((size_t)M * K * sizeof(float)), *bias = malloc(N * sizeof(float));
    float *C0 = malloc((size_t)M * N * sizeof(float)), *C16 = malloc((size_t)M * N * sizeof(float)),
          *C32 = malloc((size_t)M * N * sizeof(float));
    for (size_t i = 0; i < nb; i++) orig[i] = B[i] = B32[i] = f16val((int)i);
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = urand();
    for (int j = 0; j < N; j++) bias[j] = urand();
    for (size_t i = 0; i < (size_t)M * N; i++) C0[i] = urand();
    memcpy(C16, C0, (size_t)M * N * sizeof(float));
    memcpy(C32, C0, (size_t)M * N * sizeof(float));
    matmul_packed_b p16, p32;
    int r16 = matmul_pack_b_inplace_f16(&p16, tB, K, N, B, tmp);
    int r32 = matmul_pack_b_inplace(&p32, tB, K, N, B32, tmp);
    CHECK(r16 == 0 && p16.layout == 4 && p16.bytes == nb * 2, "M=%d N=%d K=%d: f16 pack rc %d layout %d", M, N, K, r16, p16.layout);
    CHECK(r32 == 0, "fp32 pack rc %d", r32);
    if (!r16 && !r32) {
        const float *bb = with_bias ? bias : NULL;
        int lda = tA ? M : K;
        matmul_prepacked(tA, M, 0.75f, A, lda, &p16, beta, C16, N, bb, act);
        matmul_prepacked(tA, M, 0.75f, A, lda, &p32, beta, C32, N, bb, act);
        CHECK(!memcmp(C16, C32, (size_t)M * N * sizeof(float)), "tA=%d tB=%d M=%d N=%d K=%d beta=%g bias=%d act=%d: fp16 panels differ from fp32",
              tA, tB, M, N, K, beta, with_bias, act);
        matmul_unpack_b_to(&p16, tB, B, tmp);
        CHECK(!memcmp(B, orig, nb * sizeof(float)), "M=%d N=%d K=%d: unpacking the fp16 panels did not give B back", M, N, K);
        matmul_unpack_b_to(&p32, tB, B32, tmp);
    }
    free(B); free(B32); free(orig); free(tmp); free(A); free(bias); free(C0); free(C16); free(C32);
}

static void check_refusals(void) {
    int K = 64, N = 64;
    float *B = alloc64((size_t)K * N), *keep = malloc((size_t)K * N * sizeof(float)), *tmp = malloc((size_t)K * N * sizeof(float));
    for (int i = 0; i < K * N; i++) keep[i] = B[i] = f16val(i);
    B[K * N - 1] = keep[K * N - 1] = 1.0f + ldexpf(1.0f, -12);   /* 13 significant bits: not fp16 */
    matmul_packed_b pb;
    CHECK(matmul_pack_b_inplace_f16(&pb, 1, K, N, B, tmp) == CLIP_ERR_UNSUPPORTED, "a non-fp16 value was accepted");
    CHECK(!memcmp(B, keep, (size_t)K * N * sizeof(float)) && pb.data == NULL, "refusal touched B");
    B[K * N - 1] = keep[K * N - 1] = 70000.0f;   /* past fp16's range */
    CHECK(matmul_pack_b_inplace_f16(&pb, 1, K, N, B, tmp) == CLIP_ERR_UNSUPPORTED, "70000 was accepted as fp16");
    B[K * N - 1] = keep[K * N - 1] = ldexpf(1.0f, -25);   /* below fp16's smallest subnormal */
    CHECK(matmul_pack_b_inplace_f16(&pb, 1, K, N, B, tmp) == CLIP_ERR_UNSUPPORTED, "2^-25 was accepted as fp16");
    B[K * N - 1] = keep[K * N - 1] = 0.5f;
    matmul_force_f16_weights(1);
    CHECK(matmul_pack_b_inplace_f16(&pb, 1, K, N, B, tmp) == CLIP_ERR_UNSUPPORTED, "switched off, yet packed");
    matmul_force_f16_weights(0);
    CHECK(matmul_pack_b_inplace_f16(&pb, 1, K, N, B, tmp) == 0, "an fp16-exact matrix was refused");
    free(B); free(keep); free(tmp);
}

/* The golden tiny ViT saved as f16 (as OpenAI publishes its checkpoints): loaded with fp16
 * panels and with fp32 panels, the features are bitwise equal; so are they after a packed save
 * (which holds fp32 panels) and a plain f32 save (which unpacks the fp16 panels) of that model. */
#define G "tests/data/golden/"
#define OUT "build/test_f16w"
typedef struct { float img[4 * 32], txt[6 * 32]; } feats;

static int encode_opts(const char *path, int no_f16, const clip_load_opts *o, feats *f) {
    clip_error e = {0};
    matmul_force_f16_weights(no_f16);
    clip_model *m = clip_model_load(path, o, &e);
    matmul_force_f16_weights(0);
    CHECK(m != NULL, "load %s: %s", path, e.msg);
    if (!m) return -1;
    npy_array px = tu_load_npy(G "images/pixels_32.npy"), tok = tu_load_npy(G "tokens.npy");
    int rc = clip_encode_image(m, px.data, 4, f->img, &e);
    if (!rc) rc = clip_encode_text(m, tok.data, 6, f->txt, &e);
    CHECK(rc == 0, "encode %s: %s", path, e.msg);
    npy_free(&px); npy_free(&tok);
    clip_model_free(m);
    return rc;
}
static int encode(const char *path, int no_f16, feats *f) { return encode_opts(path, no_f16, NULL, f); }

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void check_model(void) {
    clip_error e = {0};
    (void)system("mkdir -p " OUT);
    clip_model *m = clip_model_load(G "tiny-vit/model.safetensors", NULL, &e);
    CHECK(m != NULL, "load: %s", e.msg);
    if (!m) return;
    CHECK(clip_model_save_dtype(m, OUT "/f16.safetensors", CLIP_DTYPE_F16, &e) == 0, "save f16: %s", e.msg);
    clip_model_free(m);
    feats a, b, c;
    if (encode(OUT "/f16.safetensors", 0, &a) || encode(OUT "/f16.safetensors", 1, &b)) return;
    CHECK(!memcmp(&a, &b, sizeof a), "features differ between fp16 and fp32 panels");

    /* a packed file of the fp16-panel model: version 2, precision fp32, matrices 'h' */
    m = clip_model_load(OUT "/f16.safetensors", NULL, &e);
    CHECK(m && clip_model_save_packed(m, OUT "/packed.safetensors", &e) == 0, "save packed: %s", e.msg);
    CHECK(m && clip_model_save(m, OUT "/f32.safetensors", &e) == 0, "save f32: %s", e.msg);
    clip_model_free(m);
    matmul_force_f16_weights(1);   /* the same model with fp32 panels: a version 1 file */
    m = clip_model_load(OUT "/f16.safetensors", NULL, &e);
    CHECK(m && clip_model_save_packed(m, OUT "/packed32.safetensors", &e) == 0, "save packed fp32: %s", e.msg);
    clip_model_free(m);
    matmul_force_f16_weights(0);
    st_file f;
    if (st_open(OUT "/packed.safetensors", &f, &e) == 0) {
        const char *v = st_meta(&f, "clip_packed_version"), *p = st_meta(&f, "precision"), *mask = st_meta(&f, "packed");
        CHECK(v && !strcmp(v, "2") && p && !strcmp(p, "fp32") && mask && strchr(mask, 'h'), "packed header: version %s precision %s mask %s",
              v ? v : "-", p ? p : "-", mask ? mask : "-");
        st_close(&f);
    } else CHECK(0, "open packed: %s", e.msg);
    long s16 = file_size(OUT "/packed.safetensors"), s32 = file_size(OUT "/packed32.safetensors");
    CHECK(s16 > 0 && s32 > 0 && s16 < s32, "the fp16-panel packed file (%ld bytes) is not smaller than the fp32 one (%ld)", s16, s32);
    if (!encode(OUT "/packed.safetensors", 0, &c)) CHECK(!memcmp(&a, &c, sizeof a), "packed v2 file: features differ");
    if (!encode(OUT "/packed32.safetensors", 0, &c)) CHECK(!memcmp(&a, &c, sizeof a), "packed v1 file: features differ");
    if (!encode(OUT "/f32.safetensors", 1, &c)) CHECK(!memcmp(&a, &c, sizeof a), "f32 file from fp16 panels: features differ");
    clip_load_opts plain = {.activation = -1, .plain_weights = 1};
    if (!encode_opts(OUT "/packed.safetensors", 0, &plain, &c)) CHECK(!memcmp(&a, &c, sizeof a), "packed v2 file, plain weights: features differ");
    /* saved from the mapped file: the fp16 panels lie in the file, unpacked into the block */
    m = clip_model_load(OUT "/packed.safetensors", NULL, &e);
    CHECK(m && clip_model_save(m, OUT "/f32b.safetensors", &e) == 0, "save f32 from the mapped file: %s", e.msg);
    clip_model_free(m);
    if (!encode(OUT "/f32b.safetensors", 1, &c)) CHECK(!memcmp(&a, &c, sizeof a), "f32 file from the mapped v2 file: features differ");
    if (matmul_bf16_kernel()) {   /* another precision from the fp32 v2 file: as from the checkpoint */
        clip_load_opts bf = {.activation = -1, .precision = CLIP_PRECISION_BF16};
        if (!encode_opts(OUT "/packed.safetensors", 0, &bf, &b) && !encode_opts(OUT "/f16.safetensors", 0, &bf, &c))
            CHECK(!memcmp(&b, &c, sizeof b), "bf16 from the packed v2 file differs from bf16 from the checkpoint");
    }
}

/* Some matrices fp16-exact, some not (one value nudged off the fp16 grid): mixed panels, and a
 * packed file mixing '1' and 'h' matrices that loads back with the same features. */
static void check_mixed(void) {
    clip_error e = {0};
    clip_load_opts plain = {.activation = -1, .plain_weights = 1};
    clip_model *m = clip_model_load(OUT "/f16.safetensors", &plain, &e);
    CHECK(m != NULL, "load: %s", e.msg);
    if (!m) return;
    m->p.v_tf.fc_w[5] = nextafterf(m->p.v_tf.fc_w[5], 1.0f);   /* layer 0's c_fc: 24 significant bits */
    CHECK(model_pack(m, &e) == 0, "pack: %s", e.msg);
    int total = 0, nh = clip_model_fp16_matrices(m, &total);
    CHECK(nh == total - 1 && total > 1, "mixed model: %d of %d matrices as fp16 (want all but one)", nh, total);
    feats a, b;
    npy_array px = tu_load_npy(G "images/pixels_32.npy"), tok = tu_load_npy(G "tokens.npy");
    CHECK(clip_encode_image(m, px.data, 4, a.img, &e) == 0 && clip_encode_text(m, tok.data, 6, a.txt, &e) == 0, "encode: %s", e.msg);
    CHECK(clip_model_save_packed(m, OUT "/mixed.safetensors", &e) == 0, "save packed: %s", e.msg);
    clip_model_free(m);
    st_file f;
    if (st_open(OUT "/mixed.safetensors", &f, &e) == 0) {
        const char *mask = st_meta(&f, "packed");
        CHECK(mask && strchr(mask, 'h') && strchr(mask, '1'), "mixed packed mask %s", mask ? mask : "-");
        st_close(&f);
    }
    if (!encode(OUT "/mixed.safetensors", 0, &b)) CHECK(!memcmp(&a, &b, sizeof a), "mixed packed file: features differ");
    npy_free(&px); npy_free(&tok);
}

int main(void) {
    if (!gemm_avx512_available()) {
        fprintf(stderr, "test_f16w: no AVX-512 on this CPU: fp16 panels are not used; checking the refusal only\n");
        float B[64 * 32] = {0}, tmp[64 * 32];
        matmul_packed_b pb;
        CHECK(matmul_pack_b_inplace_f16(&pb, 1, 64, 32, B, tmp) == CLIP_ERR_UNSUPPORTED, "packed without AVX-512");
        TEST_END();
    }
    static const int Ms[] = {1, 12, 13, 14, 15, 28, 50, 77, 84, 85, 170, 400};
    for (int t = 1; t <= 2; t++) {
        matmul_set_threads(t);
        for (size_t i = 0; i < sizeof Ms / sizeof *Ms; i++) {
            int M = Ms[i];
            check_product(i & 1, 1, M, 96, 300, 0.0f, 1, MATMUL_ACT_QUICKGELU);
            check_product(0, i & 1, M, 64, 256, 1.0f, 0, MATMUL_ACT_NONE);
            check_product(1, 0, M, 1056, 40, 0.5f, 1, MATMUL_ACT_GELU);   /* two column blocks (NC 1024) */
            if (i % 3 == 0) check_product(0, 1, M, 64, 800, 1.0f, 1, MATMUL_ACT_NONE); /* two depth blocks (768) */
        }
    }
    matmul_set_threads(0);
    check_refusals();
    check_model();
    check_mixed();
    TEST_END();
}
