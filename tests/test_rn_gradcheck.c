/* Finite-difference checks of every ResNet layer's backward (frozen BN included) (core/conv.h) and of the whole
 * tower's resnet_backward, plus batch norm's running-statistics update and a few plain SGD
 * steps on a tiny ResNet whose loss must fall. Loss: L = Σ r ⊙ f(x) for a fixed random r, so
 * ∂L/∂f = r; central differences with step eps, compared at up to 40 coordinates per tensor:
 * max|analytic − numeric| ≤ tol · max|numeric|. */
#include "testutil.h"
#include "core/conv.h"
#include "core/rng.h"
#include "model/resnet.h"
#include "io/safetensors.h"

static clip_rng R;

static float *randv(size_t n, float scale, float offset) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = offset + scale * (float)rng_normal(&R);
    return x;
}
static float *zeros(size_t n) { return calloc(n, sizeof(float)); }
static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static void gradcheck(const char *what, float *x, const float *g, size_t n, double (*L)(void), float eps, double tol) {
    double maxerr = 0, maxnum = 0;
    int ns = n < 40 ? (int)n : 40;
    for (int k = 0; k < ns; k++) {
        size_t i = n <= 40 ? (size_t)k : rng_below(&R, (uint32_t)n);
        float old = x[i];
        x[i] = old + eps;
        double lp = L();
        x[i] = old - eps;
        double lm = L();
        x[i] = old;
        double num = (lp - lm) / (2.0 * eps);
        if (fabs(num - g[i]) > maxerr) maxerr = fabs(num - g[i]);
        if (fabs(num) > maxnum) maxnum = fabs(num);
    }
    CHECK(maxerr <= tol * maxnum && maxnum > 0, "%s: max error %.3g, max gradient %.3g", what, maxerr, maxnum);
}

/* ---- convolution */
static struct { conv_shape s; float *inp, *w, *out, *r, *col; } CV;
static double conv_loss(void) {
    conv2d_forward(CV.out, CV.inp, CV.w, CV.col, &CV.s);
    return dot(CV.out, CV.r, (size_t)CV.s.OC * CV.s.B * CV.s.OH * CV.s.OW);
}

static void test_conv(int B, int IC, int H, int OC, int K, int stride, int pad) {
    CV.s = conv_shape_make(B, IC, H, H + 1, OC, K, stride, pad);   /* non-square on purpose */
    size_t nin = (size_t)IC * B * H * (H + 1), nw = (size_t)OC * IC * K * K, nout = (size_t)OC * B * CV.s.OH * CV.s.OW;
    CV.inp = randv(nin, 1, 0); CV.w = randv(nw, 0.5f, 0); CV.r = randv(nout, 1, 0);
    CV.out = zeros(nout);
    CV.col = zeros(conv_col_floats(&CV.s) + 1);
    float *dinp = zeros(nin), *dw = zeros(nw);
    conv2d_backward(dinp, dw, CV.r, CV.inp, CV.w, CV.col, &CV.s);
    char name[96];
    snprintf(name, sizeof name, "conv %dx%d/%d pad %d: dinp", K, K, stride, pad);
    gradcheck(name, CV.inp, dinp, nin, conv_loss, 1e-2f, 1e-3);
    snprintf(name, sizeof name, "conv %dx%d/%d pad %d: dweight", K, K, stride, pad);
    gradcheck(name, CV.w, dw, nw, conv_loss, 1e-2f, 1e-3);
    /* the chunked im2col (one image at a time) gives the same results */
    float *out1 = zeros(nout), *dinp1 = zeros(nin), *dw1 = zeros(nw);
    conv2d_forward(CV.out, CV.inp, CV.w, CV.col, &CV.s);
    conv_set_col_budget(1);
    conv2d_forward(out1, CV.inp, CV.w, CV.col, &CV.s);
    conv2d_backward(dinp1, dw1, CV.r, CV.inp, CV.w, CV.col, &CV.s);
    conv_set_col_budget(0);
    CHECK(tu_rel_err(out1, CV.out, nout) < 1e-6 && tu_rel_err(dinp1, dinp, nin) < 1e-6 && tu_rel_err(dw1, dw, nw) < 1e-5,
          "chunked im2col differs (conv %dx%d/%d)", K, K, stride);
    free(CV.inp); free(CV.w); free(CV.r); free(CV.out); free(CV.col); free(dinp); free(dw);
    free(out1); free(dinp1); free(dw1);
}

