/* The training data pipeline: sources (one sample by index), the epoch plan (seeded shuffle,
 * one pair per group in a batch), augmentation, and a loader whose worker threads prepare
 * batches ahead of the compute.
 *
 * Every random choice is drawn from a stream keyed by (seed, epoch, position), never from a
 * shared generator, so the data of any step is a pure function of the seed and the data
 * position: any number of workers gives the same batches, and a resumed run sees exactly the
 * batches an uninterrupted one would. */
#include "train/train.h"
#include "core/error.h"
#include "io/npy.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- augmentation */

static const float MEAN[3] = {0.48145466f, 0.4578275f, 0.40821073f}, STD[3] = {0.26862954f, 0.26130258f, 0.27577711f};

static uint64_t mix(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}

void data_sample_rng(clip_rng *r, uint64_t seed, int epoch, long pos) {
    rng_seed(r, mix(seed ^ mix(0x5eedull + (uint64_t)epoch * 0x9e3779b97f4a7c15ull) ^ mix((uint64_t)pos + 1)));
}

/* torchvision's RandomResizedCrop.get_params (10 tries, else the whole image), then a
 * bilinear resample of the crop back to S×S (half-pixel centres, edges clamped). */
void data_random_resized_crop(float *img, int S, clip_rng *r, float lo, float hi) {
    int x0 = 0, y0 = 0, cw = S, ch = S;
    double area = (double)S * S, lr0 = log(3.0 / 4.0), lr1 = log(4.0 / 3.0);
    for (int k = 0; k < 10; k++) {
        double ta = area * (lo + (hi - lo) * rng_uniform(r));
        double ar = exp(lr0 + (lr1 - lr0) * rng_uniform(r));
        int w = (int)lround(sqrt(ta * ar)), h = (int)lround(sqrt(ta / ar));
        if (w > 0 && h > 0 && w <= S && h <= S) {
            y0 = (int)rng_below(r, (uint32_t)(S - h + 1));
            x0 = (int)rng_below(r, (uint32_t)(S - w + 1));
            cw = w; ch = h;
            break;
        }
    }
    if (cw == S && ch == S) return;
    size_t plane = (size_t)S * S;
    float *src = malloc(3 * plane * sizeof(float));
    if (!src) return;   /* out of memory: leave the image uncropped */
    memcpy(src, img, 3 * plane * sizeof(float));
    double sx = (double)cw / S, sy = (double)ch / S;
    for (int y = 0; y < S; y++) {
        double fy = y0 + (y + 0.5) * sy - 0.5;
        if (fy < y0) fy = y0;
        if (fy > y0 + ch - 1) fy = y0 + ch - 1;
        int iy = (int)fy, iy1 = iy + 1 < y0 + ch ? iy + 1 : iy;
        float wy = (float)(fy - iy);
        for (int x = 0; x < S; x++) {
            double fx = x0 + (x + 0.5) * sx - 0.5;
            if (fx < x0) fx = x0;
            if (fx > x0 + cw - 1) fx = x0 + cw - 1;
            int ix = (int)fx, ix1 = ix + 1 < x0 + cw ? ix + 1 : ix;
            float wx = (float)(fx - ix);
            for (int c = 0; c < 3; c++) {
                const float *p = src + c * plane;
                float a = p[(size_t)iy * S + ix] * (1 - wx) + p[(size_t)iy * S + ix1] * wx;
                float b = p[(size_t)iy1 * S + ix] * (1 - wx) + p[(size_t)iy1 * S + ix1] * wx;
                img[c * plane + (size_t)y * S + x] = a * (1 - wy) + b * wy;
            }
        }
    }
    free(src);
}

