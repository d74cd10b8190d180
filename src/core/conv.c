/* Convolution (im2col + the matmul entry point), batch norm, ReLU, average pooling and the
 * attention pool, forward and backward, over channel-major [C,B,H,W] activations. */
#include "core/conv.h"
#include "core/matmul.h"
#include <math.h>
#include <string.h>

/* Loops smaller than this run on the calling thread: waking the OpenMP team for a few
 * thousand elements costs more than the work, and its idle workers then spin against
 * OpenBLAS's threads (docs/resnet.md). */
#define PAR_MIN 65536

/* ---------------------------------------------------------------- convolution */

conv_shape conv_shape_make(int B, int IC, int H, int W, int OC, int K, int stride, int pad) {
    conv_shape s = {B, IC, H, W, OC, K, stride, pad, (H + 2 * pad - K) / stride + 1, (W + 2 * pad - K) / stride + 1};
    return s;
}

static int is_pointwise(const conv_shape *s) { return s->K == 1 && s->stride == 1 && s->pad == 0; }

/* Images per im2col chunk: the column matrix of a whole batch can run to hundreds of MB
 * (RN50's stem: 288 rows x 12544 columns per image), so it is built a few images at a time. */
static size_t col_budget = (size_t)1 << 22;   /* floats (16 MB) */
void conv_set_col_budget(size_t floats) { col_budget = floats ? floats : (size_t)1 << 22; }
static int conv_chunk(const conv_shape *s) {
    size_t per = (size_t)s->IC * s->K * s->K * s->OH * s->OW;
    size_t nb = per ? col_budget / per : 1;
    if (nb < 1) nb = 1;
    return nb > (size_t)s->B ? s->B : (int)nb;
}

size_t conv_col_floats(const conv_shape *s) {
    if (is_pointwise(s)) return 0;
    return (size_t)s->IC * s->K * s->K * s->OH * s->OW * conv_chunk(s);
}

/* col[(ic,ky,kx), (b-b0, oy, ox)] = inp[ic, b, oy*s+ky-pad, ox*s+kx-pad] (0 outside). */
static void im2col(float *col, const float *inp, const conv_shape *s, int b0, int nb) {
    int K = s->K, OHW = s->OH * s->OW;
    size_t ncol = (size_t)nb * OHW;
    #pragma omp parallel for collapse(2) schedule(static) if((size_t)s->IC * nb * K * K * OHW >= PAR_MIN)
    for (int ic = 0; ic < s->IC; ic++)
        for (int bb = 0; bb < nb; bb++) {
            const float *plane = inp + ((size_t)ic * s->B + b0 + bb) * s->H * s->W;
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++) {
                    float *dst = col + ((size_t)(ic * K + ky) * K + kx) * ncol + (size_t)bb * OHW;
                    for (int oy = 0; oy < s->OH; oy++) {
                        int iy = oy * s->stride + ky - s->pad;
                        float *d = dst + (size_t)oy * s->OW;
                        if (iy < 0 || iy >= s->H) { memset(d, 0, s->OW * sizeof *d); continue; }
                        const float *row = plane + (size_t)iy * s->W;
                        if (s->stride == 1) {   /* a shifted copy of the row, zeros at the edges */
                            int lo = s->pad - kx, hi = s->W + s->pad - kx;   /* valid ox in [lo, hi) */
                            if (lo < 0) lo = 0;
                            if (hi > s->OW) hi = s->OW;
                            for (int ox = 0; ox < lo; ox++) d[ox] = 0;
                            if (hi > lo) memcpy(d + lo, row + lo + kx - s->pad, (size_t)(hi - lo) * sizeof *d);
                            for (int ox = hi > lo ? hi : lo; ox < s->OW; ox++) d[ox] = 0;
                            continue;
                        }
                        for (int ox = 0; ox < s->OW; ox++) {
                            int ix = ox * s->stride + kx - s->pad;
                            d[ox] = (ix >= 0 && ix < s->W) ? row[ix] : 0.0f;
                        }
                    }
                }
        }
}

