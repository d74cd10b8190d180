/* Data-parallel training: two processes, simulated by two threads with shared-memory
 * collectives, each computing half of every batch, must take the same steps as one process on
 * the whole batch (within float rounding), and stay bitwise identical to each other; through
 * the trainer directly (with and without micro-batches) and through clip_train's sliced loader. */
#include "testutil.h"
#include "train/train.h"
#include "core/rng.h"
#include <pthread.h>
#include <unistd.h>

enum { R = 2, B = 8, CTX = 6 };

typedef struct { pthread_barrier_t bar; float *buf; } shm;
typedef struct { shm *s; int rank; } rank_ud;

static int allgather(void *ud, const float *send, float *recv, size_t n) {
    rank_ud *u = ud;
    memcpy(u->s->buf + (size_t)u->rank * n, send, n * sizeof(float));
    pthread_barrier_wait(&u->s->bar);
    memcpy(recv, u->s->buf, R * n * sizeof(float));
    pthread_barrier_wait(&u->s->bar);
    return 0;
}

static int allreduce_sum(void *ud, float *buf, size_t n) {
    rank_ud *u = ud;
    memcpy(u->s->buf + (size_t)u->rank * n, buf, n * sizeof(float));
    pthread_barrier_wait(&u->s->bar);
    for (size_t j = 0; j < n; j++) {   /* the same order on every rank: identical results */
        float s = 0;
        for (int r = 0; r < R; r++) s += u->s->buf[(size_t)r * n + j];
        buf[j] = s;
    }
    pthread_barrier_wait(&u->s->bar);
    return 0;
}

static clip_config tiny(void) {
    clip_config c = {0};
    c.vision_kind = CLIP_VISION_VIT;
    c.image_size = 8; c.patch_size = 4; c.vision_width = 16; c.vision_layers = 2; c.vision_heads = 2;
    c.text_width = 16; c.text_layers = 2; c.text_heads = 2; c.context_length = CTX; c.vocab_size = 12; c.embed_dim = 8;
    return c;
}

static float px[B * 3 * 64];
static int32_t tok[B * CTX];

typedef struct { clip_model *m; int rank, accum, steps; shm *s; int rc; char msg[512]; float *grad; } job;

static void *run_rank(void *arg) {
    job *j = arg;
    rank_ud u = {j->s, j->rank};
    clip_dist d = {j->rank, R, allgather, allreduce_sum, &u};
    clip_train_opts o;
    clip_train_opts_defaults(&o);
    o.batch_size = B; o.accum_steps = j->accum; o.steps = j->steps; o.warmup_steps = 1; o.lr = 1e-2f; o.dist = &d;
    trainer t;
    clip_error e = {0};
    j->rc = trainer_init(&t, j->m, &o, &e);
    int lb = B / R;
    if (!j->rc) {   /* the first step's gradient, kept for comparison */
        j->rc = trainer_grad(&t, px + (size_t)j->rank * lb * 3 * 64, tok + (size_t)j->rank * lb * CTX, NULL, &e);
        if (!j->rc) memcpy(j->grad, t.grad, j->m->table.total * sizeof(float));
    }
    for (int s = 0; s < j->steps && !j->rc; s++)
        j->rc = trainer_step(&t, px + (size_t)j->rank * lb * 3 * 64, tok + (size_t)j->rank * lb * CTX, NULL, &e);
    if (j->rc) snprintf(j->msg, sizeof j->msg, "%s", e.msg);
    trainer_free(&t);
    return NULL;
}