/* ---- batch norm (training mode) */
enum { BC = 3, BN_ = 12 };
static float bn_x[BC * BN_], bn_w[BC], bn_b[BC], bn_out[BC * BN_], bn_r[BC * BN_], bn_mean[BC], bn_rstd[BC];
static double bn_loss(void) {
    batchnorm_forward(bn_out, bn_mean, bn_rstd, bn_x, bn_w, bn_b, NULL, NULL, BC, BN_, 0.1f, 1e-5f);
    return dot(bn_out, bn_r, BC * BN_);
}

static const float *frozen_rm, *frozen_rv;
static double bn_eval_loss(void) {
    batchnorm_eval_forward(bn_out, bn_x, bn_w, bn_b, frozen_rm, frozen_rv, BC, BN_, 1e-5f, 0);
    return dot(bn_out, bn_r, BC * BN_);
}

static void test_batchnorm(void) {
    for (int i = 0; i < BC * BN_; i++) { bn_x[i] = 1.0f + 2.0f * (float)rng_normal(&R); bn_r[i] = (float)rng_normal(&R); }
    for (int c = 0; c < BC; c++) { bn_w[c] = 1.0f + 0.5f * (float)rng_normal(&R); bn_b[c] = (float)rng_normal(&R); }
    float rm[BC] = {0.5f, -1, 2}, rv[BC] = {2, 1, 0.5f};
    batchnorm_forward(bn_out, bn_mean, bn_rstd, bn_x, bn_w, bn_b, rm, rv, BC, BN_, 0.1f, 1e-5f);
    for (int c = 0; c < BC; c++) {   /* PyTorch: momentum 0.1, unbiased variance in the estimate */
        double m = 0, v = 0;
        for (int i = 0; i < BN_; i++) m += bn_x[c * BN_ + i];
        m /= BN_;
        for (int i = 0; i < BN_; i++) v += (bn_x[c * BN_ + i] - m) * (bn_x[c * BN_ + i] - m);
        double rm0 = c == 0 ? 0.5 : c == 1 ? -1 : 2, rv0 = c == 0 ? 2 : c == 1 ? 1 : 0.5;
        CHECK(fabs(rm[c] - (0.9 * rm0 + 0.1 * m)) < 1e-5, "running mean %d", c);
        CHECK(fabs(rv[c] - (0.9 * rv0 + 0.1 * v / (BN_ - 1))) < 1e-5, "running var %d", c);
        CHECK(fabs(bn_rstd[c] - 1.0 / sqrt(v / BN_ + 1e-5)) < 1e-5 * bn_rstd[c], "batch rstd %d (biased variance)", c);
    }
    float dx[BC * BN_] = {0}, dw[BC] = {0}, db[BC] = {0};
    batchnorm_backward(dx, dw, db, bn_r, bn_x, bn_mean, bn_rstd, bn_w, BC, BN_);
    gradcheck("batchnorm: dinp", bn_x, dx, BC * BN_, bn_loss, 1e-2f, 2e-3);
    gradcheck("batchnorm: dweight", bn_w, dw, BC, bn_loss, 1e-2f, 2e-3);
    gradcheck("batchnorm: dbias", bn_b, db, BC, bn_loss, 1e-2f, 2e-3);
    /* frozen BN (inference form) and its backward */
    static float fx_rm[BC], fx_rv[BC];
    for (int c = 0; c < BC; c++) { fx_rm[c] = rm[c]; fx_rv[c] = rv[c]; }
    frozen_rm = fx_rm; frozen_rv = fx_rv;
    memset(dx, 0, sizeof dx); memset(dw, 0, sizeof dw); memset(db, 0, sizeof db);
    batchnorm_eval_backward(dx, dw, db, bn_r, bn_x, bn_w, fx_rm, fx_rv, BC, BN_, 1e-5f);
    gradcheck("frozen batchnorm: dinp", bn_x, dx, BC * BN_, bn_eval_loss, 1e-2f, 1e-3);
    gradcheck("frozen batchnorm: dweight", bn_w, dw, BC, bn_eval_loss, 1e-2f, 1e-3);
    gradcheck("frozen batchnorm: dbias", bn_b, db, BC, bn_eval_loss, 1e-2f, 1e-3);
    /* inference form with fused ReLU */
    float y[BC * BN_];
    batchnorm_eval_forward(y, bn_x, bn_w, bn_b, rm, rv, BC, BN_, 1e-5f, 1);
    double maxd = 0;
    for (int c = 0; c < BC; c++)
        for (int i = 0; i < BN_; i++) {
            double ref = (bn_x[c * BN_ + i] - rm[c]) / sqrt(rv[c] + 1e-5) * bn_w[c] + bn_b[c];
            if (ref < 0) ref = 0;
            if (fabs(ref - y[c * BN_ + i]) > maxd) maxd = fabs(ref - y[c * BN_ + i]);
        }
    CHECK(maxd < 1e-5, "batchnorm_eval_forward: max error %.3g", maxd);
}