/* The adjoint of im2col: dinp += scatter(col). One thread owns each (ic, b) plane. */
static void col2im_add(float *dinp, const float *col, const conv_shape *s, int b0, int nb) {
    int K = s->K, OHW = s->OH * s->OW;
    size_t ncol = (size_t)nb * OHW;
    #pragma omp parallel for collapse(2) schedule(static) if((size_t)s->IC * nb * K * K * OHW >= PAR_MIN)
    for (int ic = 0; ic < s->IC; ic++)
        for (int bb = 0; bb < nb; bb++) {
            float *plane = dinp + ((size_t)ic * s->B + b0 + bb) * s->H * s->W;
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++) {
                    const float *src = col + ((size_t)(ic * K + ky) * K + kx) * ncol + (size_t)bb * OHW;
                    for (int oy = 0; oy < s->OH; oy++) {
                        int iy = oy * s->stride + ky - s->pad;
                        if (iy < 0 || iy >= s->H) continue;
                        float *row = plane + (size_t)iy * s->W;
                        const float *sr = src + (size_t)oy * s->OW;
                        for (int ox = 0; ox < s->OW; ox++) {
                            int ix = ox * s->stride + kx - s->pad;
                            if (ix >= 0 && ix < s->W) row[ix] += sr[ox];
                        }
                    }
                }
        }
}

void conv2d_forward(float *out, const float *inp, const float *weight, float *col, const conv_shape *s) {
    int N = s->B * s->OH * s->OW, OHW = s->OH * s->OW, KK = s->IC * s->K * s->K;
    if (is_pointwise(s)) {
        matmul(0, 0, s->OC, N, s->IC, 1.0f, weight, s->IC, inp, N, 0.0f, out, N);
        return;
    }
    int nb = conv_chunk(s);
    for (int b0 = 0; b0 < s->B; b0 += nb) {
        int n = s->B - b0 < nb ? s->B - b0 : nb;
        im2col(col, inp, s, b0, n);
        matmul(0, 0, s->OC, n * OHW, KK, 1.0f, weight, KK, col, n * OHW, 0.0f, out + (size_t)b0 * OHW, N);
    }
}

void conv2d_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                     float *col, const conv_shape *s) {
    int N = s->B * s->OH * s->OW, OHW = s->OH * s->OW, KK = s->IC * s->K * s->K;
    if (is_pointwise(s)) {
        matmul(0, 1, s->OC, s->IC, N, 1.0f, dout, N, inp, N, 1.0f, dweight, s->IC);
        if (dinp) matmul(1, 0, s->IC, N, s->OC, 1.0f, weight, s->IC, dout, N, 1.0f, dinp, N);
        return;
    }
    int nb = conv_chunk(s);
    for (int b0 = 0; b0 < s->B; b0 += nb) {
        int n = s->B - b0 < nb ? s->B - b0 : nb;
        const float *dchunk = dout + (size_t)b0 * OHW;
        im2col(col, inp, s, b0, n);
        matmul(0, 1, s->OC, KK, n * OHW, 1.0f, dchunk, N, col, n * OHW, 1.0f, dweight, KK);
        if (!dinp) continue;
        matmul(1, 0, KK, n * OHW, s->OC, 1.0f, weight, KK, dchunk, N, 0.0f, col, n * OHW);
        col2im_add(dinp, col, s, b0, n);
    }
}

/* ---------------------------------------------------------------- batch norm */

void batchnorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       float *run_mean, float *run_var, int C, int N, float momentum, float eps) {
    #pragma omp parallel for schedule(static) if((size_t)C * N >= PAR_MIN)
    for (int c = 0; c < C; c++) {
        const float *x = inp + (size_t)c * N;
        float *o = out + (size_t)c * N;
        double m = 0, v = 0;
        for (int i = 0; i < N; i++) m += x[i];
        m /= N;
        for (int i = 0; i < N; i++) { double d = x[i] - m; v += d * d; }
        v /= N;
        float s = (float)(1.0 / sqrt(v + eps)), mf = (float)m;
        for (int i = 0; i < N; i++) o[i] = (x[i] - mf) * s * w[c] + b[c];
        mean[c] = mf;
        rstd[c] = s;
        if (run_mean) run_mean[c] = (1.0f - momentum) * run_mean[c] + momentum * mf;
        if (run_var) run_var[c] = (1.0f - momentum) * run_var[c] + momentum * (float)(N > 1 ? v * N / (N - 1) : v);
    }
}

void batchnorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *mean,
                        const float *rstd, const float *w, int C, int N) {
    #pragma omp parallel for schedule(static) if((size_t)C * N >= PAR_MIN)
    for (int c = 0; c < C; c++) {
        const float *x = inp + (size_t)c * N, *g = dout + (size_t)c * N;
        float *dx = dinp + (size_t)c * N;
        double sg = 0, sgx = 0;   /* Σ dout, Σ dout·x̂ */
        for (int i = 0; i < N; i++) { double xh = (x[i] - mean[c]) * rstd[c]; sg += g[i]; sgx += g[i] * xh; }
        db[c] += (float)sg;
        dw[c] += (float)sgx;
        /* dx = w·rstd·(g − mean(g) − x̂·mean(g·x̂)) */
        float k = w[c] * rstd[c], mg = (float)(sg / N), mgx = (float)(sgx / N);
        for (int i = 0; i < N; i++) {
            float xh = (x[i] - mean[c]) * rstd[c];
            dx[i] += k * (g[i] - mg - xh * mgx);
        }
    }
}

void batchnorm_eval_forward(float *out, const float *inp, const float *w, const float *b, const float *run_mean,
                            const float *run_var, int C, int N, float eps, int relu) {
    #pragma omp parallel for schedule(static) if((size_t)C * N >= PAR_MIN)
    for (int c = 0; c < C; c++) {
        float alpha = w[c] / sqrtf(run_var[c] + eps), beta = b[c] - run_mean[c] * alpha;
        const float *x = inp + (size_t)c * N;
        float *o = out + (size_t)c * N;
        if (relu) for (int i = 0; i < N; i++) { float y = x[i] * alpha + beta; o[i] = y > 0 ? y : 0; }
        else for (int i = 0; i < N; i++) o[i] = x[i] * alpha + beta;
    }
}

void batchnorm_eval_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                             const float *run_mean, const float *run_var, int C, int N, float eps) {
    #pragma omp parallel for schedule(static) if((size_t)C * N >= PAR_MIN)
    for (int c = 0; c < C; c++) {
        float r = 1.0f / sqrtf(run_var[c] + eps), alpha = w[c] * r;
        const float *x = inp + (size_t)c * N, *g = dout + (size_t)c * N;
        double sg = 0, sgx = 0;
        for (int i = 0; i < N; i++) {
            sg += g[i];
            sgx += g[i] * (x[i] - run_mean[c]) * r;
            if (dinp) dinp[(size_t)c * N + i] += g[i] * alpha;
        }
        dw[c] += (float)sgx;
        db[c] += (float)sg;
    }
}

/* ---------------------------------------------------------------- ReLU, pooling */

void relu_forward(float *out, const float *inp, size_t n) {
    #pragma omp parallel for schedule(static) if(n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0 ? inp[i] : 0;
}

void relu_backward(float *dinp, const float *dout, const float *out, size_t n) {
    #pragma omp parallel for schedule(static) if(n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) if (out[i] > 0) dinp[i] += dout[i];
}

void avgpool_forward(float *out, const float *inp, int P, int H, int W, int s) {
    int OH = H / s, OW = W / s;
    float inv = 1.0f / (float)(s * s);
    #pragma omp parallel for schedule(static) if((size_t)P * H * W >= PAR_MIN)
    for (int p = 0; p < P; p++) {
        const float *x = inp + (size_t)p * H * W;
        float *o = out + (size_t)p * OH * OW;
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                float sum = 0;
                for (int ky = 0; ky < s; ky++)
                    for (int kx = 0; kx < s; kx++) sum += x[(size_t)(oy * s + ky) * W + ox * s + kx];
                o[oy * OW + ox] = sum * inv;
            }
    }
}

