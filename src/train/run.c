/* clip_train: the training run. Steps through the loader's batches, evaluates the held-out
 * loss, and writes checkpoints holding everything a resumed run needs: the model, the AdamW
 * moments, the step, and the data position (epoch, next batch) with the seed. Data order and
 * augmentation are functions of (seed, epoch, position), so the resumed run continues exactly
 * as the uninterrupted one would have. */
#include "train/train.h"
#include "core/error.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The held-out loss: consecutive full batches in file order, no augmentation. */
static int eval_loss(trainer *t, const data_source *v, float *out, clip_error *err) {
    int B = t->o.batch_size < v->n ? t->o.batch_size : v->n;
    B -= B % t->mb;
    if (B < 2 || v->S != t->m->cfg.image_size || v->ctx != t->m->cfg.context_length)
        return clip_fail(err, CLIP_ERR_INVALID, "the held-out set does not fit the model (or holds fewer than 2 pairs per micro-batch)");
    size_t px = 3 * (size_t)v->S * v->S;
    float *p = malloc((size_t)B * px * sizeof(float));
    int32_t *tk = malloc((size_t)B * v->ctx * sizeof(int32_t));
    if (!p || !tk) { free(p); free(tk); return clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); }
    double sum = 0;
    int nb = v->n / B, rc = 0;
    for (int b = 0; b < nb && !rc; b++) {
        for (int k = 0; k < B && !rc; k++) rc = v->load(v, b * B + k, NULL, NULL, p + k * px, tk + (size_t)k * v->ctx, err);
        float l = 0;
        if (!rc) rc = trainer_eval(t, p, tk, B, &l, err);
        sum += l;
    }
    free(p); free(tk);
    *out = (float)(sum / nb);
    return rc;
}

static int save(trainer *t, const char *path, uint64_t seed, int epoch, int batch, clip_error *err) {
    char extra[256];
    snprintf(extra, sizeof extra, "{\"epoch\":%d,\"batch\":%d,\"seed\":\"%llu\",\"batch_size\":%d}", epoch, batch,
             (unsigned long long)seed, t->o.batch_size);
    return trainer_save(t, path, extra, err);
}

int clip_train(clip_model *m, const clip_train_opts *o, const clip_dataset *train, const clip_dataset *val,
               clip_train_cb cb, void *ud, clip_error *err) {
    const data_source *d = dataset_source(train), *v = val ? dataset_source(val) : NULL;
    if (d->S != m->cfg.image_size || d->ctx != m->cfg.context_length)
        return clip_fail(err, CLIP_ERR_INVALID, "the data (%d px, context %d) does not fit the model (%d px, context %d)", d->S,
                         d->ctx, m->cfg.image_size, m->cfg.context_length);
    trainer t;
    int rc = trainer_init(&t, m, o, err);
    if (rc) return rc;
    uint64_t seed = o->seed;
    int epoch = 0, batch = 0;
    if (o->resume_path) {
        char *state = NULL;
        if ((rc = trainer_load(&t, o->resume_path, &state, err))) { trainer_free(&t); return rc; }
        cJSON *j = cJSON_Parse(state);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "epoch"), *b = cJSON_GetObjectItemCaseSensitive(j, "batch");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "seed"), *bs = cJSON_GetObjectItemCaseSensitive(j, "batch_size");
        if (!cJSON_IsNumber(e) || !cJSON_IsNumber(b) || !cJSON_IsString(s) || !cJSON_IsNumber(bs)) {
            rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: the checkpoint's data position is missing", o->resume_path);
        } else if (bs->valueint != o->batch_size) {
            rc = clip_fail(err, CLIP_ERR_INVALID, "%s: the checkpoint was trained with batch size %d, not %d", o->resume_path,
                           bs->valueint, o->batch_size);
        } else {
            epoch = e->valueint;
            batch = b->valueint;
            seed = strtoull(s->valuestring, NULL, 10);   /* the run's own seed keeps its data order */
        }
        cJSON_Delete(j);
        free(state);
        if (rc) { trainer_free(&t); return rc; }
    }
    data_loader *l = NULL;
    if (t.step < o->steps) {
        data_augment aug = {o->crop_scale_min, o->color_jitter, o->hflip};
        l = loader_new_part(d, o->batch_size, t.rank * t.lb, t.lb, seed, o->augment ? &aug : NULL, o->workers, o->prefetch, epoch, batch, err);
        if (!l) { trainer_free(&t); return err ? err->status : CLIP_ERR_NOMEM; }
    }
    long end = o->stop_after > 0 && o->stop_after < o->steps ? o->stop_after : o->steps;
    long start_step = t.step;
    double t0 = now();
    int stopped = 0;
    clip_train_progress p = {0};
    while (!rc && t.step < end && !stopped) {
        const float *px;
        const int32_t *tk;
        if ((rc = loader_next(l, &px, &tk, &epoch, &batch, err))) break;
        train_stats st;
        if ((rc = trainer_step(&t, px, tk, &st, err))) break;
        batch++;   /* the position of the next batch */
        double el = now() - t0, sps = (double)(t.step - start_step) * o->batch_size / (el > 0 ? el : 1e-9);
        p = (clip_train_progress){.step = t.step, .steps = o->steps, .loss = st.loss, .lr = st.lr, .logit_scale = st.logit_scale,
                                  .grad_norm = st.grad_norm, .samples_per_s = sps, .epoch = epoch,
                                  .eta_s = sps > 0 ? (double)(end - t.step) * o->batch_size / sps : 0};
        if (cb && cb(ud, &p)) stopped = 1;
        int last = t.step == end || stopped;
        if (v && ((o->eval_every > 0 && t.step % o->eval_every == 0) || last)) {
            if ((rc = eval_loss(&t, v, &p.eval_loss, err))) break;
            p.event = 1;
            if (cb && cb(ud, &p)) stopped = 1;
            p.event = 0;
        }
        if (o->ckpt_path && t.rank == 0 && ((o->ckpt_every > 0 && t.step % o->ckpt_every == 0) || last || stopped)) {
            if ((rc = save(&t, o->ckpt_path, seed, epoch, batch, err))) break;
            p.event = 2;
            if (cb) cb(ud, &p);
            p.event = 0;
        }
    }
    loader_free(l);
    trainer_free(&t);
    return rc;
}
