/* OpenAI's ModifiedResNet image tower: parameters, activation layout, forward and backward.
 *
 *   stem:   3x3/2 conv-bn-relu, 3x3 conv-bn-relu, 3x3 conv-bn-relu, 2x2 avgpool
 *   block:  1x1 conv-bn-relu, 3x3 conv-bn-relu, avgpool(stride), 1x1 conv-bn (4x planes),
 *           + identity (or avgpool(stride) -> 1x1 conv -> bn), relu
 *   head:   attention pool (mean token + positions, one query, q/k/v/c projections)
 *
 * Batch norm at inference is applied as a per-channel affine fused with the ReLU, straight
 * after each convolution's GEMM, from the raw parameters (docs/resnet.md: why not folded). */
#include "model/resnet.h"
#include "core/error.h"
#include "core/ops.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- parameters */

static int add(param_table *t, const char *name, int ndim, const int64_t *shape, int init, float scale, int buffer,
               clip_error *err) {
    int rc = params_add(t, name, ndim, shape, init, scale, err);
    if (rc) return rc;
    if (buffer) { t->e[t->n - 1].buffer = 1; t->e[t->n - 1].decay = 0; }
    return 0;
}

/* nn.Conv2d's default init: kaiming_uniform(a=√5), i.e. U(±1/√fan_in). */
static int add_conv(param_table *t, const char *name, int OC, int IC, int K, clip_error *err) {
    int64_t s[4] = {OC, IC, K, K};
    return add(t, name, 4, s, INIT_UNIFORM, 1.0f / sqrtf((float)(IC * K * K)), 0, err);
}

/* BatchNorm2d: weight 1 (0 for OpenAI's bottleneck bn3), bias 0, running mean 0 / var 1. */
static int add_bn(param_table *t, const char *prefix, int C, int zero_weight, clip_error *err) {
    char n[112];
    int64_t s[1] = {C};
    int rc;
    snprintf(n, sizeof n, "%s.weight", prefix);
    if ((rc = add(t, n, 1, s, zero_weight ? INIT_ZERO : INIT_ONE, 0, 0, err))) return rc;
    snprintf(n, sizeof n, "%s.bias", prefix);
    if ((rc = add(t, n, 1, s, INIT_ZERO, 0, 0, err))) return rc;
    snprintf(n, sizeof n, "%s.running_mean", prefix);
    if ((rc = add(t, n, 1, s, INIT_ZERO, 0, 1, err))) return rc;
    snprintf(n, sizeof n, "%s.running_var", prefix);
    return add(t, n, 1, s, INIT_ONE, 0, 1, err);
}

