/* The trainer: gradients, optimizer state and one optimizer step over a batch.
 *
 * A batch of batch_size pairs runs as accum_steps micro-batches. With one micro-batch: forward
 * (all activations kept), loss, backward. With several, the step stays exactly the big-batch
 * step (the contrastive loss couples every pair): a first forward pass collects the features of
 * all micro-batches, the loss and its feature gradients are computed once over the whole batch,
 * then each micro-batch is run forward again and back-propagated with its rows of that gradient,
 * so only one micro-batch's activations are ever held. */
#include "train/train.h"
#include "core/error.h"
#include "io/safetensors.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_visual(const char *name) { return !strncmp(name, "visual.", 7); }

int trainer_init(trainer *t, clip_model *m, const clip_train_opts *o, clip_error *err) {
    memset(t, 0, sizeof *t);
    const clip_config *c = &m->cfg;
    if (!c->text_width) return clip_fail(err, CLIP_ERR_UNSUPPORTED, "training needs a text tower");
    int rn = c->vision_kind == CLIP_VISION_RESNET;
    int nproc = o->dist ? o->dist->size : 1;
    if (nproc < 1 || (o->dist && (o->dist->rank < 0 || o->dist->rank >= nproc || !o->dist->allgather || !o->dist->allreduce_sum)))
        return clip_fail(err, CLIP_ERR_INVALID, "bad data-parallel setup");
    if (o->batch_size < 2 || o->accum_steps < 1 || o->batch_size % nproc || (o->batch_size / nproc) % o->accum_steps)
        return clip_fail(err, CLIP_ERR_INVALID, "batch size %d must be at least 2 and a multiple of %d process(es) x %d micro-batches",
                         o->batch_size, nproc, o->accum_steps);
    if (o->augment && (!(o->crop_scale_min > 0 && o->crop_scale_min <= 1) || !(o->color_jitter >= 0 && o->color_jitter <= 1)))
        return clip_fail(err, CLIP_ERR_INVALID, "augmentation: crop_scale_min %g must be in (0, 1] and color_jitter %g in [0, 1] "
                         "(clip_train_opts_defaults sets 0.9 and 0)", (double)o->crop_scale_min, (double)o->color_jitter);
    int rc = model_unpack(m, err);   /* training updates the checkpoint layout (model/pack.c) */
    if (rc) return rc;
    t->m = m;
    t->o = *o;
    t->nproc = nproc;
    t->rank = o->dist ? o->dist->rank : 0;
    t->lb = o->batch_size / nproc;
    t->mb = t->lb / o->accum_steps;
    size_t P = m->table.total, E = c->embed_dim, B = o->batch_size;
    size_t nv = rn ? resnet_acts_size(c, t->mb, 1) : vit_acts_size(c, t->mb, c->vision_layers);
    size_t na = nv + text_acts_size(c, t->mb, c->text_layers);
    size_t vs = rn ? resnet_backward_scratch(c, t->mb) : vit_backward_scratch_size(c, t->mb), ts = text_backward_scratch_size(c, t->mb);
    t->grad = calloc(P, sizeof(float));
    t->adam_m = calloc(P, sizeof(float));
    t->adam_v = calloc(P, sizeof(float));
    t->frozen = calloc(m->table.n, 1);
    t->acts = malloc(na * sizeof(float));
    t->scratch = malloc((vs > ts ? vs : ts) * sizeof(float));
    t->fi = malloc((4 * B + 2 * (size_t)t->lb) * E * sizeof(float));
    if (!t->grad || !t->adam_m || !t->adam_v || !t->frozen || !t->acts || !t->scratch || !t->fi) {
        trainer_free(t);
        return clip_fail(err, CLIP_ERR_NOMEM, "out of memory for training (%zu parameters, micro-batch %d)", P, t->mb);
    }
    t->ft = t->fi + B * E; t->di = t->ft + B * E; t->dt = t->di + B * E;
    t->li = t->dt + B * E; t->lt = t->li + (size_t)t->lb * E;
    params_bind(c, &m->table, t->grad, &t->g);
    if (rn) resnet_acts_bind(&t->ra, t->acts, c, t->mb, 1);
    else vit_acts_bind(&t->va, t->acts, c, t->mb, c->vision_layers);
    text_acts_bind(&t->ta, t->acts + nv, c, t->mb, c->text_layers);
    /* logit_scale is shared: it trains unless both towers are locked */
    for (int i = 0; i < m->table.n; i++) {
        const char *n = m->table.e[i].name;
        if (!strcmp(n, "logit_scale")) t->frozen[i] = o->lock_image && o->lock_text;
        else t->frozen[i] = is_visual(n) ? o->lock_image : o->lock_text;
        if (m->table.e[i].buffer) t->frozen[i] = 1;   /* BN running statistics: updated by the forward, not the optimizer */
    }
    return 0;
}