/* ---- ReLU and average pooling */
enum { PP = 3, PH = 6, PW = 8 };
static float pl_x[PP * PH * PW], pl_out[PP * PH * PW], pl_r[PP * PH * PW];
static int pl_s;
static double relu_loss(void) { relu_forward(pl_out, pl_x, PP * PH * PW); return dot(pl_out, pl_r, PP * PH * PW); }
static double pool_loss(void) {
    avgpool_forward(pl_out, pl_x, PP, PH, PW, pl_s);
    return dot(pl_out, pl_r, (size_t)PP * (PH / pl_s) * (PW / pl_s));
}

static void test_relu_pool(void) {
    for (int i = 0; i < PP * PH * PW; i++) {
        float v = (float)rng_normal(&R);
        pl_x[i] = v + (v > 0 ? 0.1f : -0.1f);   /* away from the kink */
        pl_r[i] = (float)rng_normal(&R);
    }
    float d[PP * PH * PW] = {0};
    relu_forward(pl_out, pl_x, PP * PH * PW);
    relu_backward(d, pl_r, pl_out, PP * PH * PW);
    gradcheck("relu: dinp", pl_x, d, PP * PH * PW, relu_loss, 1e-2f, 1e-3);
    for (pl_s = 2; pl_s <= 3; pl_s++) {
        memset(d, 0, sizeof d);
        avgpool_backward(d, pl_r, PP, PH, PW, pl_s);
        gradcheck(pl_s == 2 ? "avgpool 2: dinp" : "avgpool 3: dinp", pl_x, d, PP * PH * PW, pool_loss, 1e-2f, 1e-3);
    }
}

/* ---- attention pool */
enum { AB = 2, AC = 8, AHW = 4, ANH = 2, AE = 3, AT = AHW + 1 };
static struct { attnpool_w w; attnpool_acts a; float *inp, *out, *r, *acts; } AP;
static double ap_loss(void) {
    attnpool_forward(AP.out, &AP.a, AP.inp, &AP.w, AB, AC, AHW, ANH, AE);
    return dot(AP.out, AP.r, AB * AE);
}

