/* clip convert's files (model/native.c, clip_model_save_dtype): the golden tiny ViT and RN
 * written packed, f32, f16 and bf16 and loaded back. Packed and f32 must give bitwise the
 * original's features (the packed block is the packed model's memory, byte for byte); f16 and
 * bf16 within their rounding; a truncated or corrupted packed file is an error, never a crash;
 * writing through a mapped model never changes its file (copy-on-write). */
#include "testutil.h"
#include "model/model.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "core/matmul.h"

#define G "tests/data/golden/"
#define OUT "build/test_native"

static npy_array px, tok;

typedef struct { float img[4 * 32], txt[6 * 32]; } feats;

static int encode(clip_model *m, feats *f) {
    clip_error e = {0};
    int rc = clip_encode_image(m, px.data, 4, f->img, &e);
    if (!rc) rc = clip_encode_text(m, tok.data, 6, f->txt, &e);
    CHECK(rc == 0, "encode: %s", e.msg);
    return rc;
}

static clip_model *load(const char *path, const clip_load_opts *o) {
    clip_error e = {0};
    clip_model *m = clip_model_load(path, o, &e);
    CHECK(m != NULL, "load %s: %s", path, e.msg);
    return m;
}

/* Loading path must fail with status want (0: any failure) and a message containing needle. */
static void expect_fail(const char *path, int want, const char *needle, const char *what) {
    clip_error e = {0};
    clip_model *m = clip_model_load(path, NULL, &e);
    CHECK(!m && (!want || e.status == want) && (!needle || strstr(e.msg, needle)), "%s: status %d, '%s'", what, e.status, e.msg);
    clip_model_free(m);
}

/* A copy of the packed file with the first occurrence of from (in the header) replaced by to
 * (same length, so every offset stays put). */
static void corrupt(const char *src, size_t n, const char *from, const char *to, int want, const char *needle) {
    char *d = malloc(n);
    memcpy(d, src, n);
    char *p = memmem(d, n < 8192 ? n : 8192, from, strlen(from));
    CHECK(p && strlen(from) == strlen(to), "corrupt: '%s' not in the header", from);
    if (p) {
        memcpy(p, to, strlen(to));
        tu_spit(OUT "/bad.safetensors", d, n);
        expect_fail(OUT "/bad.safetensors", want, needle, from);
    }
    free(d);
}