int resnet_params_add(const clip_config *c, param_table *t, clip_error *err) {
    int W = c->vision_width, C = 32 * W, S = c->image_size, E = c->embed_dim, rc;
    int nb = c->rn_layers[0] + c->rn_layers[1] + c->rn_layers[2] + c->rn_layers[3];
    if (W <= 0 || W % 2 || S <= 0 || S % 32 || E <= 0)
        return clip_fail(err, CLIP_ERR_FORMAT, "ResNet tower: width %d must be even and image size %d a multiple of 32", W, S);
    for (int i = 0; i < 4; i++)
        if (c->rn_layers[i] <= 0) return clip_fail(err, CLIP_ERR_FORMAT, "ResNet tower: stage %d has no blocks", i + 1);
    if (nb > RN_MAX_BLOCKS) return clip_fail(err, CLIP_ERR_UNSUPPORTED, "ResNet tower: %d blocks (at most %d)", nb, RN_MAX_BLOCKS);
    if (c->vision_heads <= 0 || C % c->vision_heads)
        return clip_fail(err, CLIP_ERR_FORMAT, "ResNet tower: attention-pool width %d is not divisible by %d heads", C, c->vision_heads);
    if ((rc = add_conv(t, "visual.conv1.weight", W / 2, 3, 3, err)) || (rc = add_bn(t, "visual.bn1", W / 2, 0, err)) ||
        (rc = add_conv(t, "visual.conv2.weight", W / 2, W / 2, 3, err)) || (rc = add_bn(t, "visual.bn2", W / 2, 0, err)) ||
        (rc = add_conv(t, "visual.conv3.weight", W, W / 2, 3, err)) || (rc = add_bn(t, "visual.bn3", W, 0, err)))
        return rc;
    char n[112];
    int inpl = W;
    for (int i = 0; i < 4; i++) {
        int P = W << i;
        for (int j = 0; j < c->rn_layers[i]; j++) {
            int stride = (i > 0 && j == 0) ? 2 : 1;
#define NAME(fmt) (snprintf(n, sizeof n, "visual.layer%d.%d." fmt, i + 1, j), n)
            if ((rc = add_conv(t, NAME("conv1.weight"), P, inpl, 1, err)) || (rc = add_bn(t, NAME("bn1"), P, 0, err)) ||
                (rc = add_conv(t, NAME("conv2.weight"), P, P, 3, err)) || (rc = add_bn(t, NAME("bn2"), P, 0, err)) ||
                (rc = add_conv(t, NAME("conv3.weight"), 4 * P, P, 1, err)) || (rc = add_bn(t, NAME("bn3"), 4 * P, 1, err)))
                return rc;
            if ((stride > 1 || inpl != 4 * P) &&
                ((rc = add_conv(t, NAME("downsample.0.weight"), 4 * P, inpl, 1, err)) ||
                 (rc = add_bn(t, NAME("downsample.1"), 4 * P, 0, err))))
                return rc;
#undef NAME
            inpl = 4 * P;
        }
    }
    /* AttentionPool2d, initialised as OpenAI's initialize_parameters does */
    int G = S / 32;
    float std = powf((float)C, -0.5f), ub = 1.0f / sqrtf((float)C);
    int64_t pos[2] = {G * G + 1, C}, sq[2] = {C, C}, vc[1] = {C}, cw[2] = {E, C}, cb[1] = {E};
    if ((rc = add(t, "visual.attnpool.positional_embedding", 2, pos, INIT_NORMAL, std, 0, err))) return rc;
    static const char *proj[3] = {"k", "q", "v"};
    for (int i = 0; i < 3; i++) {
        snprintf(n, sizeof n, "visual.attnpool.%s_proj.weight", proj[i]);
        if ((rc = add(t, n, 2, sq, INIT_NORMAL, std, 0, err))) return rc;
        snprintf(n, sizeof n, "visual.attnpool.%s_proj.bias", proj[i]);
        if ((rc = add(t, n, 1, vc, INIT_UNIFORM, ub, 0, err))) return rc;
    }
    if ((rc = add(t, "visual.attnpool.c_proj.weight", 2, cw, INIT_NORMAL, std, 0, err))) return rc;
    return add(t, "visual.attnpool.c_proj.bias", 1, cb, INIT_UNIFORM, ub, 0, err);
}

/* Binding walks the table in the order resnet_params_add filled it, checking each name. */
typedef struct cursor { const param_table *t; float *block; int i; } cursor;

static float *next(cursor *cu, const char *name) {
    if (cu->i < cu->t->n && !strcmp(cu->t->e[cu->i].name, name)) return cu->block + cu->t->e[cu->i++].offset;
    const param_entry *e = params_find(cu->t, name);
    if (!e) return NULL;
    cu->i = (int)(e - cu->t->e) + 1;
    return cu->block + e->offset;
}

static void bind_bn(cursor *cu, const char *prefix, rn_bn *bn) {
    char n[112];
    snprintf(n, sizeof n, "%s.weight", prefix); bn->w = next(cu, n);
    snprintf(n, sizeof n, "%s.bias", prefix); bn->b = next(cu, n);
    snprintf(n, sizeof n, "%s.running_mean", prefix); bn->mean = next(cu, n);
    snprintf(n, sizeof n, "%s.running_var", prefix); bn->var = next(cu, n);
}

