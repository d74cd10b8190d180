/* Golden vectors for the ModifiedResNet tower from OpenAI's code (tests/data/golden, see its
 * manifest.json): tiny-rn (whole CLIP: image and text features, logits) and tiny-rn-pert (an
 * image tower alone, every weight perturbed so every branch counts; heads 4 from the
 * width·32/64 rule). Every saved activation and the features must agree within 1e-5
 * relative (max|a-b| / max|b|). */
#include "testutil.h"
#include "model/model.h"
#include <unistd.h>

#define TOL 1e-5
#define G "tests/data/golden/"

static void tiny_rn(void) {
    clip_error e = {0};
    clip_model *m = clip_model_load(G "tiny-rn/model.safetensors", NULL, &e);
    CHECK(m != NULL, "load tiny-rn: %s", e.msg);
    if (!m) return;
    const clip_config *c = clip_model_get_config(m);
    CHECK(c->vision_kind == CLIP_VISION_RESNET && c->image_size == 64 && c->vision_width == 16 && c->vision_heads == 8 &&
          c->rn_layers[0] == 1 && c->rn_layers[1] == 1 && c->rn_layers[2] == 1 && c->rn_layers[3] == 1 && c->embed_dim == 32,
          "tiny-rn vision config");
    tu_act_ctx h = {.dir = G "tiny-rn"};
    m->hook = tu_act_hook; m->hook_ud = &h;
    npy_array px = tu_load_npy(G "images/pixels_64.npy"), tok = tu_load_npy(G "tokens.npy");
    float img[4 * 32], txt[6 * 32], again[4 * 32];
    CHECK(clip_encode_image(m, px.data, 4, img, &e) == 0, "%s", e.msg);
    CHECK(h.n == tu_count_act_files(G "tiny-rn"), "compared %d activations", h.n);
    m->hook = NULL;
    CHECK(clip_encode_text(m, tok.data, 6, txt, &e) == 0, "%s", e.msg);
    CHECK_CLOSE_NPY(img, 4 * 32, G "tiny-rn/image_features.npy", TOL);
    CHECK_CLOSE_NPY(txt, 6 * 32, G "tiny-rn/text_features.npy", TOL);
    /* batch size does not change the result: one image at a time */
    for (int i = 0; i < 4; i++)
        CHECK(clip_encode_image(m, (const float *)px.data + (size_t)i * 3 * 64 * 64, 1, again + i * 32, &e) == 0, "%s", e.msg);
    CHECK(tu_rel_err(again, img, 4 * 32) < 1e-6, "batch-1 features differ from batch-4 ones");
    float logits[24];
    tu_logits(img, 4, txt, 6, 32, clip_model_logit_scale(m), logits);
    CHECK_CLOSE_NPY(logits, 24, G "tiny-rn/logits_per_image.npy", TOL);
    npy_free(&px); npy_free(&tok);
    clip_model_free(m);
}

static void tiny_rn_pert(void) {
    clip_error e = {0};
    clip_model *m = clip_model_load(G "tiny-rn-pert/visual.safetensors", NULL, &e);
    CHECK(m != NULL, "load tiny-rn-pert: %s", e.msg);
    if (!m) return;
    const clip_config *c = clip_model_get_config(m);
    CHECK(c->vision_kind == CLIP_VISION_RESNET && c->vision_width == 8 && c->vision_heads == 4 && c->image_size == 64 &&
          c->embed_dim == 32 && c->text_width == 0, "tiny-rn-pert config (heads %d)", c->vision_heads);
    tu_act_ctx h = {.dir = G "tiny-rn-pert"};
    m->hook = tu_act_hook; m->hook_ud = &h;
    npy_array px = tu_load_npy(G "images/pixels_64.npy");
    float img[4 * 32];
    CHECK(clip_encode_image(m, px.data, 4, img, &e) == 0, "%s", e.msg);
    CHECK_CLOSE_NPY(img, 4 * 32, G "tiny-rn-pert/image_features.npy", TOL);
    CHECK(h.n == tu_count_act_files(G "tiny-rn-pert"), "compared %d activations of %d", h.n, tu_count_act_files(G "tiny-rn-pert"));
    /* without the hook the blocks' tails run fused (BN + add + ReLU in one pass) */
    m->hook = NULL;
    CHECK(clip_encode_image(m, px.data, 4, img, &e) == 0, "%s", e.msg);
    CHECK_CLOSE_NPY(img, 4 * 32, G "tiny-rn-pert/image_features.npy", TOL);
    /* save and reload: same tensors, same features (BN running statistics included) */
    char path[] = "/tmp/clip_rn_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd >= 0) {
        close(fd);
        CHECK(clip_model_save(m, path, &e) == 0, "save: %s", e.msg);
        clip_model *m2 = clip_model_load(path, NULL, &e);
        CHECK(m2 != NULL, "reload: %s", e.msg);
        if (m2) {
            float img2[4 * 32];
            CHECK(m2->table.total == m->table.total && clip_model_get_config(m2)->vision_heads == 4, "reloaded config");
            CHECK(clip_encode_image(m2, px.data, 4, img2, &e) == 0, "%s", e.msg);
            CHECK(tu_rel_err(img2, img, 4 * 32) == 0, "reloaded model gives other features");
            clip_model_free(m2);
        }
        unlink(path);
    }
    int32_t tok[77] = {49406, 49407};
    CHECK(clip_encode_text(m, tok, 1, img, &e) == CLIP_ERR_UNSUPPORTED, "image-only model has no text tower");
    npy_free(&px);
    clip_model_free(m);
}

/* Parameter counts of OpenAI's released models (sum of p.numel() over model.parameters(),
 * as the CLIP repository's notebook prints them; BN running statistics are buffers). */
static void param_counts(void) {
    static const struct { const char *name; size_t n; } REF[] = {
        {"RN50", 102007137}, {"ViT-B-32", 151277313},
    };
    for (size_t i = 0; i < sizeof REF / sizeof REF[0]; i++) {
        clip_config c;
        clip_error e = {0};
        param_table t;
        CHECK(clip_config_from_name(REF[i].name, &c, &e) == 0, "%s", e.msg);
        CHECK(params_build(&c, &t, &e) == 0, "%s: %s", REF[i].name, e.msg);
        size_t n = 0, nbuf = 0;
        for (int k = 0; k < t.n; k++) { if (t.e[k].buffer) nbuf += t.e[k].numel; else n += t.e[k].numel; }
        CHECK(n == REF[i].n, "%s: %zu parameters, expected %zu", REF[i].name, n, REF[i].n);
        CHECK(!strcmp(REF[i].name, "RN50") ? nbuf > 0 : nbuf == 0, "%s: buffers", REF[i].name);
        params_table_free(&t);
    }
    /* every released ResNet builds, with heads = width·32/64 */
    const char *rn[] = {"RN101", "RN50x4", "RN50x16", "RN50x64"};
    for (int i = 0; i < 4; i++) {
        clip_config c;
        clip_error e = {0};
        param_table t;
        CHECK(clip_config_from_name(rn[i], &c, &e) == 0 && c.vision_heads == c.vision_width / 2, "%s heads", rn[i]);
        CHECK(params_build(&c, &t, &e) == 0, "%s: %s", rn[i], e.msg);
        params_table_free(&t);
    }
}

int main(void) {
    param_counts();
    tiny_rn();
    tiny_rn_pert();
    TEST_END();
}
