/* AdamW with decoupled weight decay, exactly torch.optim.AdamW's single-tensor rule, and the
 * learning-rate schedule of open_clip: linear warmup, then cosine decay to zero. */
#include "train/train.h"
#include <math.h>

void clip_train_opts_defaults(clip_train_opts *o) {
    *o = (clip_train_opts){0};
    o->batch_size = 64;
    o->accum_steps = 1;
    o->steps = 1000;
    o->warmup_steps = 100;
    o->lr = 5e-4f;
    o->beta1 = 0.9f;
    o->beta2 = 0.98f;
    o->eps = 1e-6f;
    o->weight_decay = 0.2f;
    o->seed = 0;
    o->augment = 1;
    o->crop_scale_min = 0.9f;
    o->workers = 1;
    o->prefetch = 2;
}

float train_lr_at(const clip_train_opts *o, long s) {
    if (s < o->warmup_steps) return o->lr * (float)(s + 1) / (float)o->warmup_steps;
    long e = s - o->warmup_steps, es = o->steps - o->warmup_steps;
    if (es <= 0) return o->lr;
    if (e > es) e = es;
    return (float)(0.5 * (1.0 + cos(M_PI * (double)e / (double)es)) * o->lr);
}

void adamw_step(const param_table *t, float *params, const float *grad, float *m, float *v, long step, float lr,
                const clip_train_opts *o, const unsigned char *frozen) {
    float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    /* bias corrections in double, as torch computes them in Python */
    double bc1 = 1.0 - pow(b1, (double)(step + 1)), bc2 = 1.0 - pow(b2, (double)(step + 1));
    float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    for (int i = 0; i < t->n; i++) {
        const param_entry *e = &t->e[i];
        if (frozen && frozen[i]) continue;
        float decay = e->decay ? 1.0f - lr * o->weight_decay : 1.0f;
        float *p = params + e->offset, *mi = m + e->offset, *vi = v + e->offset;
        const float *g = grad + e->offset;
        size_t n = e->numel;
        #pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t j = 0; j < n; j++) {
            p[j] *= decay;
            mi[j] = b1 * mi[j] + (1.0f - b1) * g[j];
            vi[j] = b2 * vi[j] + (1.0f - b2) * g[j] * g[j];
            float denom = sqrtf(vi[j]) / bc2_sqrt + eps;
            p[j] -= step_size * (mi[j] / denom);
        }
    }
}