void resnet_bind(const clip_config *c, const param_table *t, float *block, rn_weights *w) {
    cursor cu = {t, block, 0};
    char n[112];
    w->conv1 = next(&cu, "visual.conv1.weight"); bind_bn(&cu, "visual.bn1", &w->bn1);
    w->conv2 = next(&cu, "visual.conv2.weight"); bind_bn(&cu, "visual.bn2", &w->bn2);
    w->conv3 = next(&cu, "visual.conv3.weight"); bind_bn(&cu, "visual.bn3", &w->bn3);
    int k = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < c->rn_layers[i] && k < RN_MAX_BLOCKS; j++, k++) {
            rn_block_w *b = &w->blk[k];
#define NAME(fmt) (snprintf(n, sizeof n, "visual.layer%d.%d." fmt, i + 1, j), n)
            b->conv1 = next(&cu, NAME("conv1.weight")); bind_bn(&cu, NAME("bn1"), &b->bn1);
            b->conv2 = next(&cu, NAME("conv2.weight")); bind_bn(&cu, NAME("bn2"), &b->bn2);
            b->conv3 = next(&cu, NAME("conv3.weight")); bind_bn(&cu, NAME("bn3"), &b->bn3);
            b->ds_conv = next(&cu, NAME("downsample.0.weight"));
            if (b->ds_conv) bind_bn(&cu, NAME("downsample.1"), &b->ds_bn);
            else memset(&b->ds_bn, 0, sizeof b->ds_bn);
#undef NAME
        }
    w->nblocks = k;
    w->ap.pos = next(&cu, "visual.attnpool.positional_embedding");
    w->ap.kw = next(&cu, "visual.attnpool.k_proj.weight"); w->ap.kb = next(&cu, "visual.attnpool.k_proj.bias");
    w->ap.qw = next(&cu, "visual.attnpool.q_proj.weight"); w->ap.qb = next(&cu, "visual.attnpool.q_proj.bias");
    w->ap.vw = next(&cu, "visual.attnpool.v_proj.weight"); w->ap.vb = next(&cu, "visual.attnpool.v_proj.bias");
    w->ap.cw = next(&cu, "visual.attnpool.c_proj.weight"); w->ap.cb = next(&cu, "visual.attnpool.c_proj.bias");
}

/* ---------------------------------------------------------------- activation layout */

/* A bump allocator over the activation block. Inference alternates between two regions,
 * one per phase (stem, each block, head): a phase reads only the previous phase's output,
 * so memory stays at two blocks' worth whatever the depth. Training never reuses. */
typedef struct arena { float *base; size_t off, top, region; int train, phase; } arena;

static float *take(arena *ar, size_t n) {
    size_t o = ar->off;
    ar->off += (n + 15) & ~(size_t)15;   /* 64-byte aligned pieces */
    if (ar->off > ar->top) ar->top = ar->off;
    return ar->base ? ar->base + o : NULL;
}

static void next_phase(arena *ar) {
    if (!ar->train) ar->off = (size_t)(ar->phase % 2) * ar->region;
    ar->phase++;
}

static void unit_alloc(arena *ar, rn_unit *u, int relu_inplace_ok, size_t *colmax) {
    (void)relu_inplace_ok;
    size_t n = (size_t)u->s.OC * u->s.B * u->s.OH * u->s.OW;
    u->c = take(ar, n);
    if (ar->train) {
        u->y = take(ar, n);
        u->mean = take(ar, u->s.OC);
        u->rstd = take(ar, u->s.OC);
    } else {
        u->y = u->c;
        u->mean = u->rstd = NULL;
    }
    size_t cf = conv_col_floats(&u->s);
    if (cf > *colmax) *colmax = cf;
}

