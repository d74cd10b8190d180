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
    int plain_weights;      /* 0 (default): weight matrices are repacked in place for the inference
                               GEMM (no extra memory); 1: kept in the checkpoint's layout, as training
                               uses them (clip_train converts a repacked model back either way) */
    int precision;          /* CLIP_PRECISION_FP32 (0, default): exact. CLIP_PRECISION_BF16: every
                               Linear weight (and the patch embedding) is stored in bf16 (half the
                               memory) and multiplied in bf16 with fp32 sums; the rest stays fp32.
                               Needs AMX-BF16 or AVX512_BF16 (else CLIP_ERR_UNSUPPORTED); such a
                               model can encode but not be saved or trained. plain_weights is
                               ignored. See docs/performance.md, "bf16".
                               CLIP_PRECISION_INT8: the transformer blocks' Linear weights and
                               the patch embedding are int8 (per output column scales, a quarter
                               of the memory) and multiplied by activations quantized per row,
                               with exact int32 sums; the final projections stay fp32.
                               Needs AMX-INT8 or AVX512_VNNI; same limits as bf16. See
                               docs/performance.md, "int8". */
} clip_load_opts;

enum { CLIP_PRECISION_FP32 = 0, CLIP_PRECISION_BF16 = 1, CLIP_PRECISION_INT8 = 2 };
/* "fp32" / "bf16" / "int8" -> CLIP_PRECISION_*, or -1. */
int clip_precision_from_name(const char *name);
/* The precision a loaded model runs in. */
int clip_model_precision(const clip_model *m);
/* How many of the model's weight matrices are held as fp16 panels (an fp32 model whose matrices
 * hold only fp16 values, as OpenAI's released checkpoints do: exact, with half the bytes to hold
 * and to stream at batch 1); *total (may be NULL) gets the number of weight matrices. */
int clip_model_fp16_matrices(const clip_model *m, int *total);

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
/* Data-parallel training over several processes (MPI ranks, say). The library links no
 * communication library: the caller supplies two collectives. Every process runs the same
 * schedule and loads only its slice of each global batch; the image and text features are
 * all-gathered so the loss sees the whole batch (as the paper trains), and the gradients are
 * summed across processes, so the step equals the one-process step on the global batch. */
typedef struct clip_dist {
    int rank, size;
    /* recv[size * n] = every rank's send[n], concatenated in rank order */
    int (*allgather)(void *ud, const float *send, float *recv, size_t n);
    /* buf[n] = the sum over ranks of buf[n], on every rank */
    int (*allreduce_sum)(void *ud, float *buf, size_t n);
    void *ud;
} clip_dist;

typedef struct clip_train_opts {
    int batch_size;          /* pairs per optimizer step (the contrastive batch) */
    int accum_steps;         /* micro-batches per step (exact: features of the whole batch meet in the loss) */
    long steps;              /* optimizer steps of the run (the schedule's length) */
    long warmup_steps;       /* linear warmup: lr·(s+1)/warmup, then cosine decay to 0 */
    float lr, beta1, beta2, eps, weight_decay;
    float grad_clip;         /* max global L2 norm of the gradient; 0: off */
    int lock_image, lock_text;   /* freeze a tower (its gradient is not even computed) */
    uint64_t seed;           /* shuffling and augmentation */
    int augment;             /* random resized crop, scale crop_scale_min-1.0 (0.9: open_clip's default) */
    float crop_scale_min;    /* the crop's smallest share of the image area (default 0.9) */
    float color_jitter;      /* brightness/contrast/saturation factors in 1 ± this, in [0, 1] (default 0: off) */
    int hflip;               /* random horizontal flips (default 0) */
    int workers;             /* data threads (decode + augment ahead of the compute) */
    int prefetch;            /* batches prepared ahead */
    long eval_every;         /* held-out loss every N steps (0: only at the end, if a set is given) */
    long ckpt_every;         /* checkpoint every N steps (0: only at the end) */
    const char *ckpt_path;   /* checkpoint file (written atomically), NULL: none */
    const char *resume_path; /* checkpoint to resume from (model, optimizer, step, data position) */
    long stop_after;         /* stop (after checkpointing) once this step is reached; 0: run to steps */
    const clip_dist *dist;   /* NULL: one process. Else batch_size is the global batch; only rank 0
                                writes checkpoints */
} clip_train_opts;
void clip_train_opts_defaults(clip_train_opts *o);

/* A training set: pairs of (image, caption), optionally with a group id per pair (at most one
 * pair per group in a batch). */
