/* Training internals: the loss, AdamW and its schedule, the trainer (gradients, optimizer
 * state, one step), checkpoints, and the data pipeline. Public face: include/clip.h. */
#ifndef CLIP_TRAIN_TRAIN_H
#define CLIP_TRAIN_TRAIN_H
#include "clip.h"
#include "model/model.h"
#include "model/resnet.h"
#include "core/rng.h"

/* ---- loss (train/loss.c) */
typedef struct clip_loss_out {
    float loss, loss_image, loss_text;
    float dlogit_scale;
    float *logits;           /* [B,B] logits_per_image, or NULL */
    float *dimg, *dtxt;      /* [B,E] gradients of the raw features, or NULL */
} clip_loss_out;
int clip_loss(const float *img, const float *txt, int B, int E, float logit_scale, clip_loss_out *o, clip_error *err);

/* ---- optimizer (train/adamw.c) */
/* The learning rate for optimizer step s (0-based). */
float train_lr_at(const clip_train_opts *o, long s);
/* One AdamW step (torch.optim.AdamW's rule, t = step + 1): decay only where e->decay, and
 * nothing for entries with frozen[i]. */
void adamw_step(const param_table *t, float *params, const float *grad, float *m, float *v, long step, float lr,
                const clip_train_opts *o, const unsigned char *frozen);

/* ---- trainer (train/trainer.c) */
typedef struct trainer {
    clip_model *m;
    clip_train_opts o;
    int mb;                  /* micro-batch size */
    int lb;                  /* pairs this process computes per step: batch_size / dist->size */
    int rank, nproc;         /* data-parallel position (0 and 1 without o.dist) */
    long step;               /* optimizer steps done */
    float *grad, *adam_m, *adam_v;   /* each table.total floats */
    clip_params g;           /* gradient pointers */
    unsigned char *frozen;   /* per table entry */
    float *acts, *scratch;   /* activations (all layers) and backward scratch for mb pairs */
    vit_acts va;
    rn_acts ra;              /* the ResNet tower's, when the model has one */
    text_acts ta;
    float *fi, *ft, *di, *dt;   /* [batch,E] features and their gradients (the global batch) */
    float *li, *lt;          /* [lb,E] this process's features before the all-gather */
} trainer;

typedef struct train_stats { float loss, loss_image, loss_text, lr, grad_norm, logit_scale; } train_stats;

int trainer_init(trainer *t, clip_model *m, const clip_train_opts *o, clip_error *err);
void trainer_free(trainer *t);
/* Forward + loss + backward over batch_size pairs (with o.dist: this process's lb pairs of the
 * global batch): t->grad holds the gradient of the global batch's loss afterwards. */
int trainer_grad(trainer *t, const float *pixels, const int32_t *tokens, train_stats *st, clip_error *err);
/* trainer_grad, clipping, AdamW at the scheduled rate, logit_scale clamp; step++. */
int trainer_step(trainer *t, const float *pixels, const int32_t *tokens, train_stats *st, clip_error *err);
/* The loss of n pairs (no gradient). */
int trainer_eval(trainer *t, const float *pixels, const int32_t *tokens, int n, float *loss, clip_error *err);
/* Checkpoint: the model tensors plus optimizer.exp_avg.* / optimizer.exp_avg_sq.*, metadata
 * "config" and "clip.train" (JSON: step and what the caller adds in extra_json). Atomic. */
int trainer_save(const trainer *t, const char *path, const char *extra_json, clip_error *err);
/* Restores model, optimizer state and step; *extra_json (malloc'd) gets the caller's part. */
int trainer_load(trainer *t, const char *path, char **state_json, clip_error *err);

/* ---- data (train/data.c) */
/* Training augmentation: a random resized crop (scale scale_lo..1, ratio 3/4..4/3), then colour
 * jitter (brightness, contrast and saturation factors drawn in 1 ± jitter, applied in that order
 * with torchvision's formulas) and, when hflip, a horizontal flip with probability 1/2. */
typedef struct data_augment { float scale_lo, jitter; int hflip; } data_augment;

/* One sample's preparation: pixels [3,S,S] and tokens [ctx] for index i, augmentation drawn
 * from r (a per-sample counter-based stream, so any thread order gives the same result). */
typedef struct data_source {
    int n, S, ctx;
    int32_t *group;          /* [n] or NULL */
    int (*load)(const struct data_source *d, int i, clip_rng *r, const data_augment *aug, float *pixels, int32_t *tokens, clip_error *err);
    void (*free)(struct data_source *d);
    void *ctx_data;
} data_source;

/* The batches of one epoch: a seeded shuffle, then greedy packing that keeps groups unique
 * within a batch (pairs that don't fit wait for the next batch); the last partial batch is dropped. */
int data_epoch_plan(const data_source *d, uint64_t seed, int epoch, int B, int **order, int *nbatches, clip_error *err);
/* The per-sample augmentation stream for (seed, epoch, position in epoch). */
void data_sample_rng(clip_rng *r, uint64_t seed, int epoch, long pos);
/* Random resized crop of a float [3,S,S] image (scale lo..hi, ratio 3/4..4/3), bilinear, in place. */
void data_random_resized_crop(float *img, int S, clip_rng *r, float lo, float hi);
/* The colour jitter and flip of *aug on a normalised float [3,S,S] image, in place. */
void data_color_flip(float *img, int S, clip_rng *r, const data_augment *aug);

struct clip_dataset { data_source src; };
const data_source *dataset_source(const clip_dataset *d);

/* Prefetching loader: worker threads fill batches ahead of the compute. */
typedef struct data_loader data_loader;
data_loader *loader_new(const data_source *d, int B, uint64_t seed, const data_augment *aug, int workers, int depth, int epoch,
                        int batch, clip_error *err);
/* The same, delivering only pairs [part_off, part_off + part_len) of every batch of B (one
 * process's slice in data-parallel training); the samples and their augmentation are exactly
 * those the whole-batch loader gives at those positions. */
data_loader *loader_new_part(const data_source *d, int B, int part_off, int part_len, uint64_t seed, const data_augment *aug, int workers,
                             int depth, int epoch, int batch, clip_error *err);
/* Blocks until the next batch is ready; pixels [B,3,S,S], tokens [B,ctx] stay valid until the
 * next call. Fills the batch's (epoch, index). */
int loader_next(data_loader *l, const float **pixels, const int32_t **tokens, int *epoch, int *batch, clip_error *err);
void loader_free(data_loader *l);
#endif