/* Lays out (base != NULL) or measures (base == NULL) the activations; returns floats used
 * and, in *phase_max, the largest phase (one inference region). */
static size_t layout(rn_acts *a, float *base, const clip_config *c, int B, int train, size_t region, size_t *phase_max) {
    arena ar = {base, 0, 0, region, train, 0};
    size_t colmax = 0;
    int W = c->vision_width, S = c->image_size;
    memset(a, 0, sizeof *a);
    a->B = B; a->train = train;
    next_phase(&ar);
    a->x0 = take(&ar, (size_t)3 * B * S * S);
    a->s1.s = conv_shape_make(B, 3, S, S, W / 2, 3, 2, 1);
    int H = a->s1.s.OH;
    a->s2.s = conv_shape_make(B, W / 2, H, H, W / 2, 3, 1, 1);
    a->s3.s = conv_shape_make(B, W / 2, H, H, W, 3, 1, 1);
    unit_alloc(&ar, &a->s1, 1, &colmax);
    unit_alloc(&ar, &a->s2, 1, &colmax);
    unit_alloc(&ar, &a->s3, 1, &colmax);
    H /= 2;
    a->stem = take(&ar, (size_t)W * B * H * H);
    int inpl = W, k = 0;
    for (int i = 0; i < 4; i++) {
        int P = W << i;
        for (int j = 0; j < c->rn_layers[i] && k < RN_MAX_BLOCKS; j++, k++) {
            rn_block_acts *b = &a->blk[k];
            next_phase(&ar);
            b->stride = (i > 0 && j == 0) ? 2 : 1;
            b->has_ds = b->stride > 1 || inpl != 4 * P;
            int Ho = H / b->stride;
            b->u1.s = conv_shape_make(B, inpl, H, H, P, 1, 1, 0);
            b->u2.s = conv_shape_make(B, P, H, H, P, 3, 1, 1);
            b->u3.s = conv_shape_make(B, P, Ho, Ho, 4 * P, 1, 1, 0);
            b->ud.s = conv_shape_make(B, inpl, Ho, Ho, 4 * P, 1, 1, 0);
            unit_alloc(&ar, &b->u1, 1, &colmax);
            unit_alloc(&ar, &b->u2, 1, &colmax);
            b->pool = b->stride > 1 ? take(&ar, (size_t)P * B * Ho * Ho) : b->u2.y;
            unit_alloc(&ar, &b->u3, 0, &colmax);
            if (b->has_ds) {
                b->dpool = b->stride > 1 ? take(&ar, (size_t)inpl * B * Ho * Ho) : NULL;   /* NULL: x itself */
                unit_alloc(&ar, &b->ud, 0, &colmax);
            }
            b->out = b->u3.y;
            inpl = 4 * P;
            H = Ho;
        }
    }
    a->nblocks = k;
    a->C = inpl;
    a->HW = H * H;
    next_phase(&ar);
    float *ap = take(&ar, attnpool_acts_floats(B, a->C, a->HW, c->vision_heads));
    if (base) attnpool_acts_bind(&a->ap, ap, B, a->C, a->HW, c->vision_heads);
    a->feat = take(&ar, (size_t)B * c->embed_dim);
    if (phase_max) *phase_max = ar.top;
    ar.off = ar.top;
    a->col = take(&ar, colmax);
    return ar.top;
}

/* Inference regions: a first pass with every phase at offset 0 measures the largest. */
static size_t region_of(rn_acts *a, const clip_config *c, int B, int train) {
    size_t r = 0;
    if (!train) layout(a, NULL, c, B, 0, 0, &r);
    return r;
}

size_t resnet_acts_size(const clip_config *c, int B, int train) {
    rn_acts *a = malloc(sizeof *a);
    if (!a) return (size_t)-1 / 8;
    size_t n = layout(a, NULL, c, B, train, region_of(a, c, B, train), NULL);
    free(a);
    return n;
}

