/* The text tower: token + position embeddings, causal residual blocks, ln_final, pooling at
 * the end-of-text token, projection. Positions after the last EOT of the batch cannot affect
 * any pooled feature (the mask is causal), so they are skipped: exact, and much cheaper for
 * short captions. */
#include "model/model.h"
#include "core/ops.h"
#include "core/matmul.h"
#include <string.h>

size_t text_acts_size(const clip_config *c, int B, int slots) {
    size_t T = c->context_length, W = c->text_width;
    return (size_t)B + 2 * B * T * W + 2 * B * T + tf_acts_size(slots, B, (int)T, (int)W, c->text_heads) + B * W +
           (size_t)B * c->embed_dim;
}

void text_acts_bind(text_acts *a, float *p, const clip_config *c, int B, int slots) {
    size_t T = c->context_length, W = c->text_width;
    a->B = B; a->T = (int)T;
    a->eot = (int *)p; p += B;
    a->emb = p; p += B * T * W;
    p = tf_acts_bind(&a->tf, p, slots, B, (int)T, (int)W, c->text_heads);
    a->lnf = p; p += B * T * W;
    a->lnf_mean = p; p += B * T;
    a->lnf_rstd = p; p += B * T;
    a->pooled = p; p += B * W;
    a->feat = p;
}

int text_pool_index(const clip_config *c, const int32_t *row) {
    int n = c->context_length, best = 0;
    if (c->layout == CLIP_LAYOUT_HF && c->eos_token_id != 2) {
        for (int t = 0; t < n; t++) if (row[t] == c->eos_token_id) return t;
        return n - 1;
    }
    for (int t = 1; t < n; t++) if (row[t] > row[best]) best = t;   /* first maximum, as torch.argmax */
    return best;
}

void text_forward(const clip_model *m, text_acts *a, const int32_t *tokens, int B, int full_ctx, float *out) {
    const clip_config *c = &m->cfg;
    const clip_params *w = &m->p;
    int ctx = c->context_length, W = c->text_width, T = 1;
    clip_act_hook hook = m->hook;
    void *ud = m->hook_ud;
    for (int b = 0; b < B; b++) {
        a->eot[b] = text_pool_index(c, tokens + (size_t)b * ctx);
        if (a->eot[b] + 1 > T) T = a->eot[b] + 1;
    }
    if (full_ctx) T = ctx;
    a->T = T;
    /* the tf_acts were laid out for T = ctx; rebinding for the shorter T keeps rows contiguous */
    int infer = a->tf.infer;
    tf_acts_bind(&a->tf, (float *)a->tf.ln1, a->tf.slots, B, T, W, c->text_heads);
    a->tf.infer = infer;
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int id = tokens[(size_t)b * ctx + t];
            const float *te = w->t_tok + (size_t)id * W, *pe = w->t_pos + (size_t)t * W;
            float *e = a->emb + ((size_t)b * T + t) * W;
            for (int i = 0; i < W; i++) e[i] = te[i] + pe[i];
        }
    if (hook) {
        /* token embeddings alone, for inspection only: lnf is free until ln_final runs */
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                const float *te = w->t_tok + (size_t)tokens[(size_t)b * ctx + t] * W;
                memcpy(a->lnf + ((size_t)b * T + t) * W, te, W * sizeof(float));
            }
        hook(ud, "txt.tok_embed", a->lnf, (size_t)B * T * W);
        hook(ud, "txt.embed", a->emb, (size_t)B * T * W);
    }
    tf_shape s = {c->text_layers, B, T, W, c->text_heads, 1, c->activation, 1, a->eot};   /* pools each end-of-text */
    const float *y = transformer_forward(&w->t_tf, m->packed ? &m->ttf : NULL, &a->tf, a->emb, s, hook, ud, "txt");
    if (a->tf.pooled_out) { /* y holds the end-of-text rows only: ln_final on those */
        layernorm_forward(a->pooled, a->lnf_mean, a->lnf_rstd, y, w->t_ln_w, w->t_ln_b, B, W, c->ln_eps);
    } else {
        layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, y, w->t_ln_w, w->t_ln_b, B * T, W, c->ln_eps);
        if (hook) hook(ud, "txt.ln_final", a->lnf, (size_t)B * T * W);
        for (int b = 0; b < B; b++) memcpy(a->pooled + (size_t)b * W, a->lnf + ((size_t)b * T + a->eot[b]) * W, W * sizeof(float));
    }
    if (hook) hook(ud, "txt.pooled", a->pooled, (size_t)B * W);
    if (m->packed && m->t_proj_pk->data) matmul_prepacked(0, B, 1.0f, a->pooled, W, m->t_proj_pk, 0.0f, a->feat, c->embed_dim, NULL, MATMUL_ACT_NONE);
    else matmul(0, 0, B, c->embed_dim, W, 1.0f, a->pooled, W, w->t_proj, c->embed_dim, 0.0f, a->feat, c->embed_dim);
    if (hook) hook(ud, "txt.features", a->feat, (size_t)B * c->embed_dim);
    if (out) memcpy(out, a->feat, (size_t)B * c->embed_dim * sizeof(float));
}
