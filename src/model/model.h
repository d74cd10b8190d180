/* The clip_model handle's insides, shared by the model layer, training and tests. */
#ifndef CLIP_MODEL_MODEL_H
#define CLIP_MODEL_MODEL_H
#include "clip.h"
#include "model/params.h"
#include "model/tower.h"

struct clip_model {
    clip_config cfg;
    param_table table;
    float *params;            /* table.total floats */
    void *map;                /* non-NULL: params lie in this private mapping of a packed file
                                 (model/native.c), map_len bytes, unmapped by clip_model_free */
    size_t map_len;
    clip_params p;
    /* inference workspace, grown on demand, reused across calls */
    float *ws;
    size_t ws_cap;
    int max_batch;            /* encode calls run in chunks of at most this many */
    int text_full_ctx;        /* 1: run all ctx positions (tests); 0: stop after the last EOT */
    /* inference layout (model/pack.c): weight matrices repacked in place for the GEMM kernel */
    int packed;               /* 1 while any matrix below is packed */
    int precision;            /* CLIP_PRECISION_*: BF16 / INT8 = the matrices below hold bf16 / int8 */
    int npk;                  /* descriptors in pk */
    matmul_packed_b *pk;      /* all descriptors, one allocation */
    tf_packed vtf, ttf;       /* per-layer matrices of each tower */
    matmul_packed_b *v_conv1_pk, *v_proj_pk, *t_proj_pk;
    clip_act_hook hook;       /* debug: called at named points of the forward pass */
    void *hook_ud;
};

/* ViT image tower activations for B images. */
typedef struct vit_acts {
    int B;
    float *patches;           /* [B,G*G,3*P*P] im2col of the pixels */
    float *pe;                /* [B,G*G,W] patch embeddings */
    float *emb;               /* [B,T,W] class token + patches + positions */
    float *lnpre, *lnpre_mean, *lnpre_rstd;
    tf_acts tf;
    float *cls;               /* [B,W] token 0 of the last block */
    float *lnpost, *lnpost_mean, *lnpost_rstd;
    float *feat;              /* [B,E] */
} vit_acts;

size_t vit_acts_size(const clip_config *c, int B, int slots);
void vit_acts_bind(vit_acts *a, float *block, const clip_config *c, int B, int slots);
/* pixels [B,3,S,S] -> a->feat [B,E] (also copied to out if non-NULL). */
void vit_forward(const clip_model *m, vit_acts *a, const float *pixels, int B, float *out);
/* Backward of vit_forward run with slots == vision_layers (model/vit_backward.c): from
 * dfeat[B,E], accumulates into the gradient block g (laid out like m->p). */
size_t vit_backward_scratch_size(const clip_config *c, int B);
void vit_backward(const clip_model *m, const clip_params *g, const vit_acts *a, const float *dfeat, float *scratch);

/* Text tower activations for B rows, sized for the full context. */
typedef struct text_acts {
    int B, T;                 /* T: positions actually run (last EOT + 1, or ctx) */
    int *eot;                 /* [B] pooled position per row */
    float *emb;               /* [B,T,Wt] */
    tf_acts tf;
    float *lnf, *lnf_mean, *lnf_rstd;   /* [B,T,Wt], [B*T] */
    float *pooled;            /* [B,Wt] */
    float *feat;              /* [B,E] */
} text_acts;

size_t text_acts_size(const clip_config *c, int B, int slots);
void text_acts_bind(text_acts *a, float *block, const clip_config *c, int B, int slots);
/* The position each row is pooled at (OpenAI: argmax of ids; HF: first eos_token_id). */
int text_pool_index(const clip_config *c, const int32_t *row);
/* tokens [B,ctx] -> a->feat [B,E]. full_ctx runs every position (else stop at the last EOT). */
void text_forward(const clip_model *m, text_acts *a, const int32_t *tokens, int B, int full_ctx, float *out);
/* Backward of text_forward run with slots == text_layers (model/text_backward.c), over the same
 * a->T positions the forward ran: those after the batch's last EOT never reach the loss. */
size_t text_backward_scratch_size(const clip_config *c, int B);
void text_backward(const clip_model *m, const clip_params *g, const text_acts *a, const int32_t *tokens,
                   const float *dfeat, float *scratch);