void resnet_acts_bind(rn_acts *a, float *block, const clip_config *c, int B, int train) {
    layout(a, block, c, B, train, region_of(a, c, B, train), NULL);
}

/* ---------------------------------------------------------------- forward */

typedef struct emitter { clip_act_hook hook; void *ud; float *tmp; } emitter;

/* Hands a channel-major [C,B,HW] tensor to the hook as NCHW (the golden files' layout). */
static void emit(emitter *e, const char *name, const float *x, int C, int B, int HW) {
    if (!e->hook || !e->tmp) return;
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++)
            memcpy(e->tmp + ((size_t)b * C + c) * HW, x + ((size_t)c * B + b) * HW, HW * sizeof(float));
    e->hook(e->ud, name, e->tmp, (size_t)C * B * HW);
}

static void unit_forward(rn_unit *u, const float *x, const float *w, const rn_bn *bn, int relu, int train, float *col) {
    conv2d_forward(u->c, x, w, col, &u->s);
    int N = u->s.B * u->s.OH * u->s.OW;
    if (train) {
        batchnorm_forward(u->y, u->mean, u->rstd, u->c, bn->w, bn->b, bn->mean, bn->var, u->s.OC, N, RN_BN_MOMENTUM, RN_BN_EPS);
        if (relu) relu_forward(u->y, u->y, (size_t)u->s.OC * N);
    } else {
        batchnorm_eval_forward(u->y, u->c, bn->w, bn->b, bn->mean, bn->var, u->s.OC, N, RN_BN_EPS, relu);
    }
}

static size_t unit_numel(const rn_unit *u) { return (size_t)u->s.OC * u->s.B * u->s.OH * u->s.OW; }

/* Inference block tail in one pass: out = relu(bn3(c3) + (bn_d(cd) or x)), from the raw
 * convolution outputs, instead of three passes (two BN, then add + ReLU). */
static void tail_eval(float *out, const float *c3, const rn_bn *b3, const float *cd, const rn_bn *bd, const float *x, int C, int N) {
    #pragma omp parallel for schedule(static) if((size_t)C * N >= 65536)
    for (int c = 0; c < C; c++) {
        float a3 = b3->w[c] / sqrtf(b3->var[c] + RN_BN_EPS), s3 = b3->b[c] - b3->mean[c] * a3;
        const float *p = c3 + (size_t)c * N;
        float *o = out + (size_t)c * N;
        if (cd) {
            float ad = bd->w[c] / sqrtf(bd->var[c] + RN_BN_EPS), sd = bd->b[c] - bd->mean[c] * ad;
            const float *q = cd + (size_t)c * N;
            for (int i = 0; i < N; i++) { float v = (p[i] * a3 + s3) + (q[i] * ad + sd); o[i] = v > 0 ? v : 0; }
        } else {
            const float *q = x + (size_t)c * N;
            for (int i = 0; i < N; i++) { float v = (p[i] * a3 + s3) + q[i]; o[i] = v > 0 ? v : 0; }
        }
    }
}