static void test_attnpool(void) {
    attnpool_w *w = &AP.w, g;
    w->pos = randv(AT * AC, 0.5f, 0);
    w->qw = randv(AC * AC, 0.4f, 0); w->qb = randv(AC, 0.2f, 0);
    w->kw = randv(AC * AC, 0.4f, 0); w->kb = randv(AC, 0.2f, 0);
    w->vw = randv(AC * AC, 0.4f, 0); w->vb = randv(AC, 0.2f, 0);
    w->cw = randv(AE * AC, 0.4f, 0); w->cb = randv(AE, 0.2f, 0);
    g.pos = zeros(AT * AC);
    g.qw = zeros(AC * AC); g.qb = zeros(AC); g.kw = zeros(AC * AC); g.kb = zeros(AC);
    g.vw = zeros(AC * AC); g.vb = zeros(AC); g.cw = zeros(AE * AC); g.cb = zeros(AE);
    AP.inp = randv(AC * AB * AHW, 1, 0); AP.out = zeros(AB * AE); AP.r = randv(AB * AE, 1, 0);
    AP.acts = zeros(attnpool_acts_floats(AB, AC, AHW, ANH));
    attnpool_acts_bind(&AP.a, AP.acts, AB, AC, AHW, ANH);
    float *dinp = zeros(AC * AB * AHW), *scratch = zeros(attnpool_scratch_floats(AB, AC, AHW));
    ap_loss();
    attnpool_backward(dinp, &g, AP.r, &AP.a, AP.inp, w, scratch, AB, AC, AHW, ANH, AE);
    gradcheck("attnpool: dinp", AP.inp, dinp, AC * AB * AHW, ap_loss, 1e-2f, 2e-3);
    gradcheck("attnpool: dpos", w->pos, g.pos, AT * AC, ap_loss, 1e-2f, 2e-3);
    gradcheck("attnpool: dq_proj.weight", w->qw, g.qw, AC * AC, ap_loss, 1e-2f, 2e-3);
    gradcheck("attnpool: dq_proj.bias", w->qb, g.qb, AC, ap_loss, 1e-2f, 2e-3);
    gradcheck("attnpool: dk_proj.weight", w->kw, g.kw, AC * AC, ap_loss, 1e-2f, 2e-3);
    /* softmax ignores a shift common to all keys' scores: k_proj's bias has no gradient */
    CHECK(tu_rel_err(g.kb, g.cb, 0) == 0 && fabs(g.kb[0]) < 1e-5 && fabs(g.kb[AC - 1]) < 1e-5, "attnpool: dk_proj.bias should be 0");
    gradcheck("attnpool: dv_proj.weight", w->vw, g.vw, AC * AC, ap_loss, 1e-2f, 2e-3);
    gradcheck("attnpool: dv_proj.bias", w->vb, g.vb, AC, ap_loss, 1e-2f, 2e-3);
    gradcheck("attnpool: dc_proj.weight", w->cw, g.cw, AE * AC, ap_loss, 1e-2f, 2e-3);
    gradcheck("attnpool: dc_proj.bias", w->cb, g.cb, AE, ap_loss, 1e-2f, 2e-3);
    float *all[] = {w->pos, w->qw, w->qb, w->kw, w->kb, w->vw, w->vb, w->cw, w->cb,
                    g.pos, g.qw, g.qb, g.kw, g.kb, g.vw, g.vb, g.cw, g.cb, AP.inp, AP.out, AP.r, AP.acts, dinp, scratch};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

/* ---- the whole tower (training mode) against PyTorch in float64 (tests/data/rn, made by
 * make_grad_golden.py with OpenAI's architecture): features, every parameter's gradient and
 * the running statistics after the forward pass. Finite differences through a deep ReLU
 * network in float32 are too noisy to judge the composition; the layers are checked above. */
#define D "tests/data/rn/"
enum { NB = 2 };

static double cmp_st(const char *path, const clip_model *m, const float *block, int buffers, int *count) {
    st_file f;
    clip_error e = {0};
    double worst = 0, gmax = 0;
    if (st_open(path, &f, &e)) { CHECK(0, "%s", e.msg); return INFINITY; }
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < m->table.n; i++) {
            const param_entry *p = &m->table.e[i];
            if (p->buffer != buffers) continue;
            const st_tensor *t = st_find(&f, p->name);
            CHECK(t && t->numel == p->numel, "%s: %s missing", path, p->name);
            if (!t || t->numel != p->numel) continue;
            float *ref = malloc(p->numel * sizeof *ref);
            st_read_f32(t, ref, &e);
            double num = 0, den = 0;
            for (size_t j = 0; j < p->numel; j++) {
                num = fmax(num, fabs(block[p->offset + j] - ref[j]));
                den = fmax(den, fabs(ref[j]));
            }
            if (pass == 0) gmax = fmax(gmax, den);
            else {
                /* k_proj's bias has no gradient (softmax ignores a common shift): judge
                 * near-zero tensors against the largest gradient */
                double r = num / fmax(den, 1e-3 * gmax);
                if (r > 1e-4) fprintf(stderr, "%s: rel err %.3g\n", p->name, r);
                worst = fmax(worst, r);
                (*count)++;
            }
            free(ref);
        }
    st_close(&f);
    return worst;
}

