/* Backward twins of the layer primitives in ops.c. Reductions over rows (weight, bias and gain
 * gradients) are split by columns, never by rows, so every sum runs in one fixed order and the
 * result is bitwise the same for any thread count. */
#include "core/ops.h"
#include "core/matmul.h"
#include "clip.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COLS 64   /* column strip per thread in row reductions */

void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C) {
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C, *dy = dout + (size_t)i * C;
        float *dx = dinp + (size_t)i * C;
        float m = mean[i], s = rstd[i];
        /* dnorm = dy * w; dx = s * (dnorm - mean(dnorm) - norm * mean(dnorm * norm)) */
        double a = 0, b = 0;
        for (int c = 0; c < C; c++) {
            float n = (x[c] - m) * s, dn = dy[c] * w[c];
            a += dn;
            b += (double)dn * n;
        }
        float ma = (float)(a / C), mb = (float)(b / C);
        for (int c = 0; c < C; c++) {
            float n = (x[c] - m) * s, dn = dy[c] * w[c];
            dx[c] += (dn - ma - n * mb) * s;
        }
    }
    int strips = (C + COLS - 1) / COLS;
    #pragma omp parallel for schedule(static)
    for (int k = 0; k < strips; k++) {
        int c0 = k * COLS, c1 = c0 + COLS < C ? c0 + COLS : C;
        float gw[COLS] = {0}, gb[COLS] = {0};
        for (int i = 0; i < N; i++) {
            const float *x = inp + (size_t)i * C, *dy = dout + (size_t)i * C;
            float m = mean[i], s = rstd[i];
            for (int c = c0; c < c1; c++) {
                gw[c - c0] += dy[c] * ((x[c] - m) * s);
                gb[c - c0] += dy[c];
            }
        }
        for (int c = c0; c < c1; c++) { dw[c] += gw[c - c0]; db[c] += gb[c - c0]; }
    }
}

void bias_backward(float *dbias, const float *dout, int N, int OC) {
    int strips = (OC + COLS - 1) / COLS;
    #pragma omp parallel for schedule(static)
    for (int k = 0; k < strips; k++) {
        int j0 = k * COLS, j1 = j0 + COLS < OC ? j0 + COLS : OC;
        float acc[COLS] = {0};
        for (int i = 0; i < N; i++) {
            const float *d = dout + (size_t)i * OC;
            for (int j = j0; j < j1; j++) acc[j - j0] += d[j];
        }
        for (int j = j0; j < j1; j++) dbias[j] += acc[j - j0];
    }
}

void linear_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp, const float *weight,
                     int N, int C, int OC) {
    if (dinp) matmul(0, 0, N, C, OC, 1.0f, dout, OC, weight, C, 0.0f, dinp, C);
    if (dweight) matmul(1, 0, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dweight, C);
    if (dbias) bias_backward(dbias, dout, N, OC);
}

/* GEMMs per (batch, head) as in the forward: dV = Pᵀ·dO and dP = dO·Vᵀ, then the softmax
 * backward dS = P∘(dP − rowsum(P∘dP))·scale in parallel over rows, then dQ = dS·K, dK = dSᵀ·Q.
 * Masked entries have P = 0, so dS is 0 there too. */
void attention_backward(float *dqkv, float *dp, const float *dout, const float *qkv, const float *probs, int B, int T, int C,
                        int NH, int causal) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    (void)causal;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            size_t bh = ((size_t)b * NH + h) * T * T, off = (size_t)b * T * C3 + h * hs;
            const float *dO = dout + (size_t)b * T * C + h * hs;
            matmul(1, 0, T, hs, T, 1.0f, probs + bh, T, dO, C, 0.0f, dqkv + off + 2 * C, C3);
            matmul(0, 1, T, T, hs, 1.0f, dO, C, qkv + off + 2 * C, C3, 0.0f, dp + bh, T);
        }
    #pragma omp parallel for schedule(static)
    for (size_t r = 0; r < (size_t)B * NH * T; r++) {
        const float *p = probs + r * T;
        float *d = dp + r * T, sum = 0;
        for (int u = 0; u < T; u++) sum += p[u] * d[u];
        for (int u = 0; u < T; u++) d[u] = p[u] * (d[u] - sum) * scale;
    }
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            size_t bh = ((size_t)b * NH + h) * T * T, off = (size_t)b * T * C3 + h * hs;
            matmul(0, 0, T, hs, T, 1.0f, dp + bh, T, qkv + off + C, C3, 0.0f, dqkv + off, C3);
            matmul(1, 0, T, hs, T, 1.0f, dp + bh, T, qkv + off, C3, 0.0f, dqkv + off + C, C3);
        }
}

void act_backward(float *dinp, const float *dout, const float *inp, size_t n, int kind) {
    if (kind == CLIP_ACT_GELU) {
        #pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            float x = inp[i];
            float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
            float pdf = 0.3989422804014327f * expf(-0.5f * x * x);
            dinp[i] = dout[i] * (cdf + x * pdf);
        }
    } else {
        #pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            float x = inp[i], s = 1.0f / (1.0f + expf(-1.702f * x));
            dinp[i] = dout[i] * (s + 1.702f * x * s * (1.0f - s));
        }
    }
}
