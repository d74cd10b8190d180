/* clip.c: CLIP (Radford et al. 2021) in C. The public API.
 *
 * Every function that can fail returns 0 on success or a negative clip_status, and fills
 * the optional clip_error with a one-line message. The library never prints or exits.
 * Handles are opaque; arrays are plain row-major float32 / int32 / uint8 buffers. */
#ifndef CLIP_H
#define CLIP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */
typedef enum {
    CLIP_OK = 0,
    CLIP_ERR_IO = -1,          /* a file could not be opened, read or written */
    CLIP_ERR_FORMAT = -2,      /* a file is malformed (safetensors, npy, image, json) */
    CLIP_ERR_INVALID = -3,     /* an argument or input is out of range / wrong shape */
    CLIP_ERR_NOMEM = -4,       /* an allocation failed */
    CLIP_ERR_UNSUPPORTED = -5, /* valid, but not something clip.c does */
    CLIP_ERR_MISSING = -6      /* a checkpoint lacks a tensor the architecture needs */
} clip_status;

typedef struct clip_error {
    int status;
    char msg[512];
} clip_error;

/* ---------------------------------------------------------------- model */
typedef enum { CLIP_VISION_VIT = 0, CLIP_VISION_RESNET = 1 } clip_vision_kind;
typedef enum { CLIP_ACT_QUICKGELU = 0, CLIP_ACT_GELU = 1 } clip_activation;
typedef enum { CLIP_LAYOUT_OPENAI = 0, CLIP_LAYOUT_HF = 1 } clip_layout;

typedef struct clip_config {
    int vision_kind;        /* clip_vision_kind */
    int image_size;         /* input resolution (pixels, square) */
    int patch_size;         /* ViT only */
    int vision_width;       /* ViT: transformer width; ResNet: stem width (64 for RN50) */
    int vision_layers;      /* ViT: blocks; ResNet: sum of rn_layers */
    int vision_heads;
    int rn_layers[4];       /* ResNet: bottleneck blocks per stage */
    int context_length;     /* 77 */
    int vocab_size;         /* 49408 */
    int text_width;
    int text_layers;
    int text_heads;
    int embed_dim;          /* shared embedding width */
    int activation;         /* clip_activation */
    int layout;             /* key layout it was loaded from */
    int eos_token_id;       /* HF pooling: 2 means "argmax of ids" (legacy), else first match */
    float ln_eps;           /* 1e-5 */
} clip_config;

typedef struct clip_model clip_model;

typedef struct clip_load_opts {
    int activation;         /* -1: as the checkpoint says; else clip_activation to force */
    int text_heads;         /* 0: width/64 (or config.json); >0 overrides */
    int vision_heads;       /* 0: width/64 (ResNet width*32/64); >0 overrides */
} clip_load_opts;

/* Loads a .safetensors file, or a directory with model.safetensors (+ config.json).
 * opts may be NULL. */
clip_model *clip_model_load(const char *path, const clip_load_opts *opts, clip_error *err);
/* A freshly initialised model (OpenAI's initialisation), deterministic in seed. */
clip_model *clip_model_init(const clip_config *cfg, uint64_t seed, clip_error *err);
/* Writes the model with OpenAI key names, atomically. */
int clip_model_save(const clip_model *m, const char *path, clip_error *err);
void clip_model_free(clip_model *m);
const clip_config *clip_model_get_config(const clip_model *m);
float clip_model_logit_scale(const clip_model *m);   /* the raw parameter (log scale) */
size_t clip_model_num_params(const clip_model *m);
/* Named architectures ("ViT-B-32", "ViT-B-16", "ViT-L-14", "RN50", small CPU ones...). */
int clip_config_from_name(const char *name, clip_config *cfg, clip_error *err);
/* Fills a config with OpenAI-style defaults for every field not set (context 77 etc.). */
void clip_config_defaults(clip_config *cfg);

/* Threads used by the encoders (OpenMP / BLAS). 0 = library default. */
void clip_set_threads(int n);

