/* Packed bf16 and int8 model files (model/native.c, version 2): the golden tiny ViT loaded at
 * each precision and written packed must load back mapped, at that precision, with bitwise the
 * features of the original loaded at that precision (same packed bytes, same kernel). A wrong
 * precision, a truncated file or an edited header is a clean error. Skipped (with a note) where
 * the CPU lacks the precision's kernel. */
#include "testutil.h"
#include "model/model.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "core/matmul.h"

#define G "tests/data/golden/"
#define OUT "build/test_native_q"

static npy_array px, tok;

typedef struct { float img[4 * 32], txt[6 * 32]; } feats;

static void encode(clip_model *m, feats *f) {
    clip_error e = {0};
    int rc = clip_encode_image(m, px.data, 4, f->img, &e);
    if (!rc) rc = clip_encode_text(m, tok.data, 6, f->txt, &e);
    CHECK(rc == 0, "encode: %s", e.msg);
}

static clip_model *load(const char *path, int precision) {
    clip_error e = {0};
    clip_load_opts o = {.activation = -1, .precision = precision};
    clip_model *m = clip_model_load(path, &o, &e);
    CHECK(m != NULL, "load %s: %s", path, e.msg);
    return m;
}

/* Loading path at precision must fail with status want (0: any) and a message containing needle. */
static void expect_fail(const char *path, int precision, int want, const char *needle, const char *what) {
    clip_error e = {0};
    clip_load_opts o = {.activation = -1, .precision = precision};
    clip_model *m = clip_model_load(path, &o, &e);
    CHECK(!m && (!want || e.status == want) && (!needle || strstr(e.msg, needle)), "%s: status %d, '%s'", what, e.status, e.msg);
    clip_model_free(m);
}

/* The file d with the first occurrence of from in its header replaced by to (same length) must
 * fail to load, and fail native_check too (the fuzzer's path). */
static void corrupt(const char *d, size_t n, int precision, const char *from, const char *to, int want, const char *needle) {
    char *c = malloc(n);
    memcpy(c, d, n);
    char *p = memmem(c, n < 16384 ? n : 16384, from, strlen(from));
    CHECK(p && strlen(from) == strlen(to), "corrupt: '%s' not in the header", from);
    if (p) {
        memcpy(p, to, strlen(to));
        tu_spit(OUT "/bad.safetensors", c, n);
        expect_fail(OUT "/bad.safetensors", precision, want, needle, from);
        st_file f;
        clip_error e = {0};
        if (st_parse((const uint8_t *)c, n, "mem", &f, &e) == 0) {
            CHECK(native_check(&f, (const uint8_t *)c, "mem", &e) != 0, "native_check took '%s'", to);
            st_close(&f);
        }
    }
    free(c);
}

