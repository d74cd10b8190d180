#include "model/tower.h"
#include "core/ops.h"
#include "clip.h"
#include <stdio.h>
#include <string.h>

size_t tf_acts_size(int slots, int B, int T, int C, int NH) {
    size_t BT = (size_t)B * T;
    size_t per = BT * C * 8 + BT * 4 + BT * 3 * C + (size_t)B * NH * T * T + BT * 4 * C * 2;
    return per * slots;
}

float *tf_acts_bind(tf_acts *a, float *p, int slots, int B, int T, int C, int NH) {
    size_t BT = (size_t)B * T, S = slots;
    a->slots = slots;
    a->infer = 0;
#define TAKE(field, n) a->field = p; p += S * (n);
    TAKE(ln1, BT * C) TAKE(ln1_mean, BT) TAKE(ln1_rstd, BT) TAKE(qkv, BT * 3 * C)
    TAKE(att, (size_t)B * NH * T * T) TAKE(atty, BT * C) TAKE(attproj, BT * C) TAKE(res1, BT * C)
    TAKE(ln2, BT * C) TAKE(ln2_mean, BT) TAKE(ln2_rstd, BT) TAKE(fch, BT * 4 * C) TAKE(fch_act, BT * 4 * C)
    TAKE(fcp, BT * C) TAKE(res2, BT * C)
#undef TAKE
    return p;
}

static void emit(clip_act_hook hook, void *ud, const char *prefix, int l, const char *what, const float *x, size_t n) {
    if (!hook) return;
    char name[96];
    if (what) snprintf(name, sizeof name, "%s.block%d.%s", prefix, l, what);
    else snprintf(name, sizeof name, "%s.block%d", prefix, l);
    hook(ud, name, x, n);
}

/* out[N,OC] = act(inp[N,C] · Wᵀ + bias + beta·out), from the packed W when there is one. */
static void lin(float *out, const float *inp, const float *w, const matmul_packed_b *pk, const float *bias, int N, int C,
                int OC, float beta, matmul_act act) {
    if (pk && pk->data) matmul_prepacked(0, N, 1.0f, inp, C, pk, beta, out, OC, bias, act);
    else matmul_bias_act(0, 1, N, OC, C, 1.0f, inp, C, w, C, beta, out, OC, bias, act);
}

static const matmul_packed_b *at(const matmul_packed_b *v, int l) { return v ? v + l : NULL; }

/* Inference: one slot, no hook. The residual stream x is updated in place by the out_proj and
 * c_proj GEMMs (beta = 1, bias fused); the fc GEMM applies bias and activation in registers. */
static const float *forward_fused(const tf_weights *w, const tf_packed *pk, tf_acts *a, const float *x, tf_shape s) {
    int C = s.C, BT = s.B * s.T;
    float *res = a->res2;
    matmul_act act = s.act == CLIP_ACT_GELU ? MATMUL_ACT_GELU : MATMUL_ACT_QUICKGELU;
    if (res != x) memcpy(res, x, (size_t)BT * C * sizeof(float));
    for (int l = 0; l < s.L; l++) {
        layernorm_forward(a->ln1, NULL, NULL, res, w->ln1_w + (size_t)l * C, w->ln1_b + (size_t)l * C, BT, C, 1e-5f);
        lin(a->qkv, a->ln1, w->qkv_w + (size_t)l * 3 * C * C, at(pk ? pk->qkv : NULL, l), w->qkv_b + (size_t)l * 3 * C,
            BT, C, 3 * C, 0.0f, MATMUL_ACT_NONE);
        attention_forward(a->atty, a->att, a->qkv, s.B, s.T, C, s.NH, s.causal);
        const float *ctx = a->atty;
        int M = BT;
        if (l == s.L - 1 && s.pooled) {
            /* only the pooled rows go on: gather their context and residual, and finish on B rows */
            for (int b = 0; b < s.B; b++) {
                size_t r = (size_t)b * s.T + (s.pool ? s.pool[b] : 0);
                memcpy(a->attproj + (size_t)b * C, a->atty + r * C, C * sizeof(float));
                memcpy(a->res1 + (size_t)b * C, res + r * C, C * sizeof(float));
            }
            ctx = a->attproj;
            res = a->res1;
            M = s.B;
            a->pooled_out = 1;
        }
        lin(res, ctx, w->proj_w + (size_t)l * C * C, at(pk ? pk->proj : NULL, l), w->proj_b + (size_t)l * C, M, C, C,
            1.0f, MATMUL_ACT_NONE);
        layernorm_forward(a->ln1, NULL, NULL, res, w->ln2_w + (size_t)l * C, w->ln2_b + (size_t)l * C, M, C, 1e-5f);
        lin(a->fch, a->ln1, w->fc_w + (size_t)l * 4 * C * C, at(pk ? pk->fc : NULL, l), w->fc_b + (size_t)l * 4 * C, M, C,
            4 * C, 0.0f, act);
        lin(res, a->fch, w->fcp_w + (size_t)l * 4 * C * C, at(pk ? pk->fcp : NULL, l), w->fcp_b + (size_t)l * C, M, 4 * C,
            C, 1.0f, MATMUL_ACT_NONE);
    }
    return res;
}