static void vit(void) {
    clip_error e = {0};
    clip_model *m = load(G "tiny-vit/model.safetensors", NULL);
    if (!m) return;
    feats ref, got;
    encode(m, &ref);
    CHECK(clip_model_is_mapped(m) == 0, "a checkpoint is read, not mapped");
    CHECK(clip_model_save_packed(m, OUT "/packed.safetensors", &e) == 0, "%s", e.msg);
    CHECK(clip_model_save_dtype(m, OUT "/f32.safetensors", CLIP_DTYPE_F32, &e) == 0, "%s", e.msg);
    CHECK(clip_model_save_dtype(m, OUT "/f16.safetensors", CLIP_DTYPE_F16, &e) == 0, "%s", e.msg);
    CHECK(clip_model_save_dtype(m, OUT "/bf16.safetensors", CLIP_DTYPE_BF16, &e) == 0, "%s", e.msg);
    CHECK(clip_model_save_dtype(m, OUT "/x.safetensors", 7, &e) == CLIP_ERR_INVALID, "bad dtype refused");

    /* the packed file: mapped, 4096-aligned block, features bitwise the original's and golden */
    clip_model *p = load(OUT "/packed.safetensors", NULL);
    if (p) {
        CHECK(clip_model_is_mapped(p) == 1 && p->packed, "packed file mapped and packed");
        CHECK(((uintptr_t)p->params & 4095) == 0, "block page-aligned in the mapping");
        CHECK(!memcmp(&p->cfg, &m->cfg, sizeof p->cfg), "config round trip");
        encode(p, &got);
        CHECK(!memcmp(&got, &ref, sizeof got), "packed: features differ from the original's");
        CHECK_CLOSE_NPY(got.img, 4 * 32, G "tiny-vit/image_features.npy", 1e-5);
        CHECK_CLOSE_NPY(got.txt, 6 * 32, G "tiny-vit/text_features.npy", 1e-5);
        /* saving a mapped model writes a normal checkpoint and leaves the file alone */
        size_t n0, n1;
        char *before = tu_slurp(OUT "/packed.safetensors", &n0);
        CHECK(clip_model_save(p, OUT "/from_mapped.safetensors", &e) == 0, "%s", e.msg);
        CHECK(model_unpack(p, &e) == 0 && !p->packed, "unpack a mapped model: %s", e.msg);
        encode(p, &got);
        CHECK(tu_rel_err(got.img, ref.img, 4 * 32) < 1e-6 && tu_rel_err(got.txt, ref.txt, 6 * 32) < 1e-6, "unpacked mapped model");
        CHECK(model_pack(p, &e) == 0 && p->packed, "pack again: %s", e.msg);
        encode(p, &got);
        CHECK(!memcmp(&got, &ref, sizeof got), "repacked mapped model: features differ");
        clip_model_free(p);
        char *after = tu_slurp(OUT "/packed.safetensors", &n1);
        CHECK(before && after && n0 == n1 && !memcmp(before, after, n0), "the packed file changed under a mapped model");
        free(before); free(after);
        clip_model *s = load(OUT "/from_mapped.safetensors", NULL);
        if (s) {
            CHECK(!clip_model_is_mapped(s), "a saved mapped model is a normal checkpoint");
            encode(s, &got);
            CHECK(!memcmp(&got, &ref, sizeof got), "saved from a mapped model: features differ");
            clip_model_free(s);
        }
    }
    /* plain_weights on a packed file: unpacked (copy-on-write), same features as a plain load */
    clip_load_opts plain = {.activation = -1, .plain_weights = 1};
    clip_model *a = load(OUT "/packed.safetensors", &plain), *b = load(G "tiny-vit/model.safetensors", &plain);
    if (a && b) {
        feats fa, fb;
        encode(a, &fa); encode(b, &fb);
        CHECK(!a->packed && !memcmp(&fa, &fb, sizeof fa), "plain_weights on a packed file");
    }
    clip_model_free(a); clip_model_free(b);
    /* bf16 precision: converted from the mapping as from a read checkpoint */
    if (matmul_bf16_kernel()) {
        clip_load_opts bf = {.activation = -1, .precision = CLIP_PRECISION_BF16};
        a = load(OUT "/packed.safetensors", &bf); b = load(G "tiny-vit/model.safetensors", &bf);
        if (a && b) {
            feats fa, fb;
            encode(a, &fa); encode(b, &fb);
            CHECK(clip_model_precision(a) == CLIP_PRECISION_BF16 && !memcmp(&fa, &fb, sizeof fa), "bf16 from a packed file");
        }
        clip_model_free(a); clip_model_free(b);
    }
    /* the activation override reaches a packed file too */
    clip_load_opts gelu = {.activation = CLIP_ACT_GELU};
    a = load(OUT "/packed.safetensors", &gelu);
    CHECK(a && a->cfg.activation == CLIP_ACT_GELU, "activation override");
    clip_model_free(a);

    /* plain dtypes: f32 bitwise; f16 and bf16 within their rounding (2^-11, 2^-8 relative per
     * weight; measured 3e-4..7e-4 and 4e-3..5e-3 on the features) */
    static const struct { const char *path; double tol; } PLAIN[] = {
        {OUT "/f32.safetensors", 0}, {OUT "/f16.safetensors", 2e-3}, {OUT "/bf16.safetensors", 1.5e-2}};
    for (int i = 0; i < 3; i++) {
        clip_model *q = load(PLAIN[i].path, NULL);
        if (!q) continue;
        encode(q, &got);
        double ri = tu_rel_err(got.img, ref.img, 4 * 32), rt = tu_rel_err(got.txt, ref.txt, 6 * 32);
        if (PLAIN[i].tol == 0) CHECK(!memcmp(&got, &ref, sizeof got), "%s: features differ", PLAIN[i].path);
        else CHECK(ri <= PLAIN[i].tol && rt <= PLAIN[i].tol && ri > 0, "%s: rel err image %.3g text %.3g", PLAIN[i].path, ri, rt);
        clip_model_free(q);
    }
    st_file f;
    CHECK(st_open(OUT "/f16.safetensors", &f, &e) == 0 && f.n == m->table.n && f.tensors[0].dtype == ST_F16, "f16 file: %s", e.msg);
    st_close(&f);
    clip_model_free(m);
}