static void one(int precision) {
    const char *name = precision == CLIP_PRECISION_BF16 ? "bf16" : "int8";
    const char *kernel = precision == CLIP_PRECISION_BF16 ? matmul_bf16_kernel() : matmul_int8_kernel();
    if (!kernel) { printf("note: no %s kernel on this CPU: packed %s files not tested\n", name, name); return; }
    char path[256], again[256], viap[256];
    snprintf(path, sizeof path, OUT "/%s.safetensors", name);
    snprintf(again, sizeof again, OUT "/%s_again.safetensors", name);
    snprintf(viap, sizeof viap, OUT "/%s_via_packed.safetensors", name);
    clip_error e = {0};
    feats ref, got;
    clip_model *m = load(G "tiny-vit/model.safetensors", precision);
    if (!m) return;
    encode(m, &ref);
    CHECK(clip_model_save_packed(m, path, &e) == 0, "save packed %s: %s", name, e.msg);
    clip_model_free(m);

    clip_model *q = load(path, precision);
    if (q) {
        CHECK(clip_model_is_mapped(q) && q->packed && clip_model_precision(q) == precision, "%s file: mapped at its precision", name);
        CHECK(((uintptr_t)q->params & 4095) == 0, "block page-aligned");
        int nq = 0;
        for (int i = 0; i < q->npk; i++) {
            const matmul_packed_b *b = q->pk + i;
            CHECK(!b->owned, "matrix %d owned", i);
            if (b->layout == 2 || b->layout == 3) {
                nq++;
                CHECK((uint8_t *)b->data >= (uint8_t *)q->map && (uint8_t *)b->data + b->bytes <= (uint8_t *)q->map + q->map_len &&
                      ((uintptr_t)b->data & 63) == 0, "matrix %d lies in the mapping, aligned", i);
            }
        }
        CHECK(nq > 0 && (precision != CLIP_PRECISION_BF16 || nq == q->npk), "%s file: %d of %d matrices quantized", name, nq, q->npk);
        encode(q, &got);
        CHECK(!memcmp(&got, &ref, sizeof got), "%s file: features differ from the original loaded at %s", name, name);
        CHECK_CLOSE_NPY(got.img, 4 * 32, G "tiny-vit/image_features.npy", 5e-2);
        /* written again from the mapped model: the same file */
        CHECK(clip_model_save_packed(q, again, &e) == 0, "save again: %s", e.msg);
        clip_model_free(q);
    }
    /* from the fp32 packed file (mapped, converted): the same file too */
    clip_model *f32 = load(G "tiny-vit/model.safetensors", CLIP_PRECISION_FP32);
    if (f32) CHECK(clip_model_save_packed(f32, OUT "/fp32.safetensors", &e) == 0, "%s", e.msg);
    clip_model_free(f32);
    clip_model *vp = load(OUT "/fp32.safetensors", precision);
    if (vp) CHECK(clip_model_save_packed(vp, viap, &e) == 0, "%s", e.msg);
    clip_model_free(vp);
    size_t n, n2, n3, nf;
    char *d = tu_slurp(path, &n), *d2 = tu_slurp(again, &n2), *d3 = tu_slurp(viap, &n3), *df = tu_slurp(OUT "/fp32.safetensors", &nf);
    CHECK(d && d2 && n == n2 && !memcmp(d, d2, n), "%s: a mapped model writes its own file back byte for byte", name);
    CHECK(d && d3 && n == n3 && !memcmp(d, d3, n), "%s: from the fp32 packed file, the same file", name);
    /* the tiny model is mostly its token embedding (fp32 in both): smaller, not by half */
    CHECK(d && df && n < nf, "%s file %zu bytes, fp32 %zu", name, n, nf);
    free(d2); free(d3); free(df);
    if (!d) return;

    /* wrong precisions, and no opts (fp32) */
    int other = precision == CLIP_PRECISION_BF16 ? CLIP_PRECISION_INT8 : CLIP_PRECISION_BF16;
    expect_fail(path, CLIP_PRECISION_FP32, CLIP_ERR_INVALID, name, "fp32 requested");
    expect_fail(path, other, CLIP_ERR_INVALID, name, "the other precision requested");
    {
        clip_error e2 = {0};
        clip_model *x = clip_model_load(path, NULL, &e2);
        CHECK(!x && e2.status == CLIP_ERR_INVALID, "NULL opts: %s", e2.msg);
        clip_model_free(x);
    }
    /* every cut fails cleanly */
    size_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | (uint8_t)d[i];
    CHECK((8 + hl) % 4096 == 0, "data starts 4096-aligned");
    size_t cuts[] = {0, 8, 8 + hl - 1, 8 + hl, 8 + hl + 4096, n / 2, n - 4096, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        tu_spit(OUT "/bad.safetensors", d, cuts[i]);
        expect_fail(OUT "/bad.safetensors", precision, CLIP_ERR_FORMAT, NULL, "truncated");
    }
    /* edited header fields (same length: the offsets still hold) */
    corrupt(d, n, precision, "\"clip_packed_version\":\"2\"", "\"clip_packed_version\":\"3\"", CLIP_ERR_UNSUPPORTED, "version");
    corrupt(d, n, precision, "\"clip_packed_version\":\"2\"", "\"clip_packed_version\":\"1\"", CLIP_ERR_FORMAT, "F32");
    corrupt(d, n, precision, "\"panel_width\":\"32\"", "\"panel_width\":\"16\"", CLIP_ERR_UNSUPPORTED, "panel width");
    corrupt(d, n, precision, precision == CLIP_PRECISION_BF16 ? "\"precision\":\"bf16\"" : "\"precision\":\"int8\"",
            "\"precision\":\"fp32\"", CLIP_ERR_FORMAT, "precision");
    /* the other precision's name: its mask (and sizes) do not fit */
    corrupt(d, n, other, precision == CLIP_PRECISION_BF16 ? "\"precision\":\"bf16\"" : "\"precision\":\"int8\"",
            precision == CLIP_PRECISION_BF16 ? "\"precision\":\"int8\"" : "\"precision\":\"bf16\"", CLIP_ERR_FORMAT, NULL);
    corrupt(d, n, precision, precision == CLIP_PRECISION_BF16 ? "\"packed\":\"b" : "\"packed\":\"q",
            precision == CLIP_PRECISION_BF16 ? "\"packed\":\"q" : "\"packed\":\"b", CLIP_ERR_FORMAT, "matrix 0");
    corrupt(d, n, precision, precision == CLIP_PRECISION_BF16 ? "\"packed\":\"b" : "\"packed\":\"q", "\"packed\":\"1",
            CLIP_ERR_FORMAT, NULL);
    corrupt(d, n, precision, "\\\"vision_layers\\\":2", "\\\"vision_layers\\\":1", CLIP_ERR_FORMAT, NULL);
    corrupt(d, n, precision, "\\\"vocab_size\\\":49408", "\\\"vocab_size\\\":49407", CLIP_ERR_FORMAT, "params");
    corrupt(d, n, precision, "\\\"embed_dim\\\":32", "\\\"embed_dim\\\":64", CLIP_ERR_FORMAT, NULL);
    corrupt(d, n, precision, "\"pk.0\"", "\"pk.X\"", CLIP_ERR_FORMAT, "pk.0");
    corrupt(d, n, precision, "\"dtype\":\"U8\"", "\"dtype\":\"I8\"", CLIP_ERR_FORMAT, NULL);
    /* the header validator on the intact image, as the fuzzer drives it */
    st_file f;
    CHECK(st_parse((const uint8_t *)d, n, "mem", &f, &e) == 0 && native_check(&f, (const uint8_t *)d, "mem", &e) == 0, "native_check: %s", e.msg);
    st_close(&f);
    free(d);
}