static void test_resnet(void) {
    clip_error e = {0};
    clip_model *m = clip_model_load(D "model.safetensors", NULL, &e);
    CHECK(m != NULL, "load: %s", e.msg);
    if (!m) return;
    CHECK(m->cfg.vision_heads == 2 && m->cfg.rn_layers[0] == 2 && m->cfg.embed_dim == 8, "tiny tower config");
    rn_acts *a = malloc(sizeof *a);
    float *acts = zeros(resnet_acts_size(&m->cfg, NB, 1));
    resnet_acts_bind(a, acts, &m->cfg, NB, 1);
    a->train = 1;
    npy_array px = tu_load_npy(D "pixels.npy"), r = tu_load_npy(D "r.npy");
    float feat[NB * 8];
    resnet_forward(m, a, px.data, NB, feat);
    CHECK_CLOSE_NPY(feat, NB * 8, D "features.npy", 1e-5);
    float *grads = zeros(m->table.total), *scratch = zeros(resnet_backward_scratch(&m->cfg, NB));
    resnet_backward(m, a, r.data, grads, scratch);
    int n = 0;
    double g = cmp_st(D "grads.safetensors", m, grads, 0, &n);
    CHECK(g < 1e-4 && n > 60, "gradients vs PyTorch float64: worst rel err %.3g over %d tensors", g, n);
    int nb = 0;
    double rs = cmp_st(D "running.safetensors", m, m->params, 1, &nb);
    CHECK(rs < 1e-5 && nb > 30, "running statistics vs PyTorch: worst rel err %.3g over %d tensors", rs, nb);
    for (int i = 0; i < m->table.n; i++) {
        const param_entry *p = &m->table.e[i];
        int z = 1;
        for (size_t j = 0; p->buffer && j < p->numel; j++) z &= grads[p->offset + j] == 0;
        CHECK(z, "%s: a buffer got a gradient", p->name);
    }

    /* plain SGD on ½‖features − target‖²: the loss falls */
    float target[NB * 8], d[NB * 8];
    for (int i = 0; i < NB * 8; i++) target[i] = (float)rng_normal(&R);
    double first = 0, last = 0;
    for (int step = 0; step < 30; step++) {
        resnet_forward(m, a, px.data, NB, feat);
        double l = 0;
        for (int i = 0; i < NB * 8; i++) { d[i] = feat[i] - target[i]; l += 0.5 * d[i] * d[i]; }
        if (step == 0) first = l;
        last = l;
        memset(grads, 0, m->table.total * sizeof(float));
        resnet_backward(m, a, d, grads, scratch);
        for (int i = 0; i < m->table.n; i++) {
            const param_entry *p = &m->table.e[i];
            if (p->buffer) continue;
            for (size_t j = 0; j < p->numel; j++) m->params[p->offset + j] -= 0.01f * grads[p->offset + j];
        }
    }
    CHECK(last < 0.5 * first, "SGD loss %.4g -> %.4g did not halve", first, last);
    free(grads); free(scratch); free(acts); free(a);
    npy_free(&px); npy_free(&r);
    clip_model_free(m);
}

int main(void) {
    rng_seed(&R, 42);
    test_conv(2, 3, 9, 4, 3, 2, 1);    /* the stem's first conv */
    test_conv(2, 3, 6, 5, 3, 1, 1);    /* 3x3 */
    test_conv(2, 6, 5, 4, 1, 1, 0);    /* 1x1: one GEMM, no im2col */
    test_conv(2, 4, 6, 3, 1, 2, 0);    /* 1x1 strided: the general path */
    test_batchnorm();
    test_relu_pool();
    test_attnpool();
    test_resnet();
    TEST_END();
}