void avgpool_backward(float *dinp, const float *dout, int P, int H, int W, int s) {
    int OH = H / s, OW = W / s;
    float inv = 1.0f / (float)(s * s);
    #pragma omp parallel for schedule(static) if((size_t)P * H * W >= PAR_MIN)
    for (int p = 0; p < P; p++) {
        float *dx = dinp + (size_t)p * H * W;
        const float *g = dout + (size_t)p * OH * OW;
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                float d = g[oy * OW + ox] * inv;
                for (int ky = 0; ky < s; ky++)
                    for (int kx = 0; kx < s; kx++) dx[(size_t)(oy * s + ky) * W + ox * s + kx] += d;
            }
    }
}

/* ---------------------------------------------------------------- attention pool */

size_t attnpool_acts_floats(int B, int C, int HW, int NH) {
    size_t T = (size_t)HW + 1;
    return 3 * B * T * C + 2 * (size_t)B * C + (size_t)B * NH * T;
}

float *attnpool_acts_bind(attnpool_acts *a, float *p, int B, int C, int HW, int NH) {
    size_t T = (size_t)HW + 1;
    a->tok = p; p += B * T * C;
    a->k = p; p += B * T * C;
    a->v = p; p += B * T * C;
    a->q = p; p += (size_t)B * C;
    a->ctx = p; p += (size_t)B * C;
    a->probs = p; p += (size_t)B * NH * T;
    return p;
}

/* out[N,OC] = inp[N,C]·wᵀ + b. Like ops.c's linear_forward, but the bias loop stays on the
 * calling thread (see PAR_MIN): next to the GEMM it is nothing. */
static void linear_serial(float *out, const float *inp, const float *w, const float *b, int N, int C, int OC) {
    matmul(0, 1, N, OC, C, 1.0f, inp, C, w, C, 0.0f, out, OC);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) out[(size_t)n * OC + o] += b[o];
}

void attnpool_forward(float *out, attnpool_acts *a, const float *inp, const attnpool_w *w, int B, int C, int HW, int NH, int E) {
    int T = HW + 1, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for collapse(2) schedule(static) if((size_t)B * C * T >= PAR_MIN)
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const float *x = inp + ((size_t)c * B + b) * HW;
            float *t = a->tok + (size_t)b * T * C + c;
            float sum = 0;
            for (int i = 0; i < HW; i++) sum += x[i];
            t[0] = sum / (float)HW + w->pos[c];
            for (int i = 0; i < HW; i++) t[(size_t)(i + 1) * C] = x[i] + w->pos[(size_t)(i + 1) * C + c];
        }
    /* the one query: the mean token of each image (rows T*C apart) */
    matmul(0, 1, B, C, C, 1.0f, a->tok, T * C, w->qw, C, 0.0f, a->q, C);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) a->q[(size_t)b * C + c] = (a->q[(size_t)b * C + c] + w->qb[c]) * scale;
    linear_serial(a->k, a->tok, w->kw, w->kb, B * T, C, C);
    linear_serial(a->v, a->tok, w->vw, w->vb, B * T, C, C);
    #pragma omp parallel for collapse(2) schedule(static) if((size_t)B * T * C >= PAR_MIN)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *q = a->q + (size_t)b * C + h * hs;
            float *p = a->probs + ((size_t)b * NH + h) * T, *o = a->ctx + (size_t)b * C + h * hs;
            float maxv = -INFINITY, sum = 0;
            for (int t = 0; t < T; t++) {
                const float *k = a->k + ((size_t)b * T + t) * C + h * hs;
                float s = 0;
                for (int d = 0; d < hs; d++) s += q[d] * k[d];
                p[t] = s;
                if (s > maxv) maxv = s;
            }
            for (int t = 0; t < T; t++) { p[t] = expf(p[t] - maxv); sum += p[t]; }
            for (int t = 0; t < T; t++) p[t] /= sum;
            memset(o, 0, hs * sizeof *o);
            for (int t = 0; t < T; t++) {
                const float *v = a->v + ((size_t)b * T + t) * C + h * hs;
                for (int d = 0; d < hs; d++) o[d] += p[t] * v[d];
            }
        }
    linear_serial(out, a->ctx, w->cw, w->cb, B, C, E);
}