/* The tiny ResNet: only its text tower has Linears (and its projection lies unaligned in the
 * block, so int8 leaves it plain: the mask must say so). */
static void rn(int precision) {
    if (!(precision == CLIP_PRECISION_BF16 ? matmul_bf16_kernel() : matmul_int8_kernel())) return;
    clip_error e = {0};
    clip_model *m = load(G "tiny-rn/model.safetensors", precision), *q = NULL;
    npy_array rpx = tu_load_npy(G "images/pixels_64.npy");
    static float a[4 * 1024], b[4 * 1024], ta[6 * 1024], tb[6 * 1024];
    if (m && m->cfg.embed_dim <= 1024 && rpx.count >= (size_t)4 * 3 * m->cfg.image_size * m->cfg.image_size) {
        int E = m->cfg.embed_dim;
        CHECK(clip_encode_image(m, rpx.data, 4, a, &e) == 0 && clip_encode_text(m, tok.data, 6, ta, &e) == 0, "%s", e.msg);
        CHECK(clip_model_save_packed(m, OUT "/rn.safetensors", &e) == 0, "%s", e.msg);
        if ((q = load(OUT "/rn.safetensors", precision))) {
            CHECK(clip_encode_image(q, rpx.data, 4, b, &e) == 0 && clip_encode_text(q, tok.data, 6, tb, &e) == 0, "%s", e.msg);
            CHECK(!memcmp(a, b, (size_t)4 * E * sizeof(float)) && !memcmp(ta, tb, (size_t)6 * E * sizeof(float)),
                  "RN packed precision %d: features differ", precision);
        }
    }
    npy_free(&rpx);
    clip_model_free(m);
    clip_model_free(q);
}

int main(void) {
    if (system("mkdir -p " OUT) != 0) return 1;
    px = tu_load_npy(G "images/pixels_32.npy");
    tok = tu_load_npy(G "tokens.npy");
    one(CLIP_PRECISION_BF16);
    one(CLIP_PRECISION_INT8);
    rn(CLIP_PRECISION_BF16);
    rn(CLIP_PRECISION_INT8);
    npy_free(&px); npy_free(&tok);
    TEST_END();
}
