/* Resume guarantee: training N steps straight, and training N/2 steps, stopping, then resuming
 * from the checkpoint to N, give bitwise identical parameters and optimizer state (one compute
 * thread; two data threads with augmentation on). Also: batches never hold two pairs of a
 * group, and the loader's batches do not depend on the number of data threads. */
#include "testutil.h"
#include "train/train.h"
#include "io/safetensors.h"
#include <unistd.h>

enum { N = 30, S = 16, CTX = 8, STEPS = 8 };

static clip_config tiny(void) {
    clip_config c = {0};
    c.vision_kind = CLIP_VISION_VIT;
    c.image_size = S; c.patch_size = 8; c.vision_width = 16; c.vision_layers = 2; c.vision_heads = 2;
    c.text_width = 16; c.text_layers = 2; c.text_heads = 2; c.context_length = CTX; c.vocab_size = 20;
    c.embed_dim = 8;
    return c;
}

static void opts(clip_train_opts *o, const char *ckpt) {
    clip_train_opts_defaults(o);
    o->batch_size = 6; o->accum_steps = 2; o->steps = STEPS; o->warmup_steps = 2; o->lr = 1e-2f;
    o->grad_clip = 1.0f; o->seed = 42; o->workers = 2; o->prefetch = 3; o->ckpt_path = ckpt; o->ckpt_every = 3;
}

static clip_model *train_run(const clip_dataset *ds, const char *ckpt, const char *resume, long stop_after) {
    clip_config c = tiny();
    clip_error e = {0};
    clip_model *m = clip_model_init(&c, 5, &e);
    clip_train_opts o;
    opts(&o, ckpt);
    o.resume_path = resume;
    o.stop_after = stop_after;
    CHECK(clip_train(m, &o, ds, ds, NULL, NULL, &e) == 0, "train: %s", e.msg);
    return m;
}

static int same_file_tensors(const char *a, const char *b) {
    st_file fa, fb;
    clip_error e = {0};
    if (st_open(a, &fa, &e) || st_open(b, &fb, &e)) { fprintf(stderr, "%s\n", e.msg); return 0; }
    int same = fa.n == fb.n;
    for (int i = 0; same && i < fa.n; i++)
        same = !strcmp(fa.tensors[i].name, fb.tensors[i].name) && fa.tensors[i].nbytes == fb.tensors[i].nbytes &&
               !memcmp(fa.tensors[i].data, fb.tensors[i].data, fa.tensors[i].nbytes);
    st_close(&fa); st_close(&fb);
    return same;
}

int main(void) {
    clip_set_threads(1);
    char dir[] = "/tmp/clip_resume_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char pp[128], tp[128], gp[128], ca[128], cb[128];
    snprintf(pp, sizeof pp, "%s/px.npy", dir); snprintf(tp, sizeof tp, "%s/tok.npy", dir);
    snprintf(gp, sizeof gp, "%s/groups.npy", dir);
    snprintf(ca, sizeof ca, "%s/a.safetensors", dir); snprintf(cb, sizeof cb, "%s/b.safetensors", dir);
    /* a synthetic set: random images, captions of random length ending in EOT (19), 10 groups */
    static float px[N * 3 * S * S];
    int32_t tok[N * CTX] = {0}, grp[N];
    clip_rng r;
    rng_seed(&r, 1);
    for (size_t i = 0; i < sizeof px / sizeof px[0]; i++) px[i] = (float)rng_normal(&r);
    for (int i = 0; i < N; i++) {
        int len = 2 + (int)rng_below(&r, CTX - 2);
        tok[i * CTX] = 18;
        for (int k = 1; k < len; k++) tok[i * CTX + k] = 1 + (int)rng_below(&r, 17);
        tok[i * CTX + len] = 19;
        grp[i] = i % 10;
    }
    clip_error e = {0};
    int64_t sp[4] = {N, 3, S, S}, st[2] = {N, CTX}, sg[1] = {N};
    CHECK(npy_save(pp, NPY_F4, 4, sp, px, &e) == 0 && npy_save(tp, NPY_I4, 2, st, tok, &e) == 0 &&
          npy_save(gp, NPY_I4, 1, sg, grp, &e) == 0, "%s", e.msg);
    clip_dataset *ds = clip_dataset_from_npy(pp, tp, gp, &e);
    CHECK(ds != NULL, "%s", e.msg);
    if (!ds) TEST_END();

    /* groups stay unique within every batch */
    const data_source *d = dataset_source(ds);
    for (int ep = 0; ep < 3; ep++) {
        int *order, nb;
        CHECK(data_epoch_plan(d, 42, ep, 6, &order, &nb, &e) == 0, "%s", e.msg);
        CHECK(nb >= 3, "epoch %d: only %d batches", ep, nb);
        for (int b = 0; b < nb; b++)
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < i; j++)
                    CHECK(grp[order[b * 6 + i]] != grp[order[b * 6 + j]], "epoch %d batch %d repeats a group", ep, b);
        free(order);
    }
    /* one data thread or three: the same bytes */
    const data_augment aug = {0.5f, 0.4f, 1};   /* every augmentation on */
    data_loader *l1 = loader_new(d, 6, 9, &aug, 1, 2, 0, 0, &e), *l3 = loader_new(d, 6, 9, &aug, 3, 4, 0, 0, &e);
    for (int k = 0; k < 7 && l1 && l3; k++) {
        const float *p1, *p3; const int32_t *t1, *t3; int e1, b1, e3, b3;
        CHECK(loader_next(l1, &p1, &t1, &e1, &b1, &e) == 0 && loader_next(l3, &p3, &t3, &e3, &b3, &e) == 0, "%s", e.msg);
        CHECK(e1 == e3 && b1 == b3 && !memcmp(p1, p3, 6 * 3 * S * S * 4) && !memcmp(t1, t3, 6 * CTX * 4), "batch %d differs", k);
    }
    loader_free(l1); loader_free(l3);

    clip_model *a = train_run(ds, ca, NULL, 0);
    clip_model *b = train_run(ds, cb, NULL, STEPS / 2);
    clip_model_free(b);
    b = train_run(ds, cb, cb, 0);
    CHECK(!memcmp(a->params, b->params, a->table.total * sizeof(float)), "resumed parameters differ from the straight run");
    CHECK(same_file_tensors(ca, cb), "the final checkpoints differ (parameters or optimizer state)");
    /* training moved the parameters */
    clip_config c = tiny();
    clip_model *init = clip_model_init(&c, 5, &e);
    CHECK(memcmp(a->params, init->params, a->table.total * sizeof(float)) != 0, "training changed nothing");
    clip_model_free(init); clip_model_free(a); clip_model_free(b);
    clip_dataset_free(ds);
    unlink(pp); unlink(tp); unlink(gp); unlink(ca); unlink(cb); rmdir(dir);
    TEST_END();
}