void trainer_free(trainer *t) {
    free(t->grad); free(t->adam_m); free(t->adam_v); free(t->frozen);
    free(t->acts); free(t->scratch); free(t->fi);
    memset(t, 0, sizeof *t);
}

static int forward_mb(trainer *t, const float *pixels, const int32_t *tokens, float *fi, float *ft) {
    const clip_config *c = &t->m->cfg;
    if (c->vision_kind == CLIP_VISION_RESNET) {
        if (resnet_forward(t->m, &t->ra, pixels, t->mb, fi)) return CLIP_ERR_NOMEM;
    } else {
        vit_forward(t->m, &t->va, pixels, t->mb, fi);
    }
    text_acts_bind(&t->ta, (float *)t->ta.eot, c, t->mb, c->text_layers);   /* reset T to the full context */
    text_forward(t->m, &t->ta, tokens, t->mb, 0, ft);
    return 0;
}

static int backward_mb(trainer *t, const int32_t *tokens, const float *di, const float *dt) {
    if (!t->o.lock_image) {
        if (t->m->cfg.vision_kind == CLIP_VISION_RESNET) {
            if (resnet_backward(t->m, &t->ra, di, t->grad, t->scratch)) return CLIP_ERR_NOMEM;
        } else {
            vit_backward(t->m, &t->g, &t->va, di, t->scratch);
        }
    }
    if (!t->o.lock_text) text_backward(t->m, &t->g, &t->ta, tokens, dt, t->scratch);
    return 0;
}

static int check_tokens(const clip_config *c, const int32_t *tokens, int n, clip_error *err) {
    for (size_t j = 0; j < (size_t)n * c->context_length; j++)
        if (tokens[j] < 0 || tokens[j] >= c->vocab_size)
            return clip_fail(err, CLIP_ERR_INVALID, "token id %d (row %zu) is outside the vocabulary of %d", tokens[j],
                             j / c->context_length, c->vocab_size);
    return 0;
}

int trainer_grad(trainer *t, const float *pixels, const int32_t *tokens, train_stats *st, clip_error *err) {
    const clip_config *c = &t->m->cfg;
    int B = t->o.batch_size, A = t->o.accum_steps, mb = t->mb, E = c->embed_dim, ctx = c->context_length;
    size_t px = 3 * (size_t)c->image_size * c->image_size;
    const clip_dist *dist = t->o.dist;
    int rc = check_tokens(c, tokens, t->lb, err);
    if (rc) return rc;
    memset(t->grad, 0, t->m->table.total * sizeof(float));
    /* this process's features; with several processes they meet in the all-gather */
    float *li = dist ? t->li : t->fi, *lt = dist ? t->lt : t->ft;
    for (int k = 0; k < A && !rc; k++)
        rc = forward_mb(t, pixels + k * mb * px, tokens + (size_t)k * mb * ctx, li + (size_t)k * mb * E, lt + (size_t)k * mb * E);
    if (rc) return clip_fail(err, rc, "out of memory in the forward pass");
    if (dist && (dist->allgather(dist->ud, li, t->fi, (size_t)t->lb * E) || dist->allgather(dist->ud, lt, t->ft, (size_t)t->lb * E)))
        return clip_fail(err, CLIP_ERR_IO, "the feature all-gather failed");
    clip_loss_out lo = {.dimg = t->di, .dtxt = t->dt};
    if ((rc = clip_loss(t->fi, t->ft, B, E, t->m->p.logit_scale[0], &lo, err))) return rc;
    /* every process computes the same loss: one of them carries the temperature's gradient */
    if (t->rank == 0) t->g.logit_scale[0] += lo.dlogit_scale;
    const float *di = t->di + (size_t)t->rank * t->lb * E, *dt = t->dt + (size_t)t->rank * t->lb * E;
    for (int k = 0; k < A; k++) {
        const int32_t *tk = tokens + (size_t)k * mb * ctx;
        if (A > 1) rc = forward_mb(t, pixels + k * mb * px, tk, li + (size_t)k * mb * E, lt + (size_t)k * mb * E);
        if (!rc) rc = backward_mb(t, tk, di + (size_t)k * mb * E, dt + (size_t)k * mb * E);
        if (rc) return clip_fail(err, rc, "out of memory in the backward pass");
    }
    if (dist && dist->allreduce_sum(dist->ud, t->grad, t->m->table.total))
        return clip_fail(err, CLIP_ERR_IO, "the gradient all-reduce failed");
    if (st) { st->loss = lo.loss; st->loss_image = lo.loss_image; st->loss_text = lo.loss_text; }
    return 0;
}