static float clamp01(float x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

/* torchvision's adjust_brightness / adjust_contrast / adjust_saturation on [0,1] pixels (each
 * clamps; contrast blends with the mean grey of the image, saturation with each pixel's grey). */
void data_color_flip(float *img, int S, clip_rng *r, const data_augment *aug) {
    size_t plane = (size_t)S * S;
    if (aug->jitter > 0) {
        float s = aug->jitter;
        float fb = 1 - s + 2 * s * (float)rng_uniform(r), fc = 1 - s + 2 * s * (float)rng_uniform(r);
        float fs = 1 - s + 2 * s * (float)rng_uniform(r);
        float *R = img, *G = img + plane, *B = img + 2 * plane;
        double grey_sum = 0;
        for (size_t k = 0; k < plane; k++) {
            R[k] = clamp01((R[k] * STD[0] + MEAN[0]) * fb);
            G[k] = clamp01((G[k] * STD[1] + MEAN[1]) * fb);
            B[k] = clamp01((B[k] * STD[2] + MEAN[2]) * fb);
            grey_sum += 0.299f * R[k] + 0.587f * G[k] + 0.114f * B[k];
        }
        float m = (float)(grey_sum / (double)plane);
        for (size_t k = 0; k < plane; k++) {
            float r0 = clamp01((R[k] - m) * fc + m), g0 = clamp01((G[k] - m) * fc + m), b0 = clamp01((B[k] - m) * fc + m);
            float y = 0.299f * r0 + 0.587f * g0 + 0.114f * b0;
            R[k] = (clamp01((r0 - y) * fs + y) - MEAN[0]) / STD[0];
            G[k] = (clamp01((g0 - y) * fs + y) - MEAN[1]) / STD[1];
            B[k] = (clamp01((b0 - y) * fs + y) - MEAN[2]) / STD[2];
        }
    }
    if (aug->hflip && rng_uniform(r) < 0.5)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < S; y++) {
                float *row = img + c * plane + (size_t)y * S;
                for (int a = 0, b = S - 1; a < b; a++, b--) { float t = row[a]; row[a] = row[b]; row[b] = t; }
            }
}

/* ---- the epoch plan */

int data_epoch_plan(const data_source *d, uint64_t seed, int epoch, int B, int **order_out, int *nbatches, clip_error *err) {
    int n = d->n;
    int *perm = malloc((size_t)n * sizeof(int)), *order = malloc((size_t)n * sizeof(int)), *wait = malloc((size_t)n * sizeof(int));
    if (!perm || !order || !wait) { free(perm); free(order); free(wait); return clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); }
    clip_rng r;
    rng_seed(&r, mix(seed + 0x51ull) ^ mix((uint64_t)epoch + 77));
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) { int j = (int)rng_below(&r, (uint32_t)i + 1), t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
    int nb = 0;
    if (!d->group) {
        nb = n / B;
        memcpy(order, perm, (size_t)nb * B * sizeof(int));
    } else {
        /* greedy: take pairs in shuffled order; one whose group is already in the batch waits
         * (in order) and is offered first to the next batch */
        int nw = 0, next = 0, fill = 0;
        int *batch = order;
        for (;;) {
            for (int k = 0; k < nw && fill < B; k++) {
                int s = wait[k], dup = 0;
                for (int q = 0; q < fill && !dup; q++) dup = d->group[batch[q]] == d->group[s];
                if (!dup) { batch[fill++] = s; memmove(wait + k, wait + k + 1, (size_t)(nw - k - 1) * sizeof(int)); nw--; k--; }
            }
            while (fill < B && next < n) {
                int s = perm[next++], dup = 0;
                for (int q = 0; q < fill && !dup; q++) dup = d->group[batch[q]] == d->group[s];
                if (dup) wait[nw++] = s;
                else batch[fill++] = s;
            }
            if (fill < B) break;   /* the shuffle is used up: the partial batch is dropped */
            nb++; batch += B; fill = 0;
        }
    }
    free(perm); free(wait);
    if (nb == 0) { free(order); return clip_fail(err, CLIP_ERR_INVALID, "the data set has fewer than %d usable pairs for one batch", B); }
    *order_out = order;
    *nbatches = nb;
    return 0;
}

/* ---- arrays as a source */

typedef struct { npy_array px, tok; int u8; } npy_src;

static int npy_load_sample(const data_source *d, int i, clip_rng *r, const data_augment *aug, float *pixels, int32_t *tokens, clip_error *err) {
    const npy_src *s = d->ctx_data;
    size_t S = d->S, plane = S * S;
    if (s->u8) {
        const uint8_t *p = (const uint8_t *)s->px.data + (size_t)i * plane * 3;
        for (size_t k = 0; k < plane; k++)
            for (int c = 0; c < 3; c++) pixels[c * plane + k] = (p[k * 3 + c] / 255.0f - MEAN[c]) / STD[c];
    } else {
        memcpy(pixels, (const float *)s->px.data + (size_t)i * 3 * plane, 3 * plane * sizeof(float));
    }
    if (aug && r) {
        data_random_resized_crop(pixels, d->S, r, aug->scale_lo, 1.0f);
        data_color_flip(pixels, d->S, r, aug);
    }
    memcpy(tokens, (const int32_t *)s->tok.data + (size_t)i * d->ctx, d->ctx * sizeof(int32_t));
    (void)err;
    return 0;
}

static void npy_src_free(data_source *d) {
    npy_src *s = d->ctx_data;
    if (s) { npy_free(&s->px); npy_free(&s->tok); free(s); }
    free(d->group);
}

