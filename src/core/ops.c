#include "core/ops.h"
#include "core/matmul.h"
#include "clip.h"
#include <math.h>
#include <string.h>

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                       const float *b, int N, int C, float eps) {
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *o = out + (size_t)i * C;
        /* two-pass in float like PyTorch's CPU kernel, accumulated in double for stability */
        double m = 0;
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        double v = 0;
        for (int c = 0; c < C; c++) { double d = x[c] - m; v += d * d; }
        v /= C;
        float s = (float)(1.0 / sqrt(v + eps)), mf = (float)m;
        for (int c = 0; c < C; c++) o[c] = (x[c] - mf) * s * w[c] + b[c];
        if (mean) mean[i] = mf;
        if (rstd) rstd[i] = s;
    }
}

void linear_forward(float *out, const float *inp, const float *weight, const float *bias, int N, int C, int OC) {
    matmul(0, 1, N, OC, C, 1.0f, inp, C, weight, C, 0.0f, out, OC);
    if (!bias) return;
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        float *o = out + (size_t)i * OC;
        for (int j = 0; j < OC; j++) o[j] += bias[j];
    }
}

void attention_forward(float *out, float *probs, const float *qkv, int B, int T, int C, int NH, int causal) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *base = qkv + (size_t)b * T * C3 + h * hs;
            float *P = probs + ((size_t)b * NH + h) * T * T;
            for (int t = 0; t < T; t++) {
                const float *q = base + (size_t)t * C3;
                float *row = P + (size_t)t * T;
                int tk = causal ? t + 1 : T;
                float maxv = -INFINITY;
                for (int u = 0; u < tk; u++) {
                    const float *k = base + (size_t)u * C3 + C;
                    float s = 0;
                    for (int d = 0; d < hs; d++) s += (q[d] * scale) * k[d];
                    row[u] = s;
                    if (s > maxv) maxv = s;
                }
                float sum = 0;
                for (int u = 0; u < tk; u++) { row[u] = expf(row[u] - maxv); sum += row[u]; }
                float inv = 1.0f / sum;
                for (int u = 0; u < tk; u++) row[u] *= inv;
                for (int u = tk; u < T; u++) row[u] = 0;
                float *o = out + ((size_t)b * T + t) * C + h * hs;
                memset(o, 0, hs * sizeof *o);
                for (int u = 0; u < tk; u++) {
                    const float *v = base + (size_t)u * C3 + 2 * C;
                    float p = row[u];
                    for (int d = 0; d < hs; d++) o[d] += p * v[d];
                }
            }
        }
}

void act_forward(float *out, const float *inp, size_t n, int kind) {
    if (kind == CLIP_ACT_GELU) {
        #pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) out[i] = 0.5f * inp[i] * (1.0f + erff(inp[i] * 0.70710678118654752f));
    } else {
        #pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) out[i] = inp[i] / (1.0f + expf(-1.702f * inp[i]));
    }
}

void residual_forward(float *out, const float *a, const float *b, size_t n) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}