static void check_trainer(int accum) {
    clip_config c = tiny();
    clip_error e = {0};
    clip_model *one = clip_model_init(&c, 5, &e), *m[R];
    for (int r = 0; r < R; r++) m[r] = clip_model_init(&c, 5, &e);
    clip_train_opts o;
    clip_train_opts_defaults(&o);
    o.batch_size = B; o.accum_steps = accum; o.steps = 4; o.warmup_steps = 1; o.lr = 1e-2f;
    trainer t;
    size_t P = one->table.total;
    float *g1 = malloc(P * sizeof(float)), *g2[R];
    CHECK(trainer_init(&t, one, &o, &e) == 0, "%s", e.msg);
    CHECK(trainer_grad(&t, px, tok, NULL, &e) == 0, "%s", e.msg);
    memcpy(g1, t.grad, P * sizeof(float));
    for (int s = 0; s < 4; s++) CHECK(trainer_step(&t, px, tok, NULL, &e) == 0, "%s", e.msg);
    trainer_free(&t);
    shm s = {.buf = malloc(R * one->table.total * sizeof(float))};
    pthread_barrier_init(&s.bar, NULL, R);
    job jobs[R];
    pthread_t th[R];
    for (int r = 0; r < R; r++) {
        g2[r] = malloc(P * sizeof(float));
        jobs[r] = (job){.m = m[r], .rank = r, .accum = accum, .steps = 4, .s = &s, .grad = g2[r]};
        pthread_create(&th[r], NULL, run_rank, &jobs[r]);
    }
    for (int r = 0; r < R; r++) pthread_join(th[r], NULL);
    for (int r = 0; r < R; r++) CHECK(jobs[r].rc == 0, "rank %d: %s", r, jobs[r].msg);
    /* the gradient of the global batch, every tensor: a missing or doubled share would show here
     * (AdamW itself is blind to the gradient's scale) */
    for (int i = 0; i < one->table.n; i++) {
        const param_entry *pe = &one->table.e[i];
        double rel = tu_rel_err(g2[0] + pe->offset, g1 + pe->offset, pe->numel);
        /* a tensor whose true gradient is zero (the key bias) holds only rounding noise */
        double mx = 0;
        for (size_t k = 0; k < pe->numel; k++) mx = fmax(mx, fabs(g1[pe->offset + k]));
        CHECK(rel < 1e-4 || mx < 1e-6, "%s: gradient of 2 processes vs 1: rel err %.3g (accum %d)", pe->name, rel, accum);
    }
    CHECK(!memcmp(g2[0], g2[1], P * sizeof(float)), "every rank holds the same summed gradient");
    CHECK(!memcmp(m[0]->params, m[1]->params, P * sizeof(float)), "the ranks hold bitwise identical models (accum %d)", accum);
    /* after 4 AdamW steps: near, up to the noise AdamW amplifies in zero-gradient tensors */
    double rel = tu_rel_err(m[0]->params, one->params, P);
    CHECK(rel < 1e-3, "2 processes x %d pairs vs 1 process x %d pairs after 4 steps: rel err %.3g (accum %d)", B / R, B, rel, accum);
    free(g1);
    for (int r = 0; r < R; r++) free(g2[r]);
    /* and the steps did move the weights */
    clip_model *init = clip_model_init(&c, 5, &e);
    CHECK(tu_rel_err(one->params, init->params, P) > 1e-3, "training changed the model");
    clip_model_free(init);
    pthread_barrier_destroy(&s.bar);
    free(s.buf);
    clip_model_free(one);
    for (int r = 0; r < R; r++) clip_model_free(m[r]);
}

/* clip_train end to end: the sliced loader hands each rank its half of the same batches */
typedef struct { clip_model *m; const clip_dataset *ds; int rank; shm *s; int rc; char msg[512]; } run_job;

static void train_opts(clip_train_opts *o) {
    clip_train_opts_defaults(o);
    o->batch_size = B; o->steps = 3; o->warmup_steps = 1; o->lr = 1e-2f; o->workers = 1; o->augment = 1; o->seed = 11;
}

static void *run_train(void *arg) {
    run_job *j = arg;
    rank_ud u = {j->s, j->rank};
    clip_dist d = {j->rank, R, allgather, allreduce_sum, &u};
    clip_train_opts o;
    train_opts(&o);
    o.dist = &d;
    clip_error e = {0};
    j->rc = clip_train(j->m, &o, j->ds, NULL, NULL, NULL, &e);
    if (j->rc) snprintf(j->msg, sizeof j->msg, "%s", e.msg);
    return NULL;
}

