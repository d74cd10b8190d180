/* CLIP's contrastive loss and its gradient. Both feature sets are L2-normalised,
 * logits = exp(logit_scale) · I·Tᵀ, and the loss is the mean of the cross-entropies over rows
 * (image → text) and over columns (text → image), with the i-th caption the i-th image's label. */
#include "train/train.h"
#include "core/error.h"
#include "core/matmul.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void normalise(float *u, float *inv_norm, const float *x, int B, int E) {
    for (int i = 0; i < B; i++) {
        double s = 0;
        for (int k = 0; k < E; k++) s += (double)x[(size_t)i * E + k] * x[(size_t)i * E + k];
        inv_norm[i] = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (int k = 0; k < E; k++) u[(size_t)i * E + k] = x[(size_t)i * E + k] * inv_norm[i];
    }
}

/* dx = (du - u (u·du)) / |x|: the gradient through x / |x| */
static void normalise_backward(float *dx, const float *du, const float *u, const float *inv_norm, int B, int E) {
    for (int i = 0; i < B; i++) {
        const float *ui = u + (size_t)i * E, *dui = du + (size_t)i * E;
        double dot = 0;
        for (int k = 0; k < E; k++) dot += (double)ui[k] * dui[k];
        for (int k = 0; k < E; k++) dx[(size_t)i * E + k] = (dui[k] - ui[k] * (float)dot) * inv_norm[i];
    }
}

int clip_loss(const float *img, const float *txt, int B, int E, float logit_scale, clip_loss_out *o, clip_error *err) {
    size_t be = (size_t)B * E, bb = (size_t)B * B;
    float *buf = malloc((2 * be + 2 * be + 2 * bb + 2 * (size_t)B) * sizeof(float));
    if (!buf) return clip_fail(err, CLIP_ERR_NOMEM, "out of memory for the loss of %d pairs", B);
    float *u = buf, *v = u + be, *du = v + be, *dv = du + be, *lg = dv + be, *dl = lg + bb, *nu = dl + bb, *nv = nu + B;
    normalise(u, nu, img, B, E);
    normalise(v, nv, txt, B, E);
    float s = expf(logit_scale);
    matmul(0, 1, B, B, E, s, u, E, v, E, 0.0f, lg, B);   /* logits_per_image [B,B] */
    if (o->logits) memcpy(o->logits, lg, bb * sizeof(float));
    /* dl = (softmax_rows(lg) - I) / 2B + (softmax_cols(lg) - I) / 2B */
    double li = 0, lt = 0;
    for (int i = 0; i < B; i++) {
        const float *r = lg + (size_t)i * B;
        float mx = r[0];
        for (int j = 1; j < B; j++) if (r[j] > mx) mx = r[j];
        double z = 0;
        for (int j = 0; j < B; j++) z += exp((double)r[j] - mx);
        li += log(z) + mx - r[i];
        for (int j = 0; j < B; j++) dl[(size_t)i * B + j] = (float)(exp((double)r[j] - mx) / z) / (2.0f * B);
        dl[(size_t)i * B + i] -= 1.0f / (2.0f * B);
    }
    for (int j = 0; j < B; j++) {
        float mx = lg[j];
        for (int i = 1; i < B; i++) if (lg[(size_t)i * B + j] > mx) mx = lg[(size_t)i * B + j];
        double z = 0;
        for (int i = 0; i < B; i++) z += exp((double)lg[(size_t)i * B + j] - mx);
        lt += log(z) + mx - lg[(size_t)j * B + j];
        for (int i = 0; i < B; i++) dl[(size_t)i * B + j] += (float)(exp((double)lg[(size_t)i * B + j] - mx) / z) / (2.0f * B);
        dl[(size_t)j * B + j] -= 1.0f / (2.0f * B);
    }
    o->loss_image = (float)(li / B);
    o->loss_text = (float)(lt / B);
    o->loss = (float)((li + lt) / (2.0 * B));
    /* logits = s·u·vᵀ: d(logit_scale) = Σ dl·lg (ds/dlogit_scale = s) */
    double ds = 0;
    for (size_t k = 0; k < bb; k++) ds += (double)dl[k] * lg[k];
    o->dlogit_scale = (float)ds;
    if (o->dimg || o->dtxt) {
        matmul(0, 0, B, E, B, s, dl, B, v, E, 0.0f, du, E);
        matmul(1, 0, B, E, B, s, dl, B, u, E, 0.0f, dv, E);
        if (o->dimg) normalise_backward(o->dimg, du, u, nu, B, E);
        if (o->dtxt) normalise_backward(o->dtxt, dv, v, nv, B, E);
    }
    free(buf);
    return 0;
}
