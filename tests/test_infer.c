/* The inference layout (model/pack.c): weights packed in place at load must give the features
 * the plain layout gives (through the fused forward and through the hooked, unfused one), and
 * unpacking (training, saving) must restore the checkpoint bit for bit. */
#include "testutil.h"
#include "model/model.h"
#include "core/matmul.h"

#define G "tests/data/golden/"

int main(void) {
    clip_error e = {0};
    clip_load_opts plain_o = {.activation = -1, .plain_weights = 1};
    clip_model *pk = clip_model_load(G "tiny-vit/model.safetensors", NULL, &e);
    CHECK(pk != NULL, "%s", e.msg);
    clip_model *pl = clip_model_load(G "tiny-vit/model.safetensors", &plain_o, &e);
    CHECK(pl != NULL, "%s", e.msg);
    if (!pk || !pl) TEST_END();
    CHECK(!pl->packed, "plain_weights keeps the checkpoint layout");
    CHECK(pk->packed == !strcmp(matmul_backend(), "clip-avx512"), "weights are packed by default where the kernel runs");
    if (pk->packed)
        CHECK(memcmp(pk->params, pl->params, pk->table.total * sizeof(float)) != 0, "packing changed the layout");

    npy_array px = tu_load_npy(G "images/pixels_32.npy"), tok = tu_load_npy(G "tokens.npy");
    float a[6 * 32], b[6 * 32], c[6 * 32];
    /* image: packed + fused vs plain + fused vs packed + hooked (unfused) */
    CHECK(clip_encode_image(pk, px.data, 4, a, &e) == 0, "%s", e.msg);
    CHECK(clip_encode_image(pl, px.data, 4, b, &e) == 0, "%s", e.msg);
    pk->hook = tu_hook_nop;
    CHECK(clip_encode_image(pk, px.data, 4, c, &e) == 0, "%s", e.msg);
    pk->hook = NULL;
    CHECK(tu_rel_err(a, b, 4 * 32) < 1e-6, "packed vs plain image features: %g", tu_rel_err(a, b, 4 * 32));
    CHECK(tu_rel_err(a, c, 4 * 32) < 1e-6, "fused vs unfused image features: %g", tu_rel_err(a, c, 4 * 32));
    CHECK_CLOSE_NPY(a, 4 * 32, G "tiny-vit/image_features.npy", 1e-5);
    /* text */
    CHECK(clip_encode_text(pk, tok.data, 6, a, &e) == 0, "%s", e.msg);
    CHECK(clip_encode_text(pl, tok.data, 6, b, &e) == 0, "%s", e.msg);
    pk->hook = tu_hook_nop;
    CHECK(clip_encode_text(pk, tok.data, 6, c, &e) == 0, "%s", e.msg);
    pk->hook = NULL;
    CHECK(tu_rel_err(a, b, 6 * 32) < 1e-6, "packed vs plain text features: %g", tu_rel_err(a, b, 6 * 32));
    CHECK(tu_rel_err(a, c, 6 * 32) < 1e-6, "fused vs unfused text features: %g", tu_rel_err(a, c, 6 * 32));
    CHECK_CLOSE_NPY(a, 6 * 32, G "tiny-vit/text_features.npy", 1e-5);

    /* saving a packed model writes the checkpoint layout and leaves the model packed */
    int was = pk->packed;
    CHECK(clip_model_save(pk, "build/test_infer_packed.safetensors", &e) == 0, "%s", e.msg);
    CHECK(clip_model_save(pl, "build/test_infer_plain.safetensors", &e) == 0, "%s", e.msg);
    CHECK(pk->packed == was, "save keeps the inference layout");
    char *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    FILE *f1 = fopen("build/test_infer_packed.safetensors", "rb"), *f2 = fopen("build/test_infer_plain.safetensors", "rb");
    CHECK(f1 && f2, "saved files exist");
    if (f1 && f2) {
        fseek(f1, 0, SEEK_END); n1 = (size_t)ftell(f1); rewind(f1);
        fseek(f2, 0, SEEK_END); n2 = (size_t)ftell(f2); rewind(f2);
        b1 = malloc(n1); b2 = malloc(n2);
        CHECK(n1 == n2 && fread(b1, 1, n1, f1) == n1 && fread(b2, 1, n2, f2) == n2 && !memcmp(b1, b2, n1),
              "a packed model saves the same bytes as a plain one");
    }
    if (f1) fclose(f1);
    if (f2) fclose(f2);
    free(b1); free(b2);
    CHECK(clip_encode_image(pk, px.data, 4, c, &e) == 0, "%s", e.msg);
    CHECK(clip_encode_image(pl, px.data, 4, b, &e) == 0, "%s", e.msg);
    CHECK(tu_rel_err(c, b, 4 * 32) < 1e-6, "packed again after saving: %g", tu_rel_err(c, b, 4 * 32));

    /* unpacking restores the plain block exactly */
    CHECK(model_unpack(pk, &e) == 0, "%s", e.msg);
    CHECK(!pk->packed, "unpacked");
    CHECK(!memcmp(pk->params, pl->params, pk->table.total * sizeof(float)), "unpack restores the checkpoint bit for bit");
    CHECK(clip_encode_image(pk, px.data, 4, a, &e) == 0, "%s", e.msg);
    CHECK(clip_encode_image(pl, px.data, 4, b, &e) == 0, "%s", e.msg);
    CHECK(!memcmp(a, b, 4 * 32 * sizeof(float)), "unpacked model = plain model");
    npy_free(&px); npy_free(&tok);
    clip_model_free(pk);
    clip_model_free(pl);
    remove("build/test_infer_packed.safetensors");
    remove("build/test_infer_plain.safetensors");
    TEST_END();
}