static void check_run(void) {
    clip_error e = {0};
    int64_t sp[4] = {16, 3, 8, 8}, st[2] = {16, CTX}, sg[1] = {16};
    static float p16[16 * 3 * 64];
    int32_t t16[16 * CTX], g16[16];
    clip_rng r;
    rng_seed(&r, 9);
    for (size_t i = 0; i < sizeof p16 / sizeof p16[0]; i++) p16[i] = (float)rng_normal(&r);
    for (int i = 0; i < 16; i++) {
        for (int k = 0; k < CTX; k++) t16[i * CTX + k] = k == 0 ? 10 : k == 4 ? 11 : k > 4 ? 0 : 1 + (int)rng_below(&r, 9);
        g16[i] = i % 12;   /* some groups repeat: the plan must keep them apart */
    }
    CHECK(npy_save("build/dist_px.npy", NPY_F4, 4, sp, p16, &e) == 0 && npy_save("build/dist_tk.npy", NPY_I4, 2, st, t16, &e) == 0 &&
          npy_save("build/dist_g.npy", NPY_I4, 1, sg, g16, &e) == 0, "%s", e.msg);
    clip_dataset *ds = clip_dataset_from_npy("build/dist_px.npy", "build/dist_tk.npy", "build/dist_g.npy", &e);
    CHECK(ds != NULL, "%s", e.msg);
    if (!ds) return;
    clip_config c = tiny();
    clip_model *one = clip_model_init(&c, 6, &e), *m[R];
    for (int k = 0; k < R; k++) m[k] = clip_model_init(&c, 6, &e);
    clip_train_opts o;
    train_opts(&o);
    CHECK(clip_train(one, &o, ds, NULL, NULL, NULL, &e) == 0, "%s", e.msg);
    shm s = {.buf = malloc(R * one->table.total * sizeof(float))};
    pthread_barrier_init(&s.bar, NULL, R);
    run_job jobs[R];
    pthread_t th[R];
    for (int k = 0; k < R; k++) { jobs[k] = (run_job){.m = m[k], .ds = ds, .rank = k, .s = &s}; pthread_create(&th[k], NULL, run_train, &jobs[k]); }
    for (int k = 0; k < R; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < R; k++) CHECK(jobs[k].rc == 0, "rank %d: %s", k, jobs[k].msg);
    size_t P = one->table.total;
    CHECK(!memcmp(m[0]->params, m[1]->params, P * sizeof(float)), "clip_train: ranks identical");
    double rel = tu_rel_err(m[0]->params, one->params, P);
    CHECK(rel < 1e-3, "clip_train with 2 processes vs 1: rel err %.3g", rel);
    pthread_barrier_destroy(&s.bar);
    free(s.buf);
    clip_model_free(one);
    for (int k = 0; k < R; k++) clip_model_free(m[k]);
    clip_dataset_free(ds);
    unlink("build/dist_px.npy"); unlink("build/dist_tk.npy"); unlink("build/dist_g.npy");
}

int main(void) {
    clip_set_threads(1);
    clip_rng r;
    rng_seed(&r, 4);
    for (size_t i = 0; i < sizeof px / sizeof px[0]; i++) px[i] = (float)rng_normal(&r);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < CTX; k++) tok[b * CTX + k] = k == 0 ? 10 : k == 3 + b % 2 ? 11 : k > 3 + b % 2 ? 0 : 1 + (int)rng_below(&r, 9);
    check_trainer(1);
    check_trainer(2);
    check_run();
    /* a batch that does not split evenly is refused */
    clip_config c = tiny();
    clip_error e = {0};
    clip_model *m = clip_model_init(&c, 1, &e);
    rank_ud u = {NULL, 0};
    clip_dist d = {0, 3, allgather, allreduce_sum, &u};
    clip_train_opts o;
    clip_train_opts_defaults(&o);
    o.batch_size = B; o.dist = &d;
    trainer t;
    CHECK(trainer_init(&t, m, &o, &e) == CLIP_ERR_INVALID, "batch 8 over 3 processes is refused");
    /* augmentation settings outside their ranges are refused (a zeroed struct has crop scale 0) */
    clip_train_opts_defaults(&o);
    o.batch_size = B; o.crop_scale_min = 0;
    CHECK(trainer_init(&t, m, &o, &e) == CLIP_ERR_INVALID, "crop_scale_min 0 is refused");
    clip_train_opts_defaults(&o);
    o.batch_size = B; o.color_jitter = 1.5f;
    CHECK(trainer_init(&t, m, &o, &e) == CLIP_ERR_INVALID, "color_jitter 1.5 is refused");
    clip_model_free(m);
    TEST_END();
}