typedef struct clip_dataset clip_dataset;
/* From arrays: pixels float32 [N,3,S,S] (preprocessed) or uint8 [N,S,S,3]; tokens int32 [N,ctx];
 * groups int32 [N] or NULL. */
clip_dataset *clip_dataset_from_npy(const char *pixels_npy, const char *tokens_npy, const char *groups_npy, clip_error *err);
/* From files (docs/training.md, "Data from files"): path is a TSV manifest (image path, caption[,
 * group]; '#' lines are comments; relative paths are relative to the manifest's directory), a
 * .tar shard, or a directory of WebDataset tar shards (*.tar: key.jpg|jpeg|png|webp, key.txt,
 * optional key.group). Captions are tokenized at open (truncated to the context); missing image
 * files and malformed rows or archives fail here, naming the file and line; an image that does
 * not decode fails when it is loaded (at open when cache_images is set). */
typedef struct clip_dataset_opts {
    int image_size, context_length;
    int cache_images;        /* decode every image once at open and keep it in memory (small sets) */
    int composite;           /* composite images with alpha onto bg (as clip_image_opts) */
    uint8_t bg[3];           /* default white */
    const char *vocab;       /* tokenizer path for clip_tokenizer_load; NULL: OpenAI's, built in */
    int64_t max_pixels;      /* per image; 0: the image module's default */
} clip_dataset_opts;
void clip_dataset_opts_defaults(clip_dataset_opts *o);   /* 224 px, context 77, white, no cache */
clip_dataset *clip_dataset_open_opts(const char *path, const clip_dataset_opts *o, clip_error *err);
/* clip_dataset_open_opts with the defaults and this size and context. */
clip_dataset *clip_dataset_open(const char *path, int image_size, int context_length, clip_error *err);
/* Distinct images (pairs may share one); for arrays, the number of pairs. */
int clip_dataset_images(const clip_dataset *d);
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

/* CLIP's BPE tokenizer, exactly clip.tokenize of OpenAI's code (text cleaning as ftfy 6's
 * fix_text with default settings, minus mojibake repair; see docs/tokenizer.md).
 * path: NULL for the embedded OpenAI vocabulary; a directory holding Hugging Face's vocab.json
 * and merges.txt (a directory without them uses the embedded vocabulary); or an OpenAI-style
 * merges file (bpe_simple_vocab_16e6.txt[.gz]).
 * Thread safety: a loaded tokenizer may be used by many threads at once (its per-word cache
 * is sharded and mutex-guarded). */
clip_tokenizer *clip_tokenizer_load(const char *path, clip_error *err);
void clip_tokenizer_free(clip_tokenizer *tok);
int clip_tokenizer_vocab_size(const clip_tokenizer *tok);   /* 49408 for OpenAI's */
int clip_tokenizer_sot(const clip_tokenizer *tok);          /* <|startoftext|>: 49406 */
int clip_tokenizer_eot(const clip_tokenizer *tok);          /* <|endoftext|>: 49407 */

/* Tokenizes len bytes of UTF-8 text (NUL bytes are text, and ftfy's rules delete them) into
 * ids[ctx]: <|startoftext|>, the tokens, <|endoftext|>, unpadded; *n_ids gets the count.
 * Too many tokens for ctx is CLIP_ERR_INVALID unless truncate (then ids[ctx-1] is
 * <|endoftext|>). Invalid UTF-8 is CLIP_ERR_INVALID naming the byte offset. ctx >= 2. */
int clip_tokenize(clip_tokenizer *tok, const char *text, size_t len, int ctx, int truncate,
                  int32_t *ids, int *n_ids, clip_error *err);
/* n NUL-terminated texts into out: int32 [n, ctx], zero-padded after <|endoftext|> as
 * clip.tokenize returns it. On error (naming the text's index) out is all zeros. */
int clip_tokenize_batch(clip_tokenizer *tok, const char *const *texts, int n, int ctx,
                        int truncate, int32_t *out, clip_error *err);
/* ids back to text as OpenAI's decode does ("</w>" becomes a space, bad UTF-8 becomes
 * U+FFFD; ids outside the vocabulary also give U+FFFD). malloc'd; NULL when out of memory. */
char *clip_detokenize(const clip_tokenizer *tok, const int32_t *ids, int n);

/* ---------------------------------------------------------------- images */
/* Decoding (JPEG via libjpeg-turbo, PNG via libpng, WebP via libwebp; format from the bytes)
 * and OpenAI's preprocessing, pixel-exact with Pillow 9.4 + torchvision 0.14 (docs/image.md).
 * A decoded image keeps the mode Pillow opens the file in, because Pillow resizes per mode. */
