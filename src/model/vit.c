/* The ViT image tower: patch conv (as im2col + matmul), class token, positions, ln_pre,
 * residual blocks, ln_post on the class token, projection. */
#include "model/model.h"
#include "core/ops.h"
#include "core/matmul.h"
#include <string.h>

size_t vit_acts_size(const clip_config *c, int B, int slots) {
    size_t P = c->patch_size, G = c->image_size / c->patch_size, GG = G * G, T = GG + 1, W = c->vision_width;
    return B * GG * 3 * P * P + B * GG * W + 2 * B * T * W + 2 * B * T + tf_acts_size(slots, B, (int)T, (int)W, c->vision_heads) +
           2 * B * W + 2 * (size_t)B + (size_t)B * c->embed_dim;
}

void vit_acts_bind(vit_acts *a, float *p, const clip_config *c, int B, int slots) {
    size_t P = c->patch_size, G = c->image_size / c->patch_size, GG = G * G, T = GG + 1, W = c->vision_width;
    a->B = B;
    a->patches = p; p += B * GG * 3 * P * P;
    a->pe = p; p += B * GG * W;
    a->emb = p; p += B * T * W;
    a->lnpre = p; p += B * T * W;
    a->lnpre_mean = p; p += B * T;
    a->lnpre_rstd = p; p += B * T;
    p = tf_acts_bind(&a->tf, p, slots, B, (int)T, (int)W, c->vision_heads);
    a->cls = p; p += B * W;
    a->lnpost = p; p += B * W;
    a->lnpost_mean = p; p += B;
    a->lnpost_rstd = p; p += B;
    a->feat = p;
}

void vit_forward(const clip_model *m, vit_acts *a, const float *pixels, int B, float *out) {
    const clip_config *c = &m->cfg;
    const clip_params *w = &m->p;
    int P = c->patch_size, S = c->image_size, G = S / P, GG = G * G, T = GG + 1, W = c->vision_width, K = 3 * P * P;
    clip_act_hook hook = m->hook;
    void *ud = m->hook_ud;
    /* im2col: each patch becomes a row in the conv weight's (c, ky, kx) order */
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int g = 0; g < GG; g++) {
            int gy = g / G, gx = g % G;
            float *dst = a->patches + ((size_t)b * GG + g) * K;
            for (int ch = 0; ch < 3; ch++)
                for (int ky = 0; ky < P; ky++)
                    memcpy(dst + (ch * P + ky) * P, pixels + (((size_t)b * 3 + ch) * S + gy * P + ky) * S + gx * P, P * sizeof(float));
        }
    if (m->packed && m->v_conv1_pk->data) matmul_prepacked(0, B * GG, 1.0f, a->patches, K, m->v_conv1_pk, 0.0f, a->pe, W, NULL, MATMUL_ACT_NONE);
    else linear_forward(a->pe, a->patches, w->v_conv1, NULL, B * GG, K, W);
    if (hook) hook(ud, "vis.patch_embed", a->pe, (size_t)B * GG * W);
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        float *e = a->emb + (size_t)b * T * W;
        for (int i = 0; i < W; i++) e[i] = w->v_cls[i] + w->v_pos[i];
        for (int t = 1; t < T; t++) {
            const float *pe = a->pe + ((size_t)b * GG + t - 1) * W, *pos = w->v_pos + (size_t)t * W;
            for (int i = 0; i < W; i++) e[(size_t)t * W + i] = pe[i] + pos[i];
        }
    }
    if (hook) hook(ud, "vis.embed", a->emb, (size_t)B * T * W);
    layernorm_forward(a->lnpre, a->lnpre_mean, a->lnpre_rstd, a->emb, w->v_ln_pre_w, w->v_ln_pre_b, B * T, W, c->ln_eps);
    if (hook) hook(ud, "vis.ln_pre", a->lnpre, (size_t)B * T * W);
    tf_shape s = {c->vision_layers, B, T, W, c->vision_heads, 0, c->activation, 1, NULL};   /* pools the class token */
    const float *y = transformer_forward(&w->v_tf, m->packed ? &m->vtf : NULL, &a->tf, a->lnpre, s, hook, ud, "vis");
    size_t stride = a->tf.pooled_out ? 1 : (size_t)T;
    for (int b = 0; b < B; b++) memcpy(a->cls + (size_t)b * W, y + b * stride * W, W * sizeof(float));
    layernorm_forward(a->lnpost, a->lnpost_mean, a->lnpost_rstd, a->cls, w->v_ln_post_w, w->v_ln_post_b, B, W, c->ln_eps);
    if (hook) hook(ud, "vis.ln_post", a->lnpost, (size_t)B * W);
    if (m->packed && m->v_proj_pk->data) matmul_prepacked(0, B, 1.0f, a->lnpost, W, m->v_proj_pk, 0.0f, a->feat, c->embed_dim, NULL, MATMUL_ACT_NONE);
    else matmul(0, 0, B, c->embed_dim, W, 1.0f, a->lnpost, W, w->v_proj, c->embed_dim, 0.0f, a->feat, c->embed_dim);
    if (hook) hook(ud, "vis.features", a->feat, (size_t)B * c->embed_dim);
    if (out) memcpy(out, a->feat, (size_t)B * c->embed_dim * sizeof(float));
}
