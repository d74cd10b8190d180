/* A tiny ModifiedResNet CLIP trains: the contrastive loss on a fixed batch falls, batch-norm
 * running statistics move, and they are neither decayed nor stepped by AdamW. */
#include "testutil.h"
#include "train/train.h"
#include "core/rng.h"

int main(void) {
    clip_config c = {0};
    c.vision_kind = CLIP_VISION_RESNET;
    c.image_size = 32; c.vision_width = 8; c.rn_layers[0] = c.rn_layers[1] = c.rn_layers[2] = c.rn_layers[3] = 1;
    c.vision_layers = 4; c.text_width = 32; c.text_layers = 1; c.embed_dim = 16; c.vocab_size = 64; c.context_length = 8;
    clip_error e = {0};
    clip_model *m = clip_model_init(&c, 7, &e);
    CHECK(m != NULL, "%s", e.msg);
    if (!m) TEST_END();
    enum { B = 8 };
    static float px[B * 3 * 32 * 32];
    int32_t tok[B * 8] = {0};
    clip_rng r;
    rng_seed(&r, 3);
    for (size_t i = 0; i < sizeof px / sizeof px[0]; i++) px[i] = (float)rng_normal(&r);
    for (int b = 0; b < B; b++) {
        tok[b * 8] = 62;
        for (int t = 1; t < 5; t++) tok[b * 8 + t] = 1 + (int)rng_below(&r, 60);
        tok[b * 8 + 5] = 63;   /* the end-of-text token is the largest id, as in CLIP's vocabulary */
    }
    clip_train_opts o;
    clip_train_opts_defaults(&o);
    o.batch_size = B; o.steps = 20; o.warmup_steps = 2; o.lr = 2e-3f; o.beta2 = 0.999f; o.eps = 1e-8f;
    trainer t;
    CHECK(trainer_init(&t, m, &o, &e) == 0, "%s", e.msg);
    const param_entry *rm = params_find(&m->table, "visual.bn1.running_mean");
    CHECK(rm && rm->buffer, "BN running mean is a buffer");
    float rm0 = rm ? m->params[rm->offset] : 0;
    train_stats st;
    float first = 0, last = 0;
    for (int s = 0; s < 20; s++) {
        CHECK(trainer_step(&t, px, tok, &st, &e) == 0, "step %d: %s", s, e.msg);
        if (s == 0) first = st.loss;
        last = st.loss;
    }
    CHECK(last < 0.5f * first, "loss %g -> %g should halve", first, last);
    CHECK(rm && m->params[rm->offset] != rm0, "running mean updated by the forward");
    float ev;
    CHECK(trainer_eval(&t, px, tok, B, &ev, &e) == 0 && isfinite(ev), "held-out loss through the inference path: %s", e.msg);
    fprintf(stderr, "loss %.4f -> %.4f, eval %.4f\n", first, last, ev);
    trainer_free(&t);
    clip_model_free(m);
    TEST_END();
}