int resnet_forward(const clip_model *m, rn_acts *a, const float *pixels, int B, float *out) {
    const clip_config *c = &m->cfg;
    rn_weights *w = malloc(sizeof *w);
    if (!w) return CLIP_ERR_NOMEM;
    resnet_bind(c, &m->table, m->params, w);
    int S = c->image_size, train = a->train;
    emitter e = {m->hook, m->hook_ud, NULL};
    if (e.hook) e.tmp = malloc(unit_numel(&a->s3) * 4 * sizeof(float) + (size_t)a->C * B * a->HW * sizeof(float));
    /* NCHW pixels -> channel-major */
    for (int ch = 0; ch < 3; ch++)
        for (int b = 0; b < B; b++)
            memcpy(a->x0 + ((size_t)ch * B + b) * S * S, pixels + ((size_t)b * 3 + ch) * S * S, (size_t)S * S * sizeof(float));
    unit_forward(&a->s1, a->x0, w->conv1, &w->bn1, 1, train, a->col);
    emit(&e, "rn.stem1", a->s1.y, a->s1.s.OC, B, a->s1.s.OH * a->s1.s.OW);
    unit_forward(&a->s2, a->s1.y, w->conv2, &w->bn2, 1, train, a->col);
    emit(&e, "rn.stem2", a->s2.y, a->s2.s.OC, B, a->s2.s.OH * a->s2.s.OW);
    unit_forward(&a->s3, a->s2.y, w->conv3, &w->bn3, 1, train, a->col);
    emit(&e, "rn.stem3", a->s3.y, a->s3.s.OC, B, a->s3.s.OH * a->s3.s.OW);
    avgpool_forward(a->stem, a->s3.y, a->s3.s.OC * B, a->s3.s.OH, a->s3.s.OW, 2);
    emit(&e, "rn.stem", a->stem, a->s3.s.OC, B, a->s3.s.OH * a->s3.s.OW / 4);
    const float *x = a->stem;
    int k = 0;
    char name[64];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < c->rn_layers[i]; j++, k++) {
            rn_block_acts *b = &a->blk[k];
            const rn_block_w *bw = &w->blk[k];
            int P = b->u1.s.OC, H = b->u1.s.OH, Ho = b->u3.s.OH, OC = b->u3.s.OC;
            b->x = x;
#define EMIT(what, data, ch, hw) do { snprintf(name, sizeof name, "rn.layer%d.%d.%s", i + 1, j, what); emit(&e, name, data, ch, B, hw); } while (0)
            unit_forward(&b->u1, x, bw->conv1, &bw->bn1, 1, train, a->col);
            EMIT("relu1", b->u1.y, P, H * H);
            unit_forward(&b->u2, b->u1.y, bw->conv2, &bw->bn2, 1, train, a->col);
            EMIT("relu2", b->u2.y, P, H * H);
            if (b->stride > 1) avgpool_forward(b->pool, b->u2.y, P * B, H, H, b->stride);
            EMIT("avgpool", b->pool, P, Ho * Ho);
            if (!train && !e.hook) {   /* the fused inference tail */
                const float *dx = x;
                conv2d_forward(b->u3.c, b->pool, bw->conv3, a->col, &b->u3.s);
                if (b->has_ds) {
                    if (b->stride > 1) { avgpool_forward(b->dpool, x, b->ud.s.IC * B, H, H, b->stride); dx = b->dpool; }
                    conv2d_forward(b->ud.c, dx, bw->ds_conv, a->col, &b->ud.s);
                }
                tail_eval(b->out, b->u3.c, &bw->bn3, b->has_ds ? b->ud.c : NULL, &bw->ds_bn, x, OC, B * Ho * Ho);
                x = b->out;
                continue;
            }
            unit_forward(&b->u3, b->pool, bw->conv3, &bw->bn3, 0, train, a->col);
            EMIT("bn3", b->u3.y, OC, Ho * Ho);
            const float *id = x;
            if (b->has_ds) {
                const float *dx = x;
                if (b->stride > 1) { avgpool_forward(b->dpool, x, b->ud.s.IC * B, H, H, b->stride); dx = b->dpool; }
                unit_forward(&b->ud, dx, bw->ds_conv, &bw->ds_bn, 0, train, a->col);
                id = b->ud.y;
            }
            EMIT("identity", id, OC, Ho * Ho);
            size_t n = (size_t)OC * B * Ho * Ho;
            #pragma omp parallel for schedule(static) if(n >= 65536)
            for (size_t q = 0; q < n; q++) { float v = b->u3.y[q] + id[q]; b->out[q] = v > 0 ? v : 0; }
            EMIT("out", b->out, OC, Ho * Ho);
            if (j == c->rn_layers[i] - 1) {
                snprintf(name, sizeof name, "rn.layer%d", i + 1);
                emit(&e, name, b->out, OC, B, Ho * Ho);
            }
#undef EMIT
            x = b->out;
        }
    attnpool_forward(a->feat, &a->ap, x, &w->ap, B, a->C, a->HW, c->vision_heads, c->embed_dim);
    if (e.hook) {
        e.hook(e.ud, "rn.attnpool_tokens", a->ap.tok, (size_t)B * (a->HW + 1) * a->C);
        e.hook(e.ud, "rn.features", a->feat, (size_t)B * c->embed_dim);
    }
    if (out) memcpy(out, a->feat, (size_t)B * c->embed_dim * sizeof(float));
    free(e.tmp);
    free(w);
    return 0;
}