const float *transformer_forward(const tf_weights *w, const tf_packed *pk, tf_acts *a, const float *x, tf_shape s,
                                 clip_act_hook hook, void *ud, const char *prefix) {
    a->pooled_out = 0;
    if (a->infer && a->slots == 1 && !hook) return forward_fused(w, pk, a, x, s);
    int C = s.C, BT = s.B * s.T;
    size_t n = (size_t)BT * C;
    const float *in = x;
    for (int l = 0; l < s.L; l++) {
        int k = a->slots == 1 ? 0 : l;
        size_t o = (size_t)k * n, o4 = 4 * o, o3 = 3 * o, om = (size_t)k * BT;
        float *ln1 = a->ln1 + o, *qkv = a->qkv + o3, *atty = a->atty + o, *attproj = a->attproj + o;
        float *att = a->att + (size_t)k * s.B * s.NH * s.T * s.T;
        float *res1 = a->res1 + o, *ln2 = a->ln2 + o, *fch = a->fch + o4, *fch_act = a->fch_act + o4;
        float *fcp = a->fcp + o, *res2 = a->res2 + o;
        layernorm_forward(ln1, a->ln1_mean + om, a->ln1_rstd + om, in, w->ln1_w + (size_t)l * C, w->ln1_b + (size_t)l * C, BT, C, 1e-5f);
        lin(qkv, ln1, w->qkv_w + (size_t)l * 3 * C * C, at(pk ? pk->qkv : NULL, l), w->qkv_b + (size_t)l * 3 * C, BT, C, 3 * C,
            0.0f, MATMUL_ACT_NONE);
        attention_forward(atty, att, qkv, s.B, s.T, C, s.NH, s.causal);
        lin(attproj, atty, w->proj_w + (size_t)l * C * C, at(pk ? pk->proj : NULL, l), w->proj_b + (size_t)l * C, BT, C, C,
            0.0f, MATMUL_ACT_NONE);
        residual_forward(res1, in, attproj, n);
        layernorm_forward(ln2, a->ln2_mean + om, a->ln2_rstd + om, res1, w->ln2_w + (size_t)l * C, w->ln2_b + (size_t)l * C, BT, C, 1e-5f);
        lin(fch, ln2, w->fc_w + (size_t)l * 4 * C * C, at(pk ? pk->fc : NULL, l), w->fc_b + (size_t)l * 4 * C, BT, C, 4 * C,
            0.0f, MATMUL_ACT_NONE);
        act_forward(fch_act, fch, 4 * n, s.act);
        lin(fcp, fch_act, w->fcp_w + (size_t)l * 4 * C * C, at(pk ? pk->fcp : NULL, l), w->fcp_b + (size_t)l * C, BT, 4 * C, C,
            0.0f, MATMUL_ACT_NONE);
        residual_forward(res2, res1, fcp, n);
        if (hook) {
            emit(hook, ud, prefix, l, "ln_1", ln1, n);
            emit(hook, ud, prefix, l, "qkv", qkv, 3 * n);
            emit(hook, ud, prefix, l, "attn_probs", att, (size_t)s.B * s.NH * s.T * s.T);
            emit(hook, ud, prefix, l, "attn_ctx", atty, n);
            emit(hook, ud, prefix, l, "attn_out", attproj, n);
            emit(hook, ud, prefix, l, "resid_attn", res1, n);
            emit(hook, ud, prefix, l, "ln_2", ln2, n);
            emit(hook, ud, prefix, l, "mlp_fc", fch, 4 * n);
            emit(hook, ud, prefix, l, "mlp_gelu", fch_act, 4 * n);
            emit(hook, ud, prefix, l, "mlp_out", fcp, n);
            emit(hook, ud, prefix, l, NULL, res2, n);
        }
        in = res2;
    }
    return in;
}
