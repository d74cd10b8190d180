/* Layer primitives as llm.c writes them: plain functions over row-major float arrays, shapes
 * in the argument names. Forward passes here; their backward twins live beside them
 * (ops_backward.c) so training and inference share one forward. */
#ifndef CLIP_CORE_OPS_H
#define CLIP_CORE_OPS_H
#include <stddef.h>

/* Where the CPU has AVX-512, LayerNorm and the attention softmax run vectorised (ops_avx512.c):
 * LayerNorm bitwise as the portable loop, the softmax's exponential within about 1 ulp of expf.
 * on = 1 forces the portable loops (tests). */
void ops_force_portable(int on);
/* out[N,C] = layernorm(inp[N,C]) * w + b; saves mean[N] and rstd[N] for backward (may be NULL). */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                       const float *b, int N, int C, float eps);
/* Backward twins (ops_backward.c). Parameter gradients always accumulate (+=), so micro-batches
 * can add up; an input gradient is overwritten unless the comment says "+=". */
/* dinp[N,C] += ..., dw[C] += ..., db[C] += ... from dout[N,C] and the saved mean/rstd. */
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C);
/* out[N,OC] = inp[N,C] · weight[OC,C]ᵀ + bias[OC] (bias may be NULL). */
void linear_forward(float *out, const float *inp, const float *weight, const float *bias, int N, int C, int OC);
/* dinp[N,C] = dout·weight (skipped if NULL); dweight[OC,C] += doutᵀ·inp; dbias[OC] += Σ dout (may be NULL). */
void linear_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp, const float *weight,
                     int N, int C, int OC);
/* dbias[OC] += Σ_rows dout[N,OC], summed in a fixed order (deterministic for any thread count). */
void bias_backward(float *dbias, const float *dout, int N, int OC);
/* Multi-head self-attention over packed qkv[B,T,3C] (q | k | v, heads contiguous in each).
 * probs[B,NH,T,T] is kept for backward; out[B,T,C]. causal masks keys after the query. */
void attention_forward(float *out, float *probs, const float *qkv, int B, int T, int C, int NH, int causal);
/* dqkv[B,T,3C] = gradient of the packed q|k|v from dout[B,T,C], using the saved probs;
 * dp: scratch of B·NH·T·T floats. */
void attention_backward(float *dqkv, float *dp, const float *dout, const float *qkv, const float *probs, int B, int T, int C,
                        int NH, int causal);
/* QuickGELU x·σ(1.702x) (OpenAI) or exact erf GELU (LAION / HF "gelu"). */
void act_forward(float *out, const float *inp, size_t n, int kind);
/* dinp[n] = dout[n] · act'(inp[n]) (dinp may alias dout). */
void act_backward(float *dinp, const float *dout, const float *inp, size_t n, int kind);
/* out[n] = a[n] + b[n] (out may alias a or b). */
void residual_forward(float *out, const float *a, const float *b, size_t n);
#endif