int trainer_step(trainer *t, const float *pixels, const int32_t *tokens, train_stats *st, clip_error *err) {
    train_stats s = {0};
    int rc = trainer_grad(t, pixels, tokens, &s, err);
    if (rc) return rc;
    const param_table *tb = &t->m->table;
    double nn = 0;
    for (int i = 0; i < tb->n; i++) {
        if (t->frozen[i]) continue;
        const float *g = t->grad + tb->e[i].offset;
        for (size_t j = 0; j < tb->e[i].numel; j++) nn += (double)g[j] * g[j];
    }
    s.grad_norm = (float)sqrt(nn);
    if (!isfinite(s.grad_norm) || !isfinite(s.loss))
        return clip_fail(err, CLIP_ERR_INVALID, "step %ld: the loss or gradient is not finite (loss %g)", t->step, s.loss);
    if (t->o.grad_clip > 0 && s.grad_norm > t->o.grad_clip) {
        float f = t->o.grad_clip / (s.grad_norm + 1e-6f);
        for (size_t j = 0; j < tb->total; j++) t->grad[j] *= f;
    }
    s.lr = train_lr_at(&t->o, t->step);
    adamw_step(tb, t->m->params, t->grad, t->adam_m, t->adam_v, t->step, s.lr, &t->o, t->frozen);
    /* open_clip clamps the temperature so exp(logit_scale) stays within [1, 100] */
    float *ls = t->m->p.logit_scale;
    if (*ls < 0) *ls = 0;
    if (*ls > logf(100.0f)) *ls = logf(100.0f);
    s.logit_scale = *ls;
    /* batch-norm running statistics saw only this process's images: keep their mean, so every
     * process holds the same model */
    if (t->o.dist && t->nproc > 1)
        for (int i = 0; i < tb->n; i++) {
            if (!tb->e[i].buffer) continue;
            float *b = t->m->params + tb->e[i].offset;
            if (t->o.dist->allreduce_sum(t->o.dist->ud, b, tb->e[i].numel)) return clip_fail(err, CLIP_ERR_IO, "the all-reduce failed");
            for (size_t j = 0; j < tb->e[i].numel; j++) b[j] /= (float)t->nproc;
        }
    t->step++;
    if (st) *st = s;
    return 0;
}