clip_dataset *clip_dataset_from_npy(const char *pixels_npy, const char *tokens_npy, const char *groups_npy, clip_error *err) {
    clip_dataset *ds = calloc(1, sizeof *ds);
    npy_src *s = calloc(1, sizeof *s);
    if (!ds || !s) { free(ds); free(s); clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); return NULL; }
    data_source *d = &ds->src;
    d->ctx_data = s;
    d->load = npy_load_sample;
    d->free = npy_src_free;
    npy_array g = {0};
    int rc = npy_load(pixels_npy, &s->px, err);
    if (!rc) rc = npy_load(tokens_npy, &s->tok, err);
    if (rc) goto fail;
    if (s->px.dtype == NPY_U1 && s->px.ndim == 4 && s->px.shape[3] == 3 && s->px.shape[1] == s->px.shape[2]) {
        s->u8 = 1;
        d->S = (int)s->px.shape[1];
    } else if (!npy_to_f32(&s->px, NULL) && s->px.ndim == 4 && s->px.shape[1] == 3 && s->px.shape[2] == s->px.shape[3]) {
        d->S = (int)s->px.shape[2];
    } else {
        rc = clip_fail(err, CLIP_ERR_INVALID, "%s: expected float32 [N,3,S,S] or uint8 [N,S,S,3] pixels", pixels_npy);
        goto fail;
    }
    d->n = (int)s->px.shape[0];
    if ((rc = npy_to_i32(&s->tok, err))) goto fail;
    if (s->tok.ndim != 2 || s->tok.shape[0] != d->n) {
        rc = clip_fail(err, CLIP_ERR_INVALID, "%s: expected int32 tokens [%d, context]", tokens_npy, d->n);
        goto fail;
    }
    d->ctx = (int)s->tok.shape[1];
    if (groups_npy) {
        if ((rc = npy_load(groups_npy, &g, err)) || (rc = npy_to_i32(&g, err))) goto fail;
        if (g.ndim != 1 || g.shape[0] != d->n) {
            rc = clip_fail(err, CLIP_ERR_INVALID, "%s: expected int32 groups [%d]", groups_npy, d->n);
            goto fail;
        }
        d->group = g.data;   /* taken over */
        g.data = NULL;
    }
    return ds;
fail:
    npy_free(&g);
    clip_dataset_free(ds);
    (void)rc;
    return NULL;
}

int clip_dataset_size(const clip_dataset *d) { return d ? d->src.n : 0; }

void clip_dataset_free(clip_dataset *d) {
    if (!d) return;
    if (d->src.free) d->src.free(&d->src);
    free(d);
}

const data_source *dataset_source(const clip_dataset *d) { return &d->src; }

/* ---- the loader */

typedef struct slot {
    long seq;                /* batch sequence number held, -1: free */
    int epoch, batch, done, claimed;
    int *idx;                /* [B] sample indices */
} slot;

struct data_loader {
    const data_source *d;
    int B, augment, depth, nworkers;
    data_augment aug;   /* B: pairs delivered per batch (this process's slice) */
    int Bg, off;                       /* the whole batch, and where the slice starts in it */
    uint64_t seed;
    float *px;               /* [depth,B,3,S,S] */
    int32_t *tok;            /* [depth,B,ctx] */
    slot *slots;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* the plan being handed out */
    int epoch, next_batch, nb;
    int *order;
    long next_seq, consumed;   /* next batch to start; batches released by the consumer */
    int have_current, stop, failed;
    clip_error err;
};

/* With the lock held: the slot for the next job, starting a new batch when the current one is
 * fully claimed and the ring has room. */
static slot *claim(data_loader *l, int *k) {
    for (long q = l->consumed; q < l->next_seq; q++) {
        slot *s = &l->slots[q % l->depth];
        if (s->claimed < l->B) { *k = s->claimed++; return s; }
    }
    if (l->next_seq >= l->consumed + l->depth) return NULL;
    if (l->next_batch >= l->nb) {
        free(l->order);
        l->order = NULL;
        l->epoch++;
        l->next_batch = 0;
        if (data_epoch_plan(l->d, l->seed, l->epoch, l->Bg, &l->order, &l->nb, &l->err)) { l->failed = 1; return NULL; }
    }
    slot *s = &l->slots[l->next_seq % l->depth];
    s->seq = l->next_seq++;
    s->epoch = l->epoch;
    s->batch = l->next_batch++;
    memcpy(s->idx, l->order + (size_t)s->batch * l->Bg + l->off, l->B * sizeof(int));
    s->done = 0;
    s->claimed = 1;
    *k = 0;
    return s;
}

