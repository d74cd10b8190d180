/* Finite-difference check of every parameter's gradient on a tiny CLIP (both towers, both
 * activations): patch embedding, class and positional embeddings, ln_pre/ln_post/ln_1/ln_2/
 * ln_final, non-causal and causal attention, the MLP, pooling, projections, token embedding
 * and logit_scale. Central differences in float with step h; per tensor the worst error over
 * the probed elements must stay within 1% (+2e-5) of the tensor's largest probed gradient. */
#include "testutil.h"
#include "train/train.h"

static float loss_of(trainer *t, const float *px, const int32_t *tok, int B) {
    float l = 0;
    clip_error e = {0};
    if (trainer_eval(t, px, tok, B, &l, &e)) fprintf(stderr, "eval: %s\n", e.msg);
    return l;
}

static void check_arch(int act, int accum) {
    clip_config c = {0};
    c.vision_kind = CLIP_VISION_VIT;
    c.image_size = 8; c.patch_size = 4; c.vision_width = 8; c.vision_layers = 2; c.vision_heads = 2;
    c.text_width = 8; c.text_layers = 2; c.text_heads = 2; c.context_length = 6; c.vocab_size = 12;
    c.embed_dim = 4; c.activation = act;
    clip_error e = {0};
    clip_model *m = clip_model_init(&c, 7, &e);
    CHECK(m != NULL, "%s", e.msg);
    if (!m) return;
    /* perturb everything so that no gain is exactly one and no bias exactly zero */
    clip_rng r;
    rng_seed(&r, 11);
    for (size_t j = 0; j < m->table.total; j++) m->params[j] += (float)(0.3 * rng_normal(&r));
    m->p.logit_scale[0] = 1.0f;
    enum { B = 4 };
    float px[B * 3 * 8 * 8];
    for (size_t j = 0; j < sizeof px / sizeof px[0]; j++) px[j] = (float)rng_normal(&r);
    /* EOT is the largest id (11); rows end at different positions, the last after position 3 */
    int32_t tok[B * 6] = {10, 3, 11, 0, 0, 0,
                          10, 5, 5, 7, 11, 0,
                          10, 11, 0, 0, 0, 0,
                          10, 1, 2, 11, 0, 0};
    clip_train_opts o;
    clip_train_opts_defaults(&o);
    o.batch_size = B;
    o.accum_steps = accum;
    trainer t;
    CHECK(trainer_init(&t, m, &o, &e) == 0, "%s", e.msg);
    train_stats st;
    CHECK(trainer_grad(&t, px, tok, &st, &e) == 0, "%s", e.msg);
    float *g = t.grad;
    for (int i = 0; i < m->table.n; i++) {
        const param_entry *pe = &m->table.e[i];
        double worst = 0, scale = 0;
        int probes = pe->numel < 12 ? (int)pe->numel : 12;
        for (int k = 0; k < probes; k++) {
            size_t j;
            if (!strcmp(pe->name, "token_embedding.weight")) j = (size_t)tok[rng_below(&r, B * 4)] * 8 + rng_below(&r, 8);
            else j = probes == (int)pe->numel ? (size_t)k : rng_below(&r, (uint32_t)pe->numel);
            float *x = m->params + pe->offset + j, x0 = *x, h = 1e-2f;
            *x = x0 + h; float lp = loss_of(&t, px, tok, B);
            *x = x0 - h; float lm = loss_of(&t, px, tok, B);
            *x = x0;
            double num = ((double)lp - lm) / (2.0 * h), ana = g[pe->offset + j];
            if (fabs(num - ana) > worst) worst = fabs(num - ana);
            if (fabs(ana) > scale) scale = fabs(ana);
        }
        if (getenv("GRADCHECK_VERBOSE")) fprintf(stderr, "%-45s %.3g / %.3g\n", pe->name, worst, scale);
        CHECK(worst <= 0.01 * scale + 2e-5, "act %d accum %d: %s: finite difference off by %.3g (largest gradient %.3g)", act,
              accum, pe->name, worst, scale);
    }
    trainer_free(&t);
    clip_model_free(m);
}

int main(void) {
    clip_set_threads(1);   /* tiny shapes: thread start-up would dominate */
    check_arch(CLIP_ACT_QUICKGELU, 1);
    check_arch(CLIP_ACT_GELU, 1);
    check_arch(CLIP_ACT_QUICKGELU, 2);
    TEST_END();
}
