/* OpenAI's ModifiedResNet image tower (RN50, RN101, RN50x4/x16/x64): a three-convolution
 * stem, four stages of bottleneck blocks with anti-aliased (average pool) strides, and an
 * attention-pooling head. Activations are channel-major [C,B,H,W] (core/conv.h). */
#ifndef CLIP_MODEL_RESNET_H
#define CLIP_MODEL_RESNET_H
#include "model/model.h"
#include "core/conv.h"

#define RN_MAX_BLOCKS 128       /* RN50x64 has 64 */
#define RN_BN_EPS 1e-5f
#define RN_BN_MOMENTUM 0.1f

/* ---- weights, bound by name from the parameter table over any block (params or grads) */
typedef struct rn_bn { float *w, *b, *mean, *var; } rn_bn;   /* mean/var: running buffers */
typedef struct rn_block_w {
    float *conv1, *conv2, *conv3, *ds_conv;   /* ds_conv NULL when the block has no downsample */
    rn_bn bn1, bn2, bn3, ds_bn;
} rn_block_w;
typedef struct rn_weights {
    float *conv1, *conv2, *conv3;
    rn_bn bn1, bn2, bn3;
    int nblocks;
    rn_block_w blk[RN_MAX_BLOCKS];
    attnpool_w ap;
} rn_weights;

/* Adds the tower's tensors to t with OpenAI names and initialisation (called by params_build). */
int resnet_params_add(const clip_config *cfg, param_table *t, clip_error *err);
void resnet_bind(const clip_config *cfg, const param_table *t, float *block, rn_weights *w);

/* ---- activations */
/* A convolution followed by batch norm (and ReLU): c = conv(x), y = relu?(bn(c)).
 * Inference: c == y (BN and ReLU are applied in place); mean/rstd NULL.
 * Training: c kept for BN's backward, mean/rstd[OC] the batch statistics. */
typedef struct rn_unit { conv_shape s; float *c, *y, *mean, *rstd; } rn_unit;

typedef struct rn_block_acts {
    int stride, has_ds;
    const float *x;           /* the block's input (set by the forward pass) */
    rn_unit u1, u2, u3, ud;   /* conv1/bn1/relu, conv2/bn2/relu, conv3/bn3, downsample conv/bn */
    float *pool;              /* [P,B,H/s,W/s] avgpool of u2.y (== u2.y when stride 1) */
    float *dpool;             /* [IC,B,H/s,W/s] avgpool of x on the downsample path (== x when stride 1) */
    float *out;               /* relu(u3.y + identity): written in place over u3.y */
} rn_block_acts;

typedef struct rn_acts {
    int B, train, nblocks;
    float *x0;                /* [3,B,S,S] the pixels, channel-major */
    rn_unit s1, s2, s3;       /* the stem's three convolutions */
    float *stem;              /* [W,B,S/4,S/4] after the stem's 2x2 average pool */
    rn_block_acts blk[RN_MAX_BLOCKS];
    int C, HW;                /* attention pool input: C = 32·width channels over HW positions */
    attnpool_acts ap;
    float *feat;              /* [B,E] */
    float *col;               /* im2col workspace (not saved: backward rebuilds it) */
} rn_acts;

/* Floats for B images. train = 0: inference (buffers reused block to block, a few MB per
 * image); train = 1: everything backward needs is kept. */
size_t resnet_acts_size(const clip_config *c, int B, int train);
void resnet_acts_bind(rn_acts *a, float *block, const clip_config *c, int B, int train);

/* pixels [B,3,S,S] (NCHW, as clip_encode_image takes them) -> a->feat [B,E], copied to out if
 * non-NULL. With a->train, batch norm uses batch statistics and updates the running
 * estimates inside m's parameters (PyTorch's train() mode); otherwise running statistics.
 * Returns 0, or CLIP_ERR_NOMEM if its 20 KB table of weight pointers can't be allocated. */
int resnet_forward(const clip_model *m, rn_acts *a, const float *pixels, int B, float *out);

/* Floats of scratch resnet_backward needs for B images. */
size_t resnet_backward_scratch(const clip_config *c, int B);
/* After resnet_forward with a->train: grads (a block laid out like m->params) += ∂loss/∂θ
 * given dfeat [B,E] = ∂loss/∂features. The BN buffers' slots in grads are left untouched.
 * Returns 0 or CLIP_ERR_NOMEM. */
int resnet_backward(const clip_model *m, const rn_acts *a, const float *dfeat, float *grads, float *scratch);
#endif
