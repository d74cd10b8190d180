/* The pieces shared by the image and text towers: the pre-LN residual transformer, its
 * activation layout, and the debug hook that golden tests use to see inside a forward pass. */
#ifndef CLIP_MODEL_TOWER_H
#define CLIP_MODEL_TOWER_H
#include <stddef.h>
#include "model/params.h"
#include "core/matmul.h"

/* Called at named points of a forward pass ("vis.block0.qkv", ...) when set; tests compare. */
typedef void (*clip_act_hook)(void *ud, const char *name, const float *data, size_t n);

/* Activations of L residual blocks for B sequences of T tokens, width C, NH heads.
 * With slots == 1 every layer reuses slot 0 (inference); slots == L keeps all (training). */
typedef struct tf_acts {
    int slots;
    int infer;                          /* 1: inference (set after binding): nothing is kept for backward */
    float *ln1, *ln1_mean, *ln1_rstd;   /* [S,B*T,C], [S,B*T], [S,B*T] */
    float *qkv;                         /* [S,B*T,3C] */
    float *att;                         /* [S,B,NH,T,T] */
    float *atty;                        /* [S,B*T,C] attention context before out_proj */
    float *attproj;                     /* [S,B*T,C] */
    float *res1;                        /* [S,B*T,C] residual after attention */
    float *ln2, *ln2_mean, *ln2_rstd;   /* [S,B*T,C], [S,B*T], [S,B*T] */
    float *fch, *fch_act;               /* [S,B*T,4C] */
    float *fcp;                         /* [S,B*T,C] */
    float *res2;                        /* [S,B*T,C] the block's output */
    int pooled_out;                     /* set by transformer_forward: 1 if it returned [B,C] pooled rows */
} tf_acts;

/* Floats needed for tf_acts; tf_acts_bind carves them from block. */
size_t tf_acts_size(int slots, int B, int T, int C, int NH);
float *tf_acts_bind(tf_acts *a, float *block, int slots, int B, int T, int C, int NH);

/* pooled: the caller reads one token per sequence (pool[b], or token 0 when pool is NULL), so
 * the fast path may finish the last block on those rows only (exact: rows are independent after
 * the attention, which still sees every token). */
typedef struct tf_shape { int L, B, T, C, NH, causal, act, pooled; const int *pool; } tf_shape;

/* A tower's weight matrices packed in place for the GEMM kernel (model/pack.c), [L] each;
 * an entry with data == NULL is in its plain layout. NULL pointer: all plain (training). */
typedef struct tf_packed { matmul_packed_b *qkv, *proj, *fc, *fcp; } tf_packed;

/* Runs L blocks over x[B,T,C]; returns a pointer to the output (inside a). pk (may be NULL)
 * gives the packed weights. With a->infer (slots == 1) and no hook, the residual stream is
 * updated in place and bias, activation and residual adds are fused into the GEMMs; then, with
 * s.pooled, the output is [B,C] (the pooled token of each sequence) and a->pooled_out is 1.
 * Otherwise it is [B,T,C] and a->pooled_out is 0. */
/* (that fast path needs a->infer: training binds one slot too when a tower has one layer) */
const float *transformer_forward(const tf_weights *w, const tf_packed *pk, tf_acts *a, const float *x, tf_shape s,
                                 clip_act_hook hook, void *ud, const char *prefix);

/* Backward of transformer_forward (model/transformer_backward.c); needs a->slots == s.L.
 * dres[B*T*C]: in, the gradient of the output; out, the gradient of the input x.
 * dw: gradient pointers laid out like w (accumulated). scratch: tf_grad_scratch_size floats. */
size_t tf_grad_scratch_size(int B, int T, int C, int NH);
void transformer_backward(const tf_weights *w, const tf_weights *dw, const tf_acts *a, const float *x, float *dres,
                          float *scratch, tf_shape s);
#endif
