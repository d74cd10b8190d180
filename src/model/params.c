#include "model/params.h"
#include "core/error.h"
#include "core/rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* open_clip's rule: no decay for gains, biases, 0/1-d tensors and logit_scale. */
static int decays(const char *name, int ndim) {
    return !(ndim < 2 || strstr(name, "bn") || strstr(name, "ln") || strstr(name, "bias") || strstr(name, "logit_scale"));
}

int params_add(param_table *t, const char *name, int ndim, const int64_t *shape, int init, float scale, clip_error *err) {
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 256;
        param_entry *e = realloc(t->e, cap * sizeof *e);
        if (!e) return clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
        t->e = e; t->cap = cap;
    }
    param_entry *p = &t->e[t->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    p->numel = 1;
    for (int i = 0; i < ndim; i++) { p->shape[i] = shape[i]; p->numel *= (size_t)shape[i]; }
    p->offset = t->total;
    t->total += p->numel;
    p->init = init; p->init_scale = scale;
    p->decay = decays(name, ndim);
    return 0;
}

#define ADD(name, init, scale, ...) do { int64_t _s[] = {__VA_ARGS__}; \
    if ((rc = params_add(t, name, (int)(sizeof _s / sizeof _s[0]), _s, init, scale, err))) return rc; } while (0)
#define ADD0(name, init, scale) do { if ((rc = params_add(t, name, 0, NULL, init, scale, err))) return rc; } while (0)

/* One tower's residual blocks, each kind stacked over layers so tf_weights can index by layer.
 * text_init: OpenAI's initialize_parameters for the text transformer; otherwise PyTorch's
 * defaults (the visual transformer keeps them in OpenAI's code). */
static int add_blocks(param_table *t, const char *prefix, int L, int C, int text_init, clip_error *err) {
    int rc;
    char n[112];
    float attn_std = powf((float)C, -0.5f), proj_std = attn_std * powf(2.0f * L, -0.5f), fc_std = powf(2.0f * C, -0.5f);
    float u1 = 1.0f / sqrtf((float)C), u4 = 1.0f / sqrtf(4.0f * C);
    float xav = sqrtf(6.0f / (float)(C + 3 * C));
#define EACH(fmt, init, scale, ...) for (int l = 0; l < L; l++) { snprintf(n, sizeof n, "%sresblocks.%d." fmt, prefix, l); ADD(n, init, scale, __VA_ARGS__); }
    EACH("ln_1.weight", INIT_ONE, 0, C);
    EACH("ln_1.bias", INIT_ZERO, 0, C);
    EACH("attn.in_proj_weight", text_init ? INIT_NORMAL : INIT_XAVIER, text_init ? attn_std : xav, 3 * C, C);
    EACH("attn.in_proj_bias", INIT_ZERO, 0, 3 * C);
    EACH("attn.out_proj.weight", text_init ? INIT_NORMAL : INIT_UNIFORM, text_init ? proj_std : u1, C, C);
    EACH("attn.out_proj.bias", INIT_ZERO, 0, C);
    EACH("ln_2.weight", INIT_ONE, 0, C);
    EACH("ln_2.bias", INIT_ZERO, 0, C);
    EACH("mlp.c_fc.weight", text_init ? INIT_NORMAL : INIT_UNIFORM, text_init ? fc_std : u1, 4 * C, C);
    EACH("mlp.c_fc.bias", INIT_UNIFORM, u1, 4 * C);
    EACH("mlp.c_proj.weight", text_init ? INIT_NORMAL : INIT_UNIFORM, text_init ? proj_std : u4, C, 4 * C);
    EACH("mlp.c_proj.bias", INIT_UNIFORM, u4, C);
#undef EACH
    return 0;
}

/* The ModifiedResNet tower adds its tensors here (model/resnet.c). */
int resnet_params_add(const clip_config *cfg, param_table *t, clip_error *err);

