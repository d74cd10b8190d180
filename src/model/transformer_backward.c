/* Backward of the pre-LN residual blocks, last layer first. The residual stream's gradient
 * stays in one buffer (dres): each branch adds its layer norm's input gradient into it. */
#include "model/tower.h"
#include "core/ops.h"
#include <string.h>

/* dfch [BT,4C] also holds the attention's dP [B,NH,T,T] once the MLP's backward is done */
size_t tf_grad_scratch_size(int B, int T, int C, int NH) {
    size_t BT = (size_t)B * T, first = BT * 4 * C > BT * NH * T ? BT * 4 * C : BT * NH * T;
    return first + BT * 3 * C + BT * C;
}

void transformer_backward(const tf_weights *w, const tf_weights *dw, const tf_acts *a, const float *x, float *dres,
                          float *scratch, tf_shape s) {
    int C = s.C, BT = s.B * s.T;
    size_t n = (size_t)BT * C;
    float *dfch = scratch, *dqkv = dfch + tf_grad_scratch_size(s.B, s.T, C, s.NH) - 4 * n, *dtmp = dqkv + 3 * n;
    for (int l = s.L - 1; l >= 0; l--) {
        size_t o = (size_t)l * n, om = (size_t)l * BT, lC = (size_t)l * C;
        const float *in = l == 0 ? x : a->res2 + o - n;
        const float *ln1 = a->ln1 + o, *qkv = a->qkv + 3 * o, *atty = a->atty + o, *res1 = a->res1 + o;
        const float *att = a->att + (size_t)l * s.B * s.NH * s.T * s.T;
        const float *ln2 = a->ln2 + o, *fch = a->fch + 4 * o, *fch_act = a->fch_act + 4 * o;
        /* MLP branch: res2 = res1 + c_proj(act(c_fc(ln_2(res1)))) */
        linear_backward(dfch, dw->fcp_w + 4 * lC * C, dw->fcp_b + lC, dres, fch_act, w->fcp_w + 4 * lC * C, BT, 4 * C, C);
        act_backward(dfch, dfch, fch, 4 * n, s.act);
        linear_backward(dtmp, dw->fc_w + 4 * lC * C, dw->fc_b + 4 * lC, dfch, ln2, w->fc_w + 4 * lC * C, BT, C, 4 * C);
        layernorm_backward(dres, dw->ln2_w + lC, dw->ln2_b + lC, dtmp, res1, w->ln2_w + lC, a->ln2_mean + om,
                           a->ln2_rstd + om, BT, C);
        /* attention branch: res1 = in + out_proj(attn(in_proj(ln_1(in)))) */
        linear_backward(dtmp, dw->proj_w + lC * C, dw->proj_b + lC, dres, atty, w->proj_w + lC * C, BT, C, C);
        attention_backward(dqkv, dfch, dtmp, qkv, att, s.B, s.T, C, s.NH, s.causal);
        linear_backward(dtmp, dw->qkv_w + 3 * lC * C, dw->qkv_b + 3 * lC, dqkv, ln1, w->qkv_w + 3 * lC * C, BT, C, 3 * C);
        layernorm_backward(dres, dw->ln1_w + lC, dw->ln1_b + lC, dtmp, in, w->ln1_w + lC, a->ln1_mean + om,
                           a->ln1_rstd + om, BT, C);
    }
}