/* pixels: float32 [n, 3, S, S] (S = image_size), preprocessed. out: float32 [n, embed_dim],
 * exactly encode_image of OpenAI's code (not normalised). */
int clip_encode_image(clip_model *m, const float *pixels, int n, float *out, clip_error *err);
/* tokens: int32 [n, context_length] as clip.tokenize returns. out: float32 [n, embed_dim]. */
int clip_encode_text(clip_model *m, const int32_t *tokens, int n, float *out, clip_error *err);
/* L2-normalises each of n rows of length d in place. */
void clip_normalize(float *x, int n, int d);

/* ---------------------------------------------------------------- training */
/* Contrastive training and fine-tuning (docs/training.md). One struct holds every knob of a
 * run; clip_train_opts_defaults fills open_clip's defaults. */
typedef struct clip_train_opts {
    int batch_size;          /* pairs per optimizer step (the contrastive batch) */
    int accum_steps;         /* micro-batches per step (exact: features of the whole batch meet in the loss) */
    long steps;              /* optimizer steps of the run (the schedule's length) */
    long warmup_steps;       /* linear warmup: lr·(s+1)/warmup, then cosine decay to 0 */
    float lr, beta1, beta2, eps, weight_decay;
    float grad_clip;         /* max global L2 norm of the gradient; 0: off */
    int lock_image, lock_text;   /* freeze a tower (its gradient is not even computed) */
    uint64_t seed;           /* shuffling and augmentation */
    int augment;             /* random resized crop, scale 0.9-1.0 (open_clip's default) */
    int workers;             /* data threads (decode + augment ahead of the compute) */
    int prefetch;            /* batches prepared ahead */
    long eval_every;         /* held-out loss every N steps (0: only at the end, if a set is given) */
    long ckpt_every;         /* checkpoint every N steps (0: only at the end) */
    const char *ckpt_path;   /* checkpoint file (written atomically), NULL: none */
    const char *resume_path; /* checkpoint to resume from (model, optimizer, step, data position) */
    long stop_after;         /* stop (after checkpointing) once this step is reached; 0: run to steps */
} clip_train_opts;
void clip_train_opts_defaults(clip_train_opts *o);

/* A training set: pairs of (image, caption), optionally with a group id per pair (at most one
 * pair per group in a batch). */
typedef struct clip_dataset clip_dataset;
/* From arrays: pixels float32 [N,3,S,S] (preprocessed) or uint8 [N,S,S,3]; tokens int32 [N,ctx];
 * groups int32 [N] or NULL. */
clip_dataset *clip_dataset_from_npy(const char *pixels_npy, const char *tokens_npy, const char *groups_npy, clip_error *err);
/* A manifest (TSV: image path, caption[, group]) or a directory of WebDataset tar shards. */
clip_dataset *clip_dataset_open(const char *path, int image_size, int context_length, clip_error *err);
int clip_dataset_size(const clip_dataset *d);
void clip_dataset_free(clip_dataset *d);

typedef struct clip_train_progress {
    long step, steps;        /* optimizer steps done / of the run */
    float loss, lr, logit_scale, grad_norm;
    double samples_per_s, eta_s;
    int epoch;
    int event;               /* 0: a step; 1: held-out loss in eval_loss; 2: checkpoint written */
    float eval_loss;
} clip_train_progress;
/* Called after each step and event; a nonzero return stops the run (after a checkpoint). */
typedef int (*clip_train_cb)(void *ud, const clip_train_progress *p);

/* Trains m in place on train (val may be NULL). */
int clip_train(clip_model *m, const clip_train_opts *o, const clip_dataset *train, const clip_dataset *val,
               clip_train_cb cb, void *ud, clip_error *err);

/* ---------------------------------------------------------------- tokenizer */
typedef struct clip_tokenizer clip_tokenizer;

/* ---------------------------------------------------------------- images */

/* ---------------------------------------------------------------- zero-shot */

#ifdef __cplusplus
}
#endif
#endif /* CLIP_H */