/* Every cut of the packed file, and header fields changed, fail cleanly. */
static void hostile(void) {
    size_t n;
    char *d = tu_slurp(OUT "/packed.safetensors", &n);
    if (!d) return;
    CHECK(n > 8192 && d[8] == '{', "packed file shape");
    size_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | (uint8_t)d[i];
    CHECK((8 + hl) % 4096 == 0, "data starts 4096-aligned (header %zu bytes)", hl);
    size_t cuts[] = {0, 7, 8, 100, 8 + hl - 1, 8 + hl, 8 + hl + 4096, n / 2, n - 4, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        tu_spit(OUT "/bad.safetensors", d, cuts[i]);
        expect_fail(OUT "/bad.safetensors", CLIP_ERR_FORMAT, NULL, "truncated");
    }
    /* header fields edited in place (same length, so the offsets still hold) */
    corrupt(d, n, "\"panel_width\":\"32\"", "\"panel_width\":\"16\"", CLIP_ERR_UNSUPPORTED, "panel width");
    corrupt(d, n, "\"clip_packed_version\":\"1\"", "\"clip_packed_version\":\"9\"", CLIP_ERR_UNSUPPORTED, "version");
    corrupt(d, n, "\\\"vision_layers\\\":2", "\\\"vision_layers\\\":3", CLIP_ERR_FORMAT, "floats");
    corrupt(d, n, "\\\"vision_width\\\":64", "\\\"vision_width\\\":-4", CLIP_ERR_FORMAT, "vision_width");
    corrupt(d, n, "\\\"vocab_size\\\":49408", "\\\"vocab_size\\\":99999", CLIP_ERR_FORMAT, "floats");
    corrupt(d, n, "\"packed\":\"1", "\"packed\":\"x", CLIP_ERR_FORMAT, "packed layout");
    corrupt(d, n, "\"packed\":\"11", "\"packed\":\"1\"", CLIP_ERR_FORMAT, NULL);
    corrupt(d, n, "\"clip_config\":\"{", "\"clip_config\":\"[", CLIP_ERR_FORMAT, "clip_config");
    corrupt(d, n, "\"dtype\":\"F32\"", "\"dtype\":\"I32\"", CLIP_ERR_FORMAT, "F32");
    /* the header validator on an in-memory image, as the fuzzer drives it */
    st_file f;
    clip_error e = {0};
    CHECK(st_parse((const uint8_t *)d, n, "mem", &f, &e) == 0 && native_check(&f, (const uint8_t *)d, "mem", &e) == 0, "native_check: %s", e.msg);
    st_close(&f);
    free(d);
    /* (a bf16 / int8 model writes a version 2 file: tests/test_native_q.c) */
}

/* Hugging Face layout in, and a ResNet (only its text tower is packed). */
static void others(void) {
    clip_error e = {0};
    feats ref, got;
    clip_model *m = load(G "tiny-vit/hf", NULL);
    if (m) {
        encode(m, &ref);
        CHECK(clip_model_save_packed(m, OUT "/hf_packed.safetensors", &e) == 0, "%s", e.msg);
        clip_model *p = load(OUT "/hf_packed.safetensors", NULL);
        if (p) {
            CHECK(p->cfg.layout == CLIP_LAYOUT_HF && p->cfg.eos_token_id == m->cfg.eos_token_id, "HF pooling rule kept");
            encode(p, &got);
            CHECK(!memcmp(&got, &ref, sizeof got), "HF packed: features differ");
            clip_model_free(p);
        }
        clip_model_free(m);
    }
    m = load(G "tiny-rn/model.safetensors", NULL);
    if (m) {
        float img[4 * 1024], img2[4 * 1024];
        int E = m->cfg.embed_dim;
        npy_array rpx = tu_load_npy(G "images/pixels_64.npy");
        int S = m->cfg.image_size;
        CHECK(rpx.count >= (size_t)4 * 3 * S * S && E * 4 <= 4 * 1024, "rn pixels");
        CHECK(clip_encode_image(m, rpx.data, 4, img, &e) == 0, "%s", e.msg);
        CHECK(clip_model_save_packed(m, OUT "/rn_packed.safetensors", &e) == 0, "%s", e.msg);
        clip_model *p = load(OUT "/rn_packed.safetensors", NULL);
        if (p) {
            CHECK(clip_encode_image(p, rpx.data, 4, img2, &e) == 0 && !memcmp(img, img2, (size_t)4 * E * sizeof(float)), "RN packed: image features differ");
            clip_model_free(p);
        }
        npy_free(&rpx);
        clip_model_free(m);
    }
    /* a plain (unpacked) model is packed for the write and left plain */
    clip_load_opts plain = {.activation = -1, .plain_weights = 1};
    m = load(G "tiny-vit/model.safetensors", &plain);
    if (m) {
        CHECK(clip_model_save_packed(m, OUT "/p2.safetensors", &e) == 0 && !m->packed, "plain model: %s", e.msg);
        size_t n1, n2;
        char *a = tu_slurp(OUT "/p2.safetensors", &n1), *b = tu_slurp(OUT "/packed.safetensors", &n2);
        CHECK(a && b && n1 == n2 && !memcmp(a, b, n1), "packed files from a plain and a packed load are identical");
        free(a); free(b);
        clip_model_free(m);
    }
}

int main(void) {
    if (system("mkdir -p " OUT) != 0) return 1;
    px = tu_load_npy(G "images/pixels_32.npy");
    tok = tu_load_npy(G "tokens.npy");
    vit();
    hostile();
    others();
    npy_free(&px); npy_free(&tok);
    TEST_END();
}