/* ---------------------------------------------------------------- backward */

/* The largest activation any unit reads or writes: the size of each backward scratch buffer. */
static size_t act_max(const rn_acts *a) {
    size_t mx = 0;
    for (int i = 0; i < 3 + 4 * a->nblocks; i++) {
        const rn_block_acts *b = &a->blk[(i - 3) / 4 < 0 ? 0 : (i - 3) / 4];
        const rn_unit *stem[3] = {&a->s1, &a->s2, &a->s3}, *blk[4] = {&b->u1, &b->u2, &b->u3, &b->ud};
        const rn_unit *x = i < 3 ? stem[i] : blk[(i - 3) % 4];
        size_t in = (size_t)x->s.IC * x->s.B * x->s.H * x->s.W, out = (size_t)x->s.OC * x->s.B * x->s.OH * x->s.OW;
        if (in > mx) mx = in;
        if (out > mx) mx = out;
    }
    return mx;
}

#define RN_SCRATCH_BUFS 7

size_t resnet_backward_scratch(const clip_config *c, int B) {
    rn_acts *a = malloc(sizeof *a);
    if (!a) return (size_t)-1 / 8;
    layout(a, NULL, c, B, 1, 0, NULL);
    size_t n = RN_SCRATCH_BUFS * act_max(a) + attnpool_scratch_floats(B, a->C, a->HW);
    free(a);
    return n;
}

static void zero(float *x, size_t n) { memset(x, 0, n * sizeof *x); }

/* dy: ∂/∂y (overwritten when relu masks it); dx += ∂/∂x (dx NULL: not needed); tmp: ∂/∂c. */
static void unit_backward(const rn_unit *u, const float *x, float *dx, float *dy, int relu, const float *w, const rn_bn *bn,
                          float *gw, const rn_bn *gbn, float *tmp, float *col) {
    size_t n = unit_numel(u);
    int N = u->s.B * u->s.OH * u->s.OW;
    if (relu) for (size_t i = 0; i < n; i++) if (!(u->y[i] > 0)) dy[i] = 0;
    zero(tmp, n);
    batchnorm_backward(tmp, gbn->w, gbn->b, dy, u->c, u->mean, u->rstd, bn->w, u->s.OC, N);
    conv2d_backward(dx, gw, tmp, x, w, col, &u->s);
}

