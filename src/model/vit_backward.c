/* Backward of the ViT image tower: projection, ln_post on the class token, the blocks, ln_pre,
 * class and positional embeddings, and the patch convolution (as a weight-gradient GEMM over
 * the im2col patches the forward kept). No gradient flows to the pixels. */
#include "model/model.h"
#include "core/ops.h"
#include "core/matmul.h"
#include <string.h>

size_t vit_backward_scratch_size(const clip_config *c, int B) {
    size_t G = c->image_size / c->patch_size, T = G * G + 1, W = c->vision_width;
    return (size_t)B * T * W + tf_grad_scratch_size(B, (int)T, (int)W, c->vision_heads) + 2 * (size_t)B * W;
}

void vit_backward(const clip_model *m, const clip_params *g, const vit_acts *a, const float *dfeat, float *scratch) {
    const clip_config *c = &m->cfg;
    const clip_params *w = &m->p;
    int B = a->B, P = c->patch_size, G = c->image_size / P, GG = G * G, T = GG + 1, W = c->vision_width, E = c->embed_dim;
    int K = 3 * P * P, L = c->vision_layers;
    size_t n = (size_t)B * T * W;
    float *dres = scratch, *tfs = dres + n, *dln = tfs + tf_grad_scratch_size(B, T, W, c->vision_heads), *dcls = dln + (size_t)B * W;
    /* feat = ln_post(cls) · proj */
    matmul(1, 0, W, E, B, 1.0f, a->lnpost, W, dfeat, E, 1.0f, g->v_proj, E);
    matmul(0, 1, B, W, E, 1.0f, dfeat, E, w->v_proj, E, 0.0f, dln, W);
    memset(dcls, 0, (size_t)B * W * sizeof(float));
    layernorm_backward(dcls, g->v_ln_post_w, g->v_ln_post_b, dln, a->cls, w->v_ln_post_w, a->lnpost_mean, a->lnpost_rstd, B, W);
    /* only the class token reaches the output */
    memset(dres, 0, n * sizeof(float));
    for (int b = 0; b < B; b++) memcpy(dres + (size_t)b * T * W, dcls + (size_t)b * W, W * sizeof(float));
    tf_shape s = {L, B, T, W, c->vision_heads, 0, c->activation, 0, NULL};
    transformer_backward(&w->v_tf, &g->v_tf, &a->tf, a->lnpre, dres, tfs, s);
    /* ln_pre; its input gradient lands in the (now free) block scratch */
    float *demb = tfs, *dpe = demb + n;
    memset(demb, 0, n * sizeof(float));
    layernorm_backward(demb, g->v_ln_pre_w, g->v_ln_pre_b, dres, a->emb, w->v_ln_pre_w, a->lnpre_mean, a->lnpre_rstd, B * T, W);
    /* emb[b,0] = cls + pos[0]; emb[b,t] = pe[b,t-1] + pos[t] */
    #pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        float *dp = g->v_pos + (size_t)t * W;
        for (int b = 0; b < B; b++) {
            const float *d = demb + ((size_t)b * T + t) * W;
            for (int i = 0; i < W; i++) dp[i] += d[i];
        }
    }
    for (int b = 0; b < B; b++) {
        const float *d = demb + (size_t)b * T * W;
        for (int i = 0; i < W; i++) g->v_cls[i] += d[i];
        memcpy(dpe + (size_t)b * GG * W, d + W, (size_t)GG * W * sizeof(float));
    }
    /* pe = patches · conv1ᵀ (no bias) */
    linear_backward(NULL, g->v_conv1, NULL, dpe, a->patches, w->v_conv1, B * GG, K, W);
}
