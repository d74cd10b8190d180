/* The model's parameters: one float block behind a struct of pointers (llm.c's layout), and a
 * table of named tensors over that block with OpenAI key names. The table drives loading,
 * saving, initialisation and the optimizer's weight-decay rule; gradients use the same layout. */
#ifndef CLIP_MODEL_PARAMS_H
#define CLIP_MODEL_PARAMS_H
#include <stddef.h>
#include <stdint.h>
#include "clip.h"

/* One transformer tower's block weights, each stacked over L layers ([L, ...]). */
typedef struct tf_weights {
    float *ln1_w, *ln1_b;     /* [L,C] */
    float *qkv_w, *qkv_b;     /* [L,3C,C], [L,3C] (OpenAI's packed in_proj) */
    float *proj_w, *proj_b;   /* [L,C,C], [L,C] */
    float *ln2_w, *ln2_b;     /* [L,C] */
    float *fc_w, *fc_b;       /* [L,4C,C], [L,4C] */
    float *fcp_w, *fcp_b;     /* [L,C,4C], [L,C] */
} tf_weights;

typedef struct clip_params {
    /* ViT image tower */
    float *v_conv1;           /* [W,3,P,P] */
    float *v_cls;             /* [W] */
    float *v_pos;             /* [G*G+1, W] */
    float *v_ln_pre_w, *v_ln_pre_b;
    tf_weights v_tf;
    float *v_ln_post_w, *v_ln_post_b;
    float *v_proj;            /* [W,E] */
    /* ModifiedResNet image tower: its tensors are found by name in the table (model/resnet.c) */
    /* text tower */
    float *t_tok;             /* [V,Wt] */
    float *t_pos;             /* [ctx,Wt] */
    tf_weights t_tf;
    float *t_ln_w, *t_ln_b;
    float *t_proj;            /* [Wt,E] */
    float *logit_scale;       /* [1] (a 0-d tensor in checkpoints) */
} clip_params;

/* Initialisation rule of a tensor (OpenAI's initialize_parameters and PyTorch defaults). */
typedef enum { INIT_ZERO, INIT_ONE, INIT_NORMAL, INIT_UNIFORM, INIT_XAVIER, INIT_CONST } init_kind;

typedef struct param_entry {
    char name[112];           /* OpenAI/open_clip key */
    int ndim;
    int64_t shape[4];
    size_t offset, numel;     /* floats, into the block */
    int init;                 /* init_kind */
    float init_scale;         /* std (normal), bound (uniform), value (const) */
    int decay;                /* AdamW weight decay applies (open_clip's rule) */
    int buffer;               /* not trainable (BN running statistics): no gradient, no decay,
                                 never touched by the optimizer; loaded and saved like the rest */
} param_entry;

typedef struct param_table {
    param_entry *e;
    int n, cap;
    size_t total;             /* floats */
} param_table;

/* Builds the table for cfg; then params_bind points a clip_params at a block of
 * table.total floats (parameters or gradients alike). */
int params_build(const clip_config *cfg, param_table *t, clip_error *err);
void params_bind(const clip_config *cfg, const param_table *t, float *block, clip_params *p);
void params_table_free(param_table *t);
const param_entry *params_find(const param_table *t, const char *name);
/* OpenAI's initialisation, deterministic in seed. */
void params_init(const param_table *t, float *block, uint64_t seed);
/* Adds an entry (used by tower builders). */
int params_add(param_table *t, const char *name, int ndim, const int64_t *shape, int init, float scale, clip_error *err);
#endif
