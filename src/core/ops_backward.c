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

void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *probs, int B, int T, int C, int NH,
                        int causal) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *base = qkv + (size_t)b * T * C3 + h * hs;
            float *dbase = dqkv + (size_t)b * T * C3 + h * hs;
            const float *P = probs + ((size_t)b * NH + h) * T * T;
            float *dp = malloc((size_t)T * sizeof *dp);
            for (int t = 0; t < T; t++) {
                float *r = dbase + (size_t)t * C3;
                memset(r, 0, hs * sizeof *r);
                memset(r + C, 0, hs * sizeof *r);
                memset(r + 2 * C, 0, hs * sizeof *r);
            }
            for (int t = 0; t < T; t++) {
                const float *q = base + (size_t)t * C3, *row = P + (size_t)t * T;
                const float *dy = dout + ((size_t)b * T + t) * C + h * hs;
                float *dq = dbase + (size_t)t * C3;
                int tk = causal ? t + 1 : T;
                float sum = 0;
                for (int u = 0; u < tk; u++) {
                    const float *v = base + (size_t)u * C3 + 2 * C;
                    float *dv = dbase + (size_t)u * C3 + 2 * C;
                    float s = 0, p = row[u];
                    for (int d = 0; d < hs; d++) { s += dy[d] * v[d]; dv[d] += p * dy[d]; }
                    dp[u] = s;
                    sum += p * s;
                }
                /* softmax backward, then the scaled dot product */
                for (int u = 0; u < tk; u++) {
                    float ds = row[u] * (dp[u] - sum) * scale;
                    const float *k = base + (size_t)u * C3 + C;
                    float *dk = dbase + (size_t)u * C3 + C;
                    for (int d = 0; d < hs; d++) { dq[d] += ds * k[d]; dk[d] += ds * q[d]; }
                }
            }
            free(dp);
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