static void *worker(void *arg) {
    data_loader *l = arg;
    const data_source *d = l->d;
    size_t px = 3 * (size_t)d->S * d->S;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        int k;
        slot *s = l->failed ? NULL : claim(l, &k);
        if (!s) { pthread_cond_wait(&l->cv, &l->mu); continue; }
        int si = (int)(s - l->slots), i = s->idx[k], epoch = s->epoch;
        long pos = (long)s->batch * l->Bg + l->off + k;
        pthread_mutex_unlock(&l->mu);
        clip_rng r;
        data_sample_rng(&r, l->seed, epoch, pos);
        clip_error e = {0};
        int rc = d->load(d, i, &r, l->augment ? &l->aug : NULL, l->px + ((size_t)si * l->B + k) * px, l->tok + ((size_t)si * l->B + k) * d->ctx, &e);
        pthread_mutex_lock(&l->mu);
        if (rc && !l->failed) { l->failed = 1; l->err = e; }
        s->done++;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

data_loader *loader_new(const data_source *d, int B, uint64_t seed, const data_augment *aug, int workers, int depth, int epoch, int batch,
                        clip_error *err) {
    return loader_new_part(d, B, 0, B, seed, aug, workers, depth, epoch, batch, err);
}

data_loader *loader_new_part(const data_source *d, int Bg, int off, int B, uint64_t seed, const data_augment *aug, int workers, int depth,
                             int epoch, int batch, clip_error *err) {
    if (off < 0 || B < 1 || off + B > Bg) { clip_fail(err, CLIP_ERR_INVALID, "bad batch slice"); return NULL; }
    data_loader *l = calloc(1, sizeof *l);
    if (!l) { clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); return NULL; }
    if (workers < 1) workers = 1;
    if (depth < 1) depth = 1;
    l->d = d; l->B = B; l->Bg = Bg; l->off = off; l->seed = seed; l->augment = aug != NULL;
    if (aug) l->aug = *aug;
    l->depth = depth;
    size_t px = 3 * (size_t)d->S * d->S;
    l->px = malloc((size_t)depth * B * px * sizeof(float));
    l->tok = malloc((size_t)depth * B * d->ctx * sizeof(int32_t));
    l->slots = calloc(depth, sizeof *l->slots);
    l->threads = calloc(workers, sizeof *l->threads);
    int ok = l->px && l->tok && l->slots && l->threads;
    for (int i = 0; ok && i < depth; i++) ok = (l->slots[i].idx = malloc(B * sizeof(int))) != NULL;
    if (!ok) { clip_fail(err, CLIP_ERR_NOMEM, "out of memory for %d prefetched batches", depth); loader_free(l); return NULL; }
    l->epoch = epoch;
    if (data_epoch_plan(d, seed, epoch, Bg, &l->order, &l->nb, err)) { loader_free(l); return NULL; }
    l->next_batch = batch;   /* past the end: claim() moves on to the next epoch */
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    for (int i = 0; i < workers; i++) {
        if (pthread_create(&l->threads[i], NULL, worker, l)) { clip_fail(err, CLIP_ERR_NOMEM, "cannot start a data thread"); loader_free(l); return NULL; }
        l->nworkers++;
    }
    return l;
}

int loader_next(data_loader *l, const float **pixels, const int32_t **tokens, int *epoch, int *batch, clip_error *err) {
    pthread_mutex_lock(&l->mu);
    if (l->have_current) { l->consumed++; pthread_cond_broadcast(&l->cv); }
    l->have_current = 0;
    slot *s = &l->slots[l->consumed % l->depth];
    while (!l->failed && !(s->seq == l->consumed && l->consumed < l->next_seq && s->done == l->B)) pthread_cond_wait(&l->cv, &l->mu);
    if (l->failed) {
        if (err) *err = l->err;
        int st = l->err.status ? l->err.status : CLIP_ERR_IO;
        pthread_mutex_unlock(&l->mu);
        return st;
    }
    size_t si = (size_t)(s - l->slots);
    *pixels = l->px + si * l->B * 3 * (size_t)l->d->S * l->d->S;
    *tokens = l->tok + si * l->B * l->d->ctx;
    *epoch = s->epoch;
    *batch = s->batch;
    l->have_current = 1;
    pthread_mutex_unlock(&l->mu);
    return 0;
}

void loader_free(data_loader *l) {
    if (!l) return;
    if (l->nworkers) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        for (int i = 0; i < l->nworkers; i++) pthread_join(l->threads[i], NULL);
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
    }
    for (int i = 0; l->slots && i < l->depth; i++) free(l->slots[i].idx);
    free(l->slots); free(l->threads); free(l->px); free(l->tok); free(l->order);
    free(l);
}