typedef enum {
    CLIP_MODE_1 = 0,   /* bilevel (1-bit gray PNG): 1 byte per pixel, 0 or 255 */
    CLIP_MODE_L,       /* gray: 1 byte */
    CLIP_MODE_P,       /* palette: 1 byte index per pixel, colours in palette[] */
    CLIP_MODE_LA,      /* gray + alpha: 2 bytes */
    CLIP_MODE_I16,     /* 16-bit gray PNG (Pillow mode "I"): 1 uint16_t per pixel, native order */
    CLIP_MODE_RGB,     /* 3 bytes */
    CLIP_MODE_RGBA,    /* 4 bytes, straight (not premultiplied) alpha */
    CLIP_MODE_CMYK     /* JPEG CMYK/YCCK: 4 bytes, Pillow's polarity (0 = no ink) */
} clip_image_mode;

typedef enum { CLIP_FORMAT_JPEG = 1, CLIP_FORMAT_PNG = 2, CLIP_FORMAT_WEBP = 3 } clip_image_format;

typedef struct clip_image {
    int w, h;
    int mode;               /* clip_image_mode */
    int channels;           /* samples per pixel: 1, 2, 3 or 4 */
    int format;             /* clip_image_format it was decoded from (0 if made in memory) */
    int src_w, src_h;       /* size in the file; differs from w, h only after JPEG DCT scaling,
                               and preprocessing keeps the geometry of the file's size */
    uint8_t *data;          /* h rows of w pixels, packed, no padding */
    uint8_t palette[768];   /* CLIP_MODE_P: 256 RGB entries (unused entries are 0) */
} clip_image;

#define CLIP_IMAGE_MAX_PIXELS_DEFAULT (64ll * 1000 * 1000)
#define CLIP_IMAGE_MAX_FILE_BYTES_DEFAULT ((size_t)256 << 20)

typedef struct clip_image_opts {
    int64_t max_pixels;     /* reject larger images before allocating; 0: 64 megapixels */
    size_t max_file_bytes;  /* 0: 256 MiB */
    int composite;          /* nonzero: alpha (and PNG tRNS) composited onto bg -> mode RGB;
                               exactly Pillow's alpha_composite(bg, im.convert("RGBA")) */
    uint8_t bg[3];          /* background colour for composite */
    int jpeg_min_side;      /* fast path (off: 0): JPEGs decoded with libjpeg's DCT scaling at
                               the smallest scale k/8 keeping the shorter side >= this */
    int jpeg_fast;          /* clip_preprocess_files only: k > 0 sets jpeg_min_side = k * size */
} clip_image_opts;

/* Decodes a file / an in-memory file. opts may be NULL. name is used in messages.
 * On failure img is zeroed and nothing is left allocated. */
int clip_image_load_file(const char *path, const clip_image_opts *opts, clip_image *img, clip_error *err);
int clip_image_load_memory(const void *buf, size_t len, const char *name, const clip_image_opts *opts,
                           clip_image *img, clip_error *err);
void clip_image_free(clip_image *img);
/* Makes an image that owns a copy of data (w*h*channels bytes; I16: w*h uint16). */
int clip_image_from_pixels(clip_image *img, int w, int h, int mode, const void *data, clip_error *err);

/* Pillow's im.resize((out_w, out_h), BICUBIC, box): box = {x0, y0, x1, y1} in source pixels
 * (floats, as Pillow), NULL for the whole image. Same mode out (NEAREST for 1 and P, alpha
 * premultiplied for LA and RGBA, as Pillow). */
int clip_image_resize(const clip_image *img, const float *box, int out_w, int out_h, clip_image *out,
                      clip_error *err);
/* Pillow's im.crop((x, y, x+w, y+h)) for a box inside the image. */
int clip_image_crop(const clip_image *img, int x, int y, int w, int h, clip_image *out, clip_error *err);
/* Pillow's im.convert("RGB"): rgb is uint8 [h, w, 3]. */
void clip_image_to_rgb(const clip_image *img, uint8_t *rgb);

/* OpenAI's _transform(size): shorter side to size (bicubic), centre crop, RGB; crop_hwc (uint8
 * [size, size, 3]) and/or chw (float32 [3, size, size], normalised with CLIP's mean/std);
 * either may be NULL. */
int clip_image_preprocess(const clip_image *img, int size, uint8_t *crop_hwc, float *chw, clip_error *err);
/* torchvision's resized_crop: crop the integer box (x, y, w, h) (inside the image), resize it
 * to size x size (bicubic, Pillow), RGB. Training's RandomResizedCrop samples the box. */