/* Architecture inference (model/config.c). */
struct st_file;
int config_from_checkpoint(const struct st_file *f, const char *config_json, clip_config *cfg, clip_error *err);
/* Copies tensors from a checkpoint into the parameter block (both key layouts). */
int weights_load(clip_model *m, const struct st_file *f, clip_error *err);
/* The same, reading F32 tensors with pread from fd (the file f maps) instead of the mapping. */
int weights_load_fd(clip_model *m, const struct st_file *f, int fd, clip_error *err);
/* Saves a parameter block laid out like m (its own, or an EMA / gradient block) with extra metadata. */
int clip_model_save_with(const clip_model *m, const float *block, const char *path, const char *const *extra_meta, int n_extra, clip_error *err);
/* The "config" metadata JSON our checkpoints carry (malloc'd; NULL when out of memory). */
char *model_config_json(const clip_config *c);
/* Packs every weight matrix in place (no extra memory) for matmul_prepacked; matrices the kernel
 * cannot take stay plain; fp16-exact ones (OpenAI's checkpoints) are stored as fp16 panels,
 * half the memory, same results. model_unpack restores the checkpoint layout (training, saving). */
int model_pack(clip_model *m, clip_error *err);
int model_unpack(clip_model *m, clip_error *err);
/* Converts every weight matrix to packed bf16 in place (model/pack.c), for good: the fp32
 * values are dropped and their memory returned. CLIP_ERR_UNSUPPORTED without a bf16 kernel.
 * Afterwards model_unpack, saving and training refuse. */
int model_pack_bf16(clip_model *m, clip_error *err);
/* Packed model files (model/native.c): the matrices model_pack handles (count), which of them are
 * packed as a string of '0'/'1' (mask: count + 1 chars), and binding a block that already holds
 * them so (checks each packed one's width is a multiple of panel_width and that it lies 64-byte
 * aligned from origin, the start of the page-aligned mapping). */
int model_pack_count(clip_model *m);
int model_packed_mask(const clip_model *m, char *mask);
int model_bind_packed(clip_model *m, const char *mask, int panel_width, const void *origin, clip_error *err);
/* Packed files of version 2 (model/native.c): bf16, int8, or fp32 with fp16 panels. Each matrix
 * of model_pack's order: its offset in the block (floats), op(B)'s shape, and whether int8 takes
 * it (model_mats_info fills out, model_pack_count entries, and returns the count; -1: out of
 * memory). model_mat_code is its state in m: '0' plain, '1' fp32 panels, 'b' bf16 panels,
 * 'q' int8 panels, 'h' fp16 panels (fp16-exact fp32 weights). model_bind_quant binds a block
 * (m->params, already bound) whose 'b'/'q'/'h' matrices lie in data[i] instead (not owned),
 * after checking mask is what model_pack_bf16 / model_pack_int8 / model_pack make of this
 * architecture (for fp32, any matrix that can be fp32 panels may be 'h'); sets m->precision. */
typedef struct model_mat_info { size_t off; int K, N, q8; } model_mat_info;
int model_mats_info(clip_model *m, model_mat_info *out);
char model_mat_code(const clip_model *m, int i);
int model_bind_quant(clip_model *m, const char *mask, int precision, const model_mat_info *info, void *const *data,
                     clip_error *err);
/* 1 if f is a packed model file (its "format" metadata); native_load maps it as a model. */
int native_is_packed(const struct st_file *f);
/* Validates a packed file parsed from the buffer base (its whole image: metadata, config, sizes,
 * offsets, the packed matrices' shapes and alignment) without reading the block. For the fuzzer. */
int native_check(const struct st_file *f, const uint8_t *base, const char *name, clip_error *err);
/* Maps a packed file as a model (clip_model_load calls it for such files). */
clip_model *native_load(const char *path, const clip_load_opts *opts, clip_error *err);
/* Writes m (fp32) as a packed file, atomically; a plain model is packed for the write and back. */
int native_save(clip_model *m, const char *path, clip_error *err);
/* The same with int8 for the transformer blocks' matrices and the patch embedding
 * (model/pack.c); the final projections are packed in fp32 (model_pack's layout).
 * CLIP_ERR_UNSUPPORTED without an int8 kernel. */
int model_pack_int8(clip_model *m, clip_error *err);
/* Allocates the table and block for cfg. */
clip_model *model_alloc(const clip_config *cfg, clip_error *err);
#endif
