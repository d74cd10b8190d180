/* Convolutional layers for the ModifiedResNet image tower, as x_forward / x_backward pairs.
 *
 * Layout: activations are channel-major [C, B, H, W] ("CBHW"), not PyTorch's NCHW. With the
 * batch inside the channel planes, a 1x1 convolution over the whole batch is one GEMM
 * (W[OC,IC] · X[IC, B*H*W]) and batch norm's per-channel statistics run over one contiguous
 * row of B*H*W values. For B = 1 the two layouts coincide.
 *
 * Backward functions ADD into their gradient outputs (llm.c's convention: the caller zeroes
 * gradients once per step), so residual branches and shared inputs accumulate naturally. */
#ifndef CLIP_CORE_CONV_H
#define CLIP_CORE_CONV_H
#include <stddef.h>

/* ---- 2-D convolution, no bias (OpenAI's ResNet convs have none) */
typedef struct conv_shape {
    int B, IC, H, W;          /* input [IC,B,H,W] */
    int OC, K, stride, pad;   /* weight [OC,IC,K,K] */
    int OH, OW;               /* output [OC,B,OH,OW] */
} conv_shape;

conv_shape conv_shape_make(int B, int IC, int H, int W, int OC, int K, int stride, int pad);
/* Floats of im2col workspace conv2d_forward/backward need (0 for a 1x1, stride 1 conv).
 * The column matrix is built a few images at a time, within a budget (16 MB by default;
 * conv_set_col_budget(0) restores it; tests shrink it to exercise the chunked path). */
void conv_set_col_budget(size_t floats);
size_t conv_col_floats(const conv_shape *s);
/* out[OC,B,OH,OW] = conv(inp[IC,B,H,W], weight[OC,IC,K,K]); col: conv_col_floats() floats. */
void conv2d_forward(float *out, const float *inp, const float *weight, float *col, const conv_shape *s);
/* dweight += ∂/∂weight; dinp += ∂/∂inp (dinp may be NULL: the pixels need no gradient). */
void conv2d_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                     float *col, const conv_shape *s);

/* ---- batch norm over inp[C,N] (N = B*H*W per channel, contiguous) */
/* Training mode: batch statistics (biased variance) normalise; mean[C] and rstd[C] are saved
 * for backward; the running estimates (if non-NULL) move as PyTorch's do:
 * r = (1-momentum)·r + momentum·batch, with the unbiased variance N/(N-1)·var. */
void batchnorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       float *run_mean, float *run_var, int C, int N, float momentum, float eps);
/* dinp, dw, db += gradients of the training-mode forward. */
void batchnorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *mean,
                        const float *rstd, const float *w, int C, int N);
/* Inference: out = inp·α + β per channel with α = w/√(run_var+eps), β = b − run_mean·α
 * (the folded form PyTorch's CPU kernel uses), then ReLU if relu != 0. out may alias inp. */
void batchnorm_eval_forward(float *out, const float *inp, const float *w, const float *b, const float *run_mean,
                            const float *run_var, int C, int N, float eps, int relu);
/* Backward of batchnorm_eval_forward without the ReLU (frozen-BN fine-tuning: the running
 * statistics are constants): dinp += dout·α, dw += Σ dout·(x−mean)/√(var+eps), db += Σ dout. */
void batchnorm_eval_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                             const float *run_mean, const float *run_var, int C, int N, float eps);

/* ---- ReLU (out may alias inp); backward: dinp += dout where out > 0 */
void relu_forward(float *out, const float *inp, size_t n);
void relu_backward(float *dinp, const float *dout, const float *out, size_t n);

/* ---- average pooling, kernel = stride = s, no padding (nn.AvgPool2d(s)): inp[P,H,W] -> out[P,H/s,W/s]
 * over P = C*B planes */
void avgpool_forward(float *out, const float *inp, int P, int H, int W, int s);
void avgpool_backward(float *dinp, const float *dout, int P, int H, int W, int s);

/* ---- OpenAI's AttentionPool2d: tokens = [mean of the HW positions, the positions] + pos,
 * one query (the mean token) attends over all HW+1 tokens with NH heads, separate q/k/v
 * projections with biases, then c_proj. */
typedef struct attnpool_w {
    float *pos;               /* [T,C], T = HW+1 */
    float *qw, *qb, *kw, *kb, *vw, *vb;   /* [C,C], [C] */
    float *cw, *cb;           /* [E,C], [E] */
} attnpool_w;

typedef struct attnpool_acts {
    float *tok;               /* [B,T,C] */
    float *q;                 /* [B,C] (scaled by 1/sqrt(C/NH)) */
    float *k, *v;             /* [B,T,C] */
    float *probs;             /* [B,NH,T] */
    float *ctx;               /* [B,C] */
} attnpool_acts;

size_t attnpool_acts_floats(int B, int C, int HW, int NH);
float *attnpool_acts_bind(attnpool_acts *a, float *p, int B, int C, int HW, int NH);
/* inp[C,B,HW] -> out[B,E]. */
void attnpool_forward(float *out, attnpool_acts *a, const float *inp, const attnpool_w *w, int B, int C, int HW, int NH, int E);
/* Floats of scratch attnpool_backward needs. */
size_t attnpool_scratch_floats(int B, int C, int HW);
/* dinp[C,B,HW] and every gradient in dw += ∂/∂.; a: the forward's saved activations. */
void attnpool_backward(float *dinp, attnpool_w *dw, const float *dout, const attnpool_acts *a, const float *inp,
                       const attnpool_w *w, float *scratch, int B, int C, int HW, int NH, int E);
#endif