int clip_image_resized_crop(const clip_image *img, int x, int y, int w, int h, int size,
                            uint8_t *crop_hwc, float *chw, clip_error *err);
/* Samples a box as torchvision's RandomResizedCrop.get_params (10 tries, then centre crop),
 * e.g. scale (0.9, 1.0), ratio (3/4, 4/3) as open_clip. rng: any nonzero state, advanced. */
void clip_random_resized_crop_box(int w, int h, double scale_lo, double scale_hi, double ratio_lo,
                                  double ratio_hi, uint64_t *rng, int box[4] /* x, y, w, h */);
/* uint8 [s, s, 3] -> float32 [3, s, s]: (u8 / 255 - mean) / std in float32, as torchvision. */
void clip_image_normalize(const uint8_t *hwc, int s, float *chw);

/* Loads and preprocesses n files, one per thread (nthreads <= 0: OpenMP's default).
 * out: float32 [n, 3, size, size] and/or out_u8: uint8 [n, size, size, 3] (either may be NULL).
 * status[i] (optional) gets each image's status, errs[i] (optional) its message. Returns 0 if
 * all succeeded, else the first failure's status with err naming that file. */
int clip_preprocess_files(const char *const *paths, int n, int size, const clip_image_opts *opts,
                          float *out, uint8_t *out_u8, int *status, clip_error *errs, int nthreads,
                          clip_error *err);

/* ---------------------------------------------------------------- zero-shot */
/* Zero-shot classification with prompt ensembles, as the CLIP paper does it: every template
 * filled with each class name is encoded and L2-normalised, the mean over templates is
 * normalised again; logits = exp(logit_scale) (capped at 100) x image . class; softmax. */
typedef struct clip_classifier clip_classifier;

/* Templates hold exactly one "{}" where the label goes. Long prompts are truncated to the
 * context (as open_clip does). */
clip_classifier *clip_classifier_build(clip_model *m, clip_tokenizer *tok, const char *const *labels, int n_labels,
                                       const char *const *templates, int n_templates, clip_error *err);
/* Class embeddings [n_classes, dim] with the labels and logit scale, written atomically. */
int clip_classifier_save(const clip_classifier *c, const char *path, clip_error *err);
clip_classifier *clip_classifier_load(const char *path, clip_error *err);
void clip_classifier_free(clip_classifier *c);
int clip_classifier_num_classes(const clip_classifier *c);
int clip_classifier_dim(const clip_classifier *c);
const char *clip_classifier_label(const clip_classifier *c, int i);
const float *clip_classifier_embeddings(const clip_classifier *c);
/* image_features [n, dim] (raw or normalised) -> probs [n, n_classes]. */
int clip_classify(const clip_classifier *c, const float *image_features, int n, float *probs, clip_error *err);

/* ---- convert */
/* Model files in other forms (docs/cli.md, `clip convert`; docs/performance.md, "Load").
 * A plain checkpoint in another dtype: OpenAI key names, every tensor f32, f16 or bf16
 * (rounded to nearest even; f16 refuses a value beyond its range). */
enum { CLIP_DTYPE_F32 = 0, CLIP_DTYPE_F16 = 1, CLIP_DTYPE_BF16 = 2 };
/* "f32" / "f16" / "bf16" (also "fp32", "fp16") -> CLIP_DTYPE_*, or -1. */
int clip_dtype_from_name(const char *name);
/* clip_model_save in dtype, atomically. */
int clip_model_save_dtype(const clip_model *m, const char *path, int dtype, clip_error *err);
/* The packed inference layout: the fp32 parameter block as it lies in memory after packing for
 * the GEMM kernel, one 4096-aligned safetensors tensor plus metadata (format, config, the
 * kernel's panel width). clip_model_load maps such a file instead of reading it: the load takes
 * milliseconds, the page faults move to the first encode, and the pages are shared with the
 * page cache (and other processes mapping the file). Needs AVX-512 to write and to load; a
 * mapped model trains, saves and converts to bf16 like any other (copy-on-write).
 * Written atomically. A model loaded with precision bf16 or int8 is written as it is (version 2:
 * its bf16 / int8 matrices in their kernel's panels, about half / a quarter of the fp32 file);
 * clip_model_load maps such a file without copying, only with opts->precision equal to the file's
 * (else CLIP_ERR_INVALID) and on a CPU with that kernel (else CLIP_ERR_UNSUPPORTED). */
int clip_model_save_packed(clip_model *m, const char *path, clip_error *err);
/* 1 if m's weights are mapped from a packed file. */
int clip_model_is_mapped(const clip_model *m);

#ifdef __cplusplus
}
#endif
#endif /* CLIP_H */
