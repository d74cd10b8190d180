/* Backward of the text tower: projection, ln_final at the pooled rows only, the causal blocks,
 * and the token and positional embeddings. It runs over the a->T positions the forward ran
 * (up to the batch's last end-of-text token): later positions cannot reach any pooled row
 * through the causal mask, so their gradient is exactly zero and is never computed. */
#include "model/model.h"
#include "core/ops.h"
#include "core/matmul.h"
#include <string.h>

size_t text_backward_scratch_size(const clip_config *c, int B) {
    size_t T = c->context_length, W = c->text_width;
    return (size_t)B * T * W + tf_grad_scratch_size(B, (int)T, (int)W, c->text_heads) + 3 * (size_t)B * W + 2 * (size_t)B;
}

void text_backward(const clip_model *m, const clip_params *g, const text_acts *a, const int32_t *tokens,
                   const float *dfeat, float *scratch) {
    const clip_config *c = &m->cfg;
    const clip_params *w = &m->p;
    int B = a->B, T = a->T, W = c->text_width, E = c->embed_dim, L = c->text_layers, ctx = c->context_length;
    size_t n = (size_t)B * T * W;
    float *dres = scratch, *tfs = dres + n, *dpool = tfs + tf_grad_scratch_size(B, T, W, c->text_heads);
    float *xg = dpool + (size_t)B * W, *dxg = xg + (size_t)B * W, *mg = dxg + (size_t)B * W, *rg = mg + B;
    /* feat = pooled · proj */
    matmul(1, 0, W, E, B, 1.0f, a->pooled, W, dfeat, E, 1.0f, g->t_proj, E);
    matmul(0, 1, B, W, E, 1.0f, dfeat, E, w->t_proj, E, 0.0f, dpool, W);
    /* ln_final at the pooled rows: gather them, run the row-wise backward, scatter back */
    const float *y = a->tf.res2 + (size_t)(L - 1) * n;
    for (int b = 0; b < B; b++) {
        size_t r = (size_t)b * T + a->eot[b];
        memcpy(xg + (size_t)b * W, y + r * W, W * sizeof(float));
        mg[b] = a->lnf_mean[r];
        rg[b] = a->lnf_rstd[r];
    }
    memset(dxg, 0, (size_t)B * W * sizeof(float));
    layernorm_backward(dxg, g->t_ln_w, g->t_ln_b, dpool, xg, w->t_ln_w, mg, rg, B, W);
    memset(dres, 0, n * sizeof(float));
    for (int b = 0; b < B; b++) memcpy(dres + ((size_t)b * T + a->eot[b]) * W, dxg + (size_t)b * W, W * sizeof(float));
    tf_shape s = {L, B, T, W, c->text_heads, 1, c->activation, 0, NULL};
    transformer_backward(&w->t_tf, &g->t_tf, &a->tf, a->emb, dres, tfs, s);
    /* emb[b,t] = tok[id] + pos[t]; the scatter-add runs serially so repeated ids sum in order */
    #pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        float *dp = g->t_pos + (size_t)t * W;
        for (int b = 0; b < B; b++) {
            const float *d = dres + ((size_t)b * T + t) * W;
            for (int i = 0; i < W; i++) dp[i] += d[i];
        }
    }
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *dt = g->t_tok + (size_t)tokens[(size_t)b * ctx + t] * W;
            const float *d = dres + ((size_t)b * T + t) * W;
            for (int i = 0; i < W; i++) dt[i] += d[i];
        }
}