size_t attnpool_scratch_floats(int B, int C, int HW) {
    size_t T = (size_t)HW + 1;
    return 3 * B * T * C + 2 * (size_t)B * C;
}

/* y[N,OC] = x[N,C]·wᵀ + b (x rows ldx apart): dw += dyᵀx, db += Σ dy, dx += dy·w. */
static void linear_backward_add(float *dx, float *dw, float *db, const float *dy, const float *x, int ldx,
                                const float *w, int N, int C, int OC) {
    matmul(1, 0, OC, C, N, 1.0f, dy, OC, x, ldx, 1.0f, dw, C);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) db[o] += dy[(size_t)n * OC + o];
    matmul(0, 0, N, C, OC, 1.0f, dy, OC, w, C, 1.0f, dx, ldx);
}

void attnpool_backward(float *dinp, attnpool_w *dw, const float *dout, const attnpool_acts *a, const float *inp,
                       const attnpool_w *w, float *scratch, int B, int C, int HW, int NH, int E) {
    (void)inp;
    int T = HW + 1, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    size_t BTC = (size_t)B * T * C;
    float *dtok = scratch, *dk = dtok + BTC, *dv = dk + BTC, *dq = dv + BTC, *dctx = dq + (size_t)B * C;
    memset(scratch, 0, attnpool_scratch_floats(B, C, HW) * sizeof(float));
    linear_backward_add(dctx, dw->cw, dw->cb, dout, a->ctx, C, w->cw, B, C, E);
    #pragma omp parallel for collapse(2) schedule(static) if((size_t)B * T * C >= PAR_MIN)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *p = a->probs + ((size_t)b * NH + h) * T, *q = a->q + (size_t)b * C + h * hs;
            const float *g = dctx + (size_t)b * C + h * hs;
            float *gq = dq + (size_t)b * C + h * hs;
            double pdp = 0;
            for (int t = 0; t < T; t++) {
                const float *v = a->v + ((size_t)b * T + t) * C + h * hs;
                float dp = 0;
                for (int d = 0; d < hs; d++) dp += g[d] * v[d];
                pdp += (double)p[t] * dp;
            }
            for (int t = 0; t < T; t++) {
                const float *v = a->v + ((size_t)b * T + t) * C + h * hs, *k = a->k + ((size_t)b * T + t) * C + h * hs;
                float *gv = dv + ((size_t)b * T + t) * C + h * hs, *gk = dk + ((size_t)b * T + t) * C + h * hs;
                float dp = 0;
                for (int d = 0; d < hs; d++) dp += g[d] * v[d];
                float ds = p[t] * (dp - (float)pdp);
                for (int d = 0; d < hs; d++) { gv[d] = p[t] * g[d]; gk[d] = ds * q[d]; gq[d] += ds * k[d]; }
            }
        }
    /* q was (tok0·qwᵀ + qb)·scale */
    for (size_t i = 0; i < (size_t)B * C; i++) dq[i] *= scale;
    linear_backward_add(dtok, dw->qw, dw->qb, dq, a->tok, T * C, w->qw, B, C, C);
    linear_backward_add(dtok, dw->kw, dw->kb, dk, a->tok, C, w->kw, B * T, C, C);
    linear_backward_add(dtok, dw->vw, dw->vb, dv, a->tok, C, w->vw, B * T, C, C);
    for (int b = 0; b < B; b++)
        for (size_t i = 0; i < (size_t)T * C; i++) dw->pos[i] += dtok[(size_t)b * T * C + i];
    #pragma omp parallel for collapse(2) schedule(static) if((size_t)B * C * T >= PAR_MIN)
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const float *t = dtok + (size_t)b * T * C + c;
            float *dx = dinp + ((size_t)c * B + b) * HW;
            float g0 = t[0] / (float)HW;
            for (int i = 0; i < HW; i++) dx[i] += g0 + t[(size_t)(i + 1) * C];
        }
}