int trainer_eval(trainer *t, const float *pixels, const int32_t *tokens, int n, float *loss, clip_error *err) {
    const clip_config *c = &t->m->cfg;
    int mb = t->mb, E = c->embed_dim, ctx = c->context_length;
    if (n > t->o.batch_size || n % mb) return clip_fail(err, CLIP_ERR_INVALID, "eval batch of %d pairs", n);
    int rc = check_tokens(c, tokens, n, err);
    if (rc) return rc;
    size_t px = 3 * (size_t)c->image_size * c->image_size;
    for (int k = 0; k < n / mb && !rc; k++) {
        float *fi = t->fi + (size_t)k * mb * E, *ft = t->ft + (size_t)k * mb * E;
        if (c->vision_kind == CLIP_VISION_RESNET) {
            /* held-out images go through the inference path: batch norm on running statistics,
             * which it must not update */
            rc = clip_encode_image(t->m, pixels + k * mb * px, mb, fi, err);
            if (!rc) text_acts_bind(&t->ta, (float *)t->ta.eot, c, t->mb, c->text_layers);
            if (!rc) text_forward(t->m, &t->ta, tokens + (size_t)k * mb * ctx, t->mb, 0, ft);
        } else {
            rc = forward_mb(t, pixels + k * mb * px, tokens + (size_t)k * mb * ctx, fi, ft);
        }
    }
    if (rc) return rc;
    clip_loss_out lo = {0};
    if ((rc = clip_loss(t->fi, t->ft, n, E, t->m->p.logit_scale[0], &lo, err))) return rc;
    *loss = lo.loss;
    return 0;
}

/* ---- checkpoints */

static const char *OPT_PREFIX[2] = {"optimizer.exp_avg.", "optimizer.exp_avg_sq."};

int trainer_save(const trainer *t, const char *path, const char *extra_json, clip_error *err) {
    const param_table *tb = &t->m->table;
    int n = 3 * tb->n;
    st_write_item *items = calloc(n, sizeof *items);
    char *names = calloc((size_t)2 * tb->n, 128);
    char *cfg = model_config_json(&t->m->cfg);
    char state[64];
    snprintf(state, sizeof state, "%ld", t->step);
    cJSON *j = extra_json ? cJSON_Parse(extra_json) : cJSON_CreateObject();
    if (j) cJSON_AddNumberToObject(j, "step", (double)t->step);
    char *sj = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    int rc;
    if (!items || !names || !cfg || !sj) { rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory writing %s", path); goto done; }
    const float *blocks[3] = {t->m->params, t->adam_m, t->adam_v};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < tb->n; i++) {
            const param_entry *e = &tb->e[i];
            st_write_item *it = &items[k * tb->n + i];
            if (k == 0) it->name = e->name;
            else {
                char *nm = names + ((size_t)(k - 1) * tb->n + i) * 128;
                snprintf(nm, 128, "%s%s", OPT_PREFIX[k - 1], e->name);
                it->name = nm;
            }
            it->ndim = e->ndim;
            memcpy(it->shape, e->shape, sizeof e->shape);
            it->data = blocks[k] + e->offset;
        }
    const char *meta[] = {"format", "pt", "config", cfg, "clip.train", sj};
    rc = st_save(path, items, n, meta, 3, err);
done:
    free(items); free(names); free(cfg); free(sj);
    return rc;
}

int trainer_load(trainer *t, const char *path, char **state_json, clip_error *err) {
    st_file f;
    int rc = st_open(path, &f, err);
    if (rc) return rc;
    const param_table *tb = &t->m->table;
    const char *state = st_meta(&f, "clip.train");
    cJSON *j = state ? cJSON_Parse(state) : NULL;
    const cJSON *step = j ? cJSON_GetObjectItemCaseSensitive(j, "step") : NULL;
    if (!cJSON_IsNumber(step) || step->valuedouble < 0) {
        rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: not a training checkpoint (no 'clip.train' metadata with a step)", path);
        goto done;
    }
    float *blocks[3] = {t->m->params, t->adam_m, t->adam_v};
    for (int k = 0; k < 3 && !rc; k++)
        for (int i = 0; i < tb->n && !rc; i++) {
            const param_entry *e = &tb->e[i];
            char nm[160];
            snprintf(nm, sizeof nm, "%s%s", k ? OPT_PREFIX[k - 1] : "", e->name);
            const st_tensor *s = st_find(&f, nm);
            if (!s) rc = clip_fail(err, CLIP_ERR_MISSING, "%s: checkpoint has no tensor '%s'", path, nm);
            else if (s->numel != e->numel) rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: tensor '%s' has %zu values, the model needs %zu", path, nm, s->numel, e->numel);
            else rc = st_read_f32(s, blocks[k] + e->offset, err);
        }
    if (!rc) {
        t->step = (long)step->valuedouble;
        if (state_json) *state_json = strdup(state);
    }
done:
    cJSON_Delete(j);
    st_close(&f);
    return rc;
}