int params_build(const clip_config *cfg, param_table *t, clip_error *err) {
    memset(t, 0, sizeof *t);
    int rc;
    int W = cfg->vision_width, E = cfg->embed_dim, Wt = cfg->text_width;
    if (cfg->vision_kind == CLIP_VISION_VIT) {
        int P = cfg->patch_size, G = cfg->image_size / P;
        float sc = powf((float)W, -0.5f);
        ADD("visual.conv1.weight", INIT_UNIFORM, 1.0f / sqrtf(3.0f * P * P), W, 3, P, P);
        ADD("visual.class_embedding", INIT_NORMAL, sc, W);
        ADD("visual.positional_embedding", INIT_NORMAL, sc, G * G + 1, W);
        ADD("visual.ln_pre.weight", INIT_ONE, 0, W);
        ADD("visual.ln_pre.bias", INIT_ZERO, 0, W);
        if ((rc = add_blocks(t, "visual.transformer.", cfg->vision_layers, W, 0, err))) return rc;
        ADD("visual.ln_post.weight", INIT_ONE, 0, W);
        ADD("visual.ln_post.bias", INIT_ZERO, 0, W);
        ADD("visual.proj", INIT_NORMAL, sc, W, E);
    } else {
        if ((rc = resnet_params_add(cfg, t, err))) return rc;
    }
    if (!Wt) return 0;   /* image tower only */
    ADD("token_embedding.weight", INIT_NORMAL, 0.02f, cfg->vocab_size, Wt);
    ADD("positional_embedding", INIT_NORMAL, 0.01f, cfg->context_length, Wt);
    if ((rc = add_blocks(t, "transformer.", cfg->text_layers, Wt, 1, err))) return rc;
    ADD("ln_final.weight", INIT_ONE, 0, Wt);
    ADD("ln_final.bias", INIT_ZERO, 0, Wt);
    ADD("text_projection", INIT_NORMAL, powf((float)Wt, -0.5f), Wt, E);
    ADD0("logit_scale", INIT_CONST, (float)log(1.0 / 0.07));
    return 0;
}

const param_entry *params_find(const param_table *t, const char *name) {
    for (int i = 0; i < t->n; i++) if (!strcmp(t->e[i].name, name)) return &t->e[i];
    return NULL;
}

static float *at(const param_table *t, float *block, const char *name) {
    const param_entry *e = params_find(t, name);
    return e ? block + e->offset : NULL;
}

static void bind_blocks(const param_table *t, float *block, const char *prefix, tf_weights *w) {
    char n[112];
#define B(field, suffix) snprintf(n, sizeof n, "%sresblocks.0." suffix, prefix); w->field = at(t, block, n);
    B(ln1_w, "ln_1.weight") B(ln1_b, "ln_1.bias") B(qkv_w, "attn.in_proj_weight") B(qkv_b, "attn.in_proj_bias")
    B(proj_w, "attn.out_proj.weight") B(proj_b, "attn.out_proj.bias") B(ln2_w, "ln_2.weight") B(ln2_b, "ln_2.bias")
    B(fc_w, "mlp.c_fc.weight") B(fc_b, "mlp.c_fc.bias") B(fcp_w, "mlp.c_proj.weight") B(fcp_b, "mlp.c_proj.bias")
#undef B
}

void params_bind(const clip_config *cfg, const param_table *t, float *block, clip_params *p) {
    memset(p, 0, sizeof *p);
    if (cfg->vision_kind == CLIP_VISION_VIT) {
        p->v_conv1 = at(t, block, "visual.conv1.weight");
        p->v_cls = at(t, block, "visual.class_embedding");
        p->v_pos = at(t, block, "visual.positional_embedding");
        p->v_ln_pre_w = at(t, block, "visual.ln_pre.weight");
        p->v_ln_pre_b = at(t, block, "visual.ln_pre.bias");
        bind_blocks(t, block, "visual.transformer.", &p->v_tf);
        p->v_ln_post_w = at(t, block, "visual.ln_post.weight");
        p->v_ln_post_b = at(t, block, "visual.ln_post.bias");
        p->v_proj = at(t, block, "visual.proj");
    }
    p->t_tok = at(t, block, "token_embedding.weight");
    p->t_pos = at(t, block, "positional_embedding");
    bind_blocks(t, block, "transformer.", &p->t_tf);
    p->t_ln_w = at(t, block, "ln_final.weight");
    p->t_ln_b = at(t, block, "ln_final.bias");
    p->t_proj = at(t, block, "text_projection");
    p->logit_scale = at(t, block, "logit_scale");
}

void params_table_free(param_table *t) { free(t->e); memset(t, 0, sizeof *t); }

void params_init(const param_table *t, float *block, uint64_t seed) {
    clip_rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < t->n; i++) {
        const param_entry *e = &t->e[i];
        float *x = block + e->offset, s = e->init_scale;
        float bound = s;
        if (e->init == INIT_XAVIER) bound = s;   /* scale already holds sqrt(6/(fan_in+fan_out)) */
        for (size_t j = 0; j < e->numel; j++) {
            switch (e->init) {
            case INIT_ZERO: x[j] = 0; break;
            case INIT_ONE: x[j] = 1; break;
            case INIT_CONST: x[j] = s; break;
            case INIT_NORMAL: x[j] = (float)(s * rng_normal(&r)); break;
            default: x[j] = (float)((2 * rng_uniform(&r) - 1) * bound); break;
            }
        }
    }
}
