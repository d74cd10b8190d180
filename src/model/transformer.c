#include "model/tower.h"
#include "core/ops.h"
#include <stdio.h>

size_t tf_acts_size(int slots, int B, int T, int C, int NH) {
    size_t BT = (size_t)B * T;
    size_t per = BT * C * 8 + BT * 4 + BT * 3 * C + (size_t)B * NH * T * T + BT * 4 * C * 2;
    return per * slots;
}

float *tf_acts_bind(tf_acts *a, float *p, int slots, int B, int T, int C, int NH) {
    size_t BT = (size_t)B * T, S = slots;
    a->slots = slots;
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

const float *transformer_forward(const tf_weights *w, tf_acts *a, const float *x, tf_shape s,
                                 clip_act_hook hook, void *ud, const char *prefix) {
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
        linear_forward(qkv, ln1, w->qkv_w + (size_t)l * 3 * C * C, w->qkv_b + (size_t)l * 3 * C, BT, C, 3 * C);
        attention_forward(atty, att, qkv, s.B, s.T, C, s.NH, s.causal);
        linear_forward(attproj, atty, w->proj_w + (size_t)l * C * C, w->proj_b + (size_t)l * C, BT, C, C);
        residual_forward(res1, in, attproj, n);
        layernorm_forward(ln2, a->ln2_mean + om, a->ln2_rstd + om, res1, w->ln2_w + (size_t)l * C, w->ln2_b + (size_t)l * C, BT, C, 1e-5f);
        linear_forward(fch, ln2, w->fc_w + (size_t)l * 4 * C * C, w->fc_b + (size_t)l * 4 * C, BT, C, 4 * C);
        act_forward(fch_act, fch, 4 * n, s.act);
        linear_forward(fcp, fch_act, w->fcp_w + (size_t)l * 4 * C * C, w->fcp_b + (size_t)l * C, BT, 4 * C, C);
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
