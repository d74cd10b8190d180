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

/* ---------------------------------------------------------------- tokenizer */
typedef struct clip_tokenizer clip_tokenizer;

/* ---------------------------------------------------------------- images */

/* ---------------------------------------------------------------- zero-shot */

#ifdef __cplusplus
}
#endif
#endif /* CLIP_H */