int resnet_backward(const clip_model *m, const rn_acts *a, const float *dfeat, float *grads, float *scratch) {
    const clip_config *c = &m->cfg;
    rn_weights *w = malloc(sizeof *w), *g = malloc(sizeof *g);
    if (!w || !g) { free(w); free(g); return CLIP_ERR_NOMEM; }
    resnet_bind(c, &m->table, m->params, w);
    resnet_bind(c, &m->table, grads, g);
    int B = a->B;
    size_t A = act_max(a);
    float *buf[RN_SCRATCH_BUFS];
    for (int i = 0; i < RN_SCRATCH_BUFS; i++) buf[i] = scratch + (size_t)i * A;
    float *apscratch = scratch + RN_SCRATCH_BUFS * A;
    /* head: gout = ∂/∂(last block's output) */
    float *gout = buf[0], *dx = buf[1];
    zero(gout, (size_t)a->C * B * a->HW);
    const float *last = a->nblocks ? a->blk[a->nblocks - 1].out : a->stem;
    attnpool_backward(gout, &g->ap, dfeat, &a->ap, last, &w->ap, apscratch, B, a->C, a->HW, c->vision_heads, c->embed_dim);
    for (int k = a->nblocks - 1; k >= 0; k--) {
        const rn_block_acts *b = &a->blk[k];
        const rn_block_w *bw = &w->blk[k], *gb = &g->blk[k];
        float *dd = buf[2], *dpm = buf[3], *dy2 = buf[4], *dy1 = buf[5], *tmp = buf[6];
        size_t nout = unit_numel(&b->u3), nin = (size_t)b->u1.s.IC * B * b->u1.s.H * b->u1.s.W;
        int H = b->u1.s.H, s = b->stride;
        for (size_t i = 0; i < nout; i++) if (!(b->out[i] > 0)) gout[i] = 0;   /* ∂/∂(bn3 + identity) */
        zero(dx, nin);
        if (b->has_ds) {
            if (s > 1) {
                size_t np = (size_t)b->ud.s.IC * B * b->ud.s.H * b->ud.s.W;
                zero(dd, np);
                unit_backward(&b->ud, b->dpool, dd, gout, 0, bw->ds_conv, &bw->ds_bn, gb->ds_conv, &gb->ds_bn, tmp, a->col);
                avgpool_backward(dx, dd, b->ud.s.IC * B, H, H, s);
            } else {
                unit_backward(&b->ud, b->x, dx, gout, 0, bw->ds_conv, &bw->ds_bn, gb->ds_conv, &gb->ds_bn, tmp, a->col);
            }
        } else {
            for (size_t i = 0; i < nout; i++) dx[i] += gout[i];
        }
        size_t npool = (size_t)b->u3.s.IC * B * b->u3.s.H * b->u3.s.W;
        zero(dpm, npool);
        unit_backward(&b->u3, b->pool, dpm, gout, 0, bw->conv3, &bw->bn3, gb->conv3, &gb->bn3, tmp, a->col);
        float *d2 = dpm;
        if (s > 1) { zero(dy2, unit_numel(&b->u2)); avgpool_backward(dy2, dpm, b->u2.s.OC * B, H, H, s); d2 = dy2; }
        zero(dy1, unit_numel(&b->u1));
        unit_backward(&b->u2, b->u1.y, dy1, d2, 1, bw->conv2, &bw->bn2, gb->conv2, &gb->bn2, tmp, a->col);
        unit_backward(&b->u1, b->x, dx, dy1, 1, bw->conv1, &bw->bn1, gb->conv1, &gb->bn1, tmp, a->col);
        float *t = gout; gout = dx; dx = t;
    }
    /* stem: gout = ∂/∂stem */
    float *d3 = buf[2], *d2 = buf[3], *d1 = buf[4], *tmp = buf[6];
    zero(d3, unit_numel(&a->s3));
    avgpool_backward(d3, gout, a->s3.s.OC * B, a->s3.s.OH, a->s3.s.OW, 2);
    zero(d2, unit_numel(&a->s2));
    unit_backward(&a->s3, a->s2.y, d2, d3, 1, w->conv3, &w->bn3, g->conv3, &g->bn3, tmp, a->col);
    zero(d1, unit_numel(&a->s1));
    unit_backward(&a->s2, a->s1.y, d1, d2, 1, w->conv2, &w->bn2, g->conv2, &g->bn2, tmp, a->col);
    unit_backward(&a->s1, a->x0, NULL, d1, 1, w->conv1, &w->bn1, g->conv1, &g->bn1, tmp, a->col);
    free(w);
    free(g);
    return 0;
}
