/* Golden vectors from OpenAI's code (tests/data/golden, see its manifest.json): tiny-vit in
 * both key layouts and tiny-vit-pert. Every saved activation, the features and the logits
 * must agree within 1e-5 relative (max|a-b| / max|b|). */
#include "testutil.h"
#include "model/model.h"

#define TOL 1e-5
#define G "tests/data/golden/"

static void check_model(const char *path, const char *dir, int with_acts) {
    clip_error e = {0};
    clip_model *m = clip_model_load(path, NULL, &e);
    CHECK(m != NULL, "load %s: %s", path, e.msg);
    if (!m) return;
    const clip_config *c = clip_model_get_config(m);
    CHECK(c->image_size == 32 && c->patch_size == 8 && c->vision_width == 64 && c->vision_layers == 2 && c->vision_heads == 1,
          "%s: vision config", path);
    CHECK(c->text_width == 64 && c->text_layers == 2 && c->text_heads == 4 && c->embed_dim == 32 && c->context_length == 77 &&
          c->vocab_size == 49408, "%s: text config", path);
    tu_act_ctx h = {.dir = dir};
    if (with_acts) { m->hook = tu_act_hook; m->hook_ud = &h; m->text_full_ctx = 1; }
    npy_array px = tu_load_npy(G "images/pixels_32.npy"), tok = tu_load_npy(G "tokens.npy");
    float img[4 * 32], txt[6 * 32], txt_short[6 * 32];
    CHECK(clip_encode_image(m, px.data, 4, img, &e) == 0, "%s", e.msg);
    CHECK(clip_encode_text(m, tok.data, 6, txt, &e) == 0, "%s", e.msg);
    CHECK_CLOSE_NPY(img, 4 * 32, G "tiny-vit/image_features.npy", TOL);
    CHECK_CLOSE_NPY(txt, 6 * 32, G "tiny-vit/text_features.npy", TOL);
    if (with_acts) {
        int files = tu_count_act_files(dir);
        CHECK(h.n == files, "compared %d activations, %d golden files", h.n, files);
        m->hook = NULL; m->text_full_ctx = 0;
        /* stopping at the last end-of-text token changes nothing */
        CHECK(clip_encode_text(m, tok.data, 6, txt_short, &e) == 0, "%s", e.msg);
        CHECK(tu_rel_err(txt_short, txt, 6 * 32) < 1e-6, "short-context text features differ");
    }
    /* logits as OpenAI's forward: normalised features, scaled by exp(logit_scale) */
    float logits[24];
    tu_logits(img, 4, txt, 6, 32, clip_model_logit_scale(m), logits);
    CHECK_CLOSE_NPY(logits, 24, G "tiny-vit/logits_per_image.npy", TOL);
    npy_free(&px); npy_free(&tok);
    clip_model_free(m);
}

int main(void) {
    check_model(G "tiny-vit/model.safetensors", G "tiny-vit", 1);
    check_model(G "tiny-vit/hf", G "tiny-vit", 0);
    /* perturbed image tower, 4 heads given explicitly */
    clip_error e = {0};
    clip_load_opts o = {.activation = -1, .vision_heads = 4};
    clip_model *m = clip_model_load(G "tiny-vit-pert/visual.safetensors", &o, &e);
    CHECK(m != NULL, "%s", e.msg);
    if (m) {
        tu_act_ctx h = {.dir = G "tiny-vit-pert"};
        m->hook = tu_act_hook; m->hook_ud = &h;
        npy_array px = tu_load_npy(G "images/pixels_32.npy");
        float img[4 * 32];
        CHECK(clip_encode_image(m, px.data, 4, img, &e) == 0, "%s", e.msg);
        CHECK_CLOSE_NPY(img, 4 * 32, G "tiny-vit-pert/image_features.npy", TOL);
        CHECK(h.n == tu_count_act_files(G "tiny-vit-pert"), "compared %d activations", h.n);
        int32_t tok[77] = {49406, 49407};
        CHECK(clip_encode_text(m, tok, 1, img, &e) == CLIP_ERR_UNSUPPORTED, "image-only model has no text tower");
            npy_free(&px);
        clip_model_free(m);
    }
    TEST_END();
}
