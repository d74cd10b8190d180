/* Reads a checkpoint's architecture from tensor names and shapes, as OpenAI's build_model
 * does, then from config.json (Hugging Face) or our own safetensors metadata where present. */
#include "model/model.h"
#include "io/safetensors.h"
#include "core/error.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void clip_config_defaults(clip_config *c) {
    if (!c->context_length) c->context_length = 77;
    if (!c->vocab_size) c->vocab_size = 49408;
    if (!c->ln_eps) c->ln_eps = 1e-5f;
    if (!c->eos_token_id) c->eos_token_id = 49407;
    if (!c->text_heads && c->text_width) c->text_heads = c->text_width / 64 ? c->text_width / 64 : 1;
    if (!c->vision_heads && c->vision_width)
        c->vision_heads = c->vision_kind == CLIP_VISION_RESNET ? c->vision_width * 32 / 64 : (c->vision_width / 64 ? c->vision_width / 64 : 1);
}

/* Number of distinct block indices "prefix<N>." among the tensor names. */
static int count_blocks(const st_file *f, const char *prefix) {
    int maxi = -1;
    size_t pl = strlen(prefix);
    for (int i = 0; i < f->n; i++) {
        const char *nm = f->tensors[i].name;
        if (strncmp(nm, prefix, pl)) continue;
        char *end;
        long v = strtol(nm + pl, &end, 10);
        if (end != nm + pl && *end == '.' && v < 100000 && v > maxi) maxi = (int)v;
    }
    return maxi + 1;
}

static const st_tensor *need(const st_file *f, const char *name, int ndim, clip_error *err) {
    const st_tensor *t = st_find(f, name);
    if (!t) { clip_fail(err, CLIP_ERR_MISSING, "checkpoint has no tensor '%s'", name); return NULL; }
    if (ndim >= 0 && t->ndim != ndim) { clip_fail(err, CLIP_ERR_FORMAT, "tensor '%s' has %d dimensions, expected %d", name, t->ndim, ndim); return NULL; }
    return t;
}

static int json_int(const cJSON *o, const char *k, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v)) return 0;
    *out = v->valueint;
    return 1;
}

static int act_from_name(const char *s) {
    return (s && (!strcmp(s, "gelu") || !strcmp(s, "gelu_python") || !strcmp(s, "gelu_new"))) ? CLIP_ACT_GELU : CLIP_ACT_QUICKGELU;
}

static int from_openai(const st_file *f, clip_config *c, clip_error *err) {
    const st_tensor *t;
    if (st_find(f, "visual.proj")) {
        c->vision_kind = CLIP_VISION_VIT;
        if (!(t = need(f, "visual.conv1.weight", 4, err))) return err ? err->status : CLIP_ERR_MISSING;
        c->vision_width = (int)t->shape[0];
        c->patch_size = (int)t->shape[3];
        c->vision_layers = count_blocks(f, "visual.transformer.resblocks.");
        if (!(t = need(f, "visual.positional_embedding", 2, err))) return err ? err->status : CLIP_ERR_MISSING;
        int grid = (int)lround(sqrt((double)(t->shape[0] - 1)));
        c->image_size = grid * c->patch_size;
    } else if (st_find(f, "visual.attnpool.positional_embedding")) {
        c->vision_kind = CLIP_VISION_RESNET;
        char pre[32];
        c->vision_layers = 0;
        for (int b = 0; b < 4; b++) {
            snprintf(pre, sizeof pre, "visual.layer%d.", b + 1);
            c->rn_layers[b] = count_blocks(f, pre);
            c->vision_layers += c->rn_layers[b];
        }
        if (!(t = need(f, "visual.layer1.0.conv1.weight", 4, err))) return err ? err->status : CLIP_ERR_MISSING;
        c->vision_width = (int)t->shape[0];
        t = st_find(f, "visual.attnpool.positional_embedding");
        int ow = (int)lround(sqrt((double)(t->shape[0] - 1)));
        c->image_size = ow * 32;
    } else {
        return clip_fail(err, CLIP_ERR_MISSING, "checkpoint has no image tower (neither 'visual.proj' nor 'visual.attnpool.*')");
    }
    c->layout = CLIP_LAYOUT_OPENAI;
    c->activation = CLIP_ACT_QUICKGELU;
    if (!st_find(f, "text_projection") && !st_find(f, "token_embedding.weight")) {
        /* an image tower alone (e.g. a `visual.*` export): no text, no logit_scale */
        if ((t = st_find(f, "visual.proj")) && t->ndim == 2) c->embed_dim = (int)t->shape[1];
        else if ((t = st_find(f, "visual.attnpool.c_proj.weight")) && t->ndim == 2) c->embed_dim = (int)t->shape[0];
        goto meta;
    }
    if (!(t = need(f, "text_projection", 2, err))) return err ? err->status : CLIP_ERR_MISSING;
    c->embed_dim = (int)t->shape[1];
    if (!(t = need(f, "positional_embedding", 2, err))) return err ? err->status : CLIP_ERR_MISSING;
    c->context_length = (int)t->shape[0];
    if (!(t = need(f, "token_embedding.weight", 2, err))) return err ? err->status : CLIP_ERR_MISSING;
    c->vocab_size = (int)t->shape[0];
    if (!(t = need(f, "ln_final.weight", 1, err))) return err ? err->status : CLIP_ERR_MISSING;
    c->text_width = (int)t->shape[0];
    c->text_layers = count_blocks(f, "transformer.resblocks.");
meta:;
    /* our checkpoints (and the golden ones) carry OpenAI's CLIP(...) arguments as metadata */
    const char *meta = st_meta(f, "config");
    if (meta) {
        cJSON *j = cJSON_Parse(meta);
        if (j) {
            json_int(j, "transformer_heads", &c->text_heads);
            json_int(j, "vision_heads", &c->vision_heads);
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "activation");
            if (cJSON_IsString(a)) c->activation = act_from_name(a->valuestring);
            cJSON_Delete(j);
        }
    }
    const char *vh = st_meta(f, "vision_heads");
    if (vh) c->vision_heads = atoi(vh);
    return 0;
}

static int from_hf(const st_file *f, const char *config_json, clip_config *c, clip_error *err) {
    const st_tensor *t;
    c->layout = CLIP_LAYOUT_HF;
    c->vision_kind = CLIP_VISION_VIT;
    c->activation = CLIP_ACT_QUICKGELU;   /* CLIPConfig's default hidden_act */
    if (!(t = need(f, "vision_model.embeddings.patch_embedding.weight", 4, err))) return err ? err->status : CLIP_ERR_MISSING;
    c->vision_width = (int)t->shape[0];
    c->patch_size = (int)t->shape[3];
    if (!(t = need(f, "vision_model.embeddings.position_embedding.weight", 2, err))) return err ? err->status : CLIP_ERR_MISSING;
    c->image_size = (int)lround(sqrt((double)(t->shape[0] - 1))) * c->patch_size;
    c->vision_layers = count_blocks(f, "vision_model.encoder.layers.");
    if (!(t = need(f, "text_model.embeddings.token_embedding.weight", 2, err))) return err ? err->status : CLIP_ERR_MISSING;
    c->vocab_size = (int)t->shape[0];
    c->text_width = (int)t->shape[1];
    if (!(t = need(f, "text_model.embeddings.position_embedding.weight", 2, err))) return err ? err->status : CLIP_ERR_MISSING;
    c->context_length = (int)t->shape[0];
    c->text_layers = count_blocks(f, "text_model.encoder.layers.");
    if (!(t = need(f, "text_projection.weight", 2, err))) return err ? err->status : CLIP_ERR_MISSING;
    c->embed_dim = (int)t->shape[0];
    if (config_json) {
        cJSON *j = cJSON_Parse(config_json);
        if (!j) return clip_fail(err, CLIP_ERR_FORMAT, "config.json is not valid JSON");
        const cJSON *tc = cJSON_GetObjectItemCaseSensitive(j, "text_config");
        const cJSON *vc = cJSON_GetObjectItemCaseSensitive(j, "vision_config");
        if (cJSON_IsObject(tc)) {
            json_int(tc, "num_attention_heads", &c->text_heads);
            json_int(tc, "eos_token_id", &c->eos_token_id);
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(tc, "hidden_act");
            if (cJSON_IsString(a)) c->activation = act_from_name(a->valuestring);
            const cJSON *eps = cJSON_GetObjectItemCaseSensitive(tc, "layer_norm_eps");
            if (cJSON_IsNumber(eps)) c->ln_eps = (float)eps->valuedouble;
        }
        if (cJSON_IsObject(vc)) json_int(vc, "num_attention_heads", &c->vision_heads);
        cJSON_Delete(j);
    } else {
        c->eos_token_id = 2;   /* no config: the legacy argmax rule */
    }
    return 0;
}

static int check(const clip_config *c, clip_error *err) {
    if (c->vision_width <= 0 || c->embed_dim <= 0 || c->vision_layers <= 0 || c->image_size <= 0 ||
        (c->text_width && (c->text_layers <= 0 || c->context_length <= 0 || c->vocab_size <= 0)))
        return clip_fail(err, CLIP_ERR_FORMAT, "checkpoint describes an empty or invalid architecture");
    if (c->text_width && (c->text_heads <= 0 || c->text_width % c->text_heads))
        return clip_fail(err, CLIP_ERR_FORMAT, "text width %d is not divisible by %d heads", c->text_width, c->text_heads);
    if (c->vision_heads <= 0 || (c->vision_kind == CLIP_VISION_VIT && c->vision_width % c->vision_heads))
        return clip_fail(err, CLIP_ERR_FORMAT, "vision width %d is not divisible by %d heads", c->vision_width, c->vision_heads);
    if (c->vision_kind == CLIP_VISION_VIT && (c->patch_size <= 0 || c->image_size % c->patch_size))
        return clip_fail(err, CLIP_ERR_FORMAT, "image size %d is not a multiple of patch size %d", c->image_size, c->patch_size);
    return 0;
}

int config_from_checkpoint(const st_file *f, const char *config_json, clip_config *c, clip_error *err) {
    memset(c, 0, sizeof *c);
    int rc = (st_find(f, "text_model.embeddings.token_embedding.weight") || st_find(f, "vision_model.embeddings.patch_embedding.weight"))
                 ? from_hf(f, config_json, c, err) : from_openai(f, c, err);
    if (rc) return rc;
    clip_config_defaults(c);
    return check(c, err);
}

int clip_config_from_name(const char *name, clip_config *c, clip_error *err) {
    static const struct { const char *name; int kind, img, patch, vw, vl, tw, tl, embed; int rn[4]; } ARCH[] = {
        {"ViT-B-32", 0, 224, 32, 768, 12, 512, 12, 512, {0}},
        {"ViT-B-16", 0, 224, 16, 768, 12, 512, 12, 512, {0}},
        {"ViT-L-14", 0, 224, 14, 1024, 24, 768, 12, 768, {0}},
        {"ViT-L-14-336", 0, 336, 14, 1024, 24, 768, 12, 768, {0}},
        {"RN50", 1, 224, 0, 64, 0, 512, 12, 1024, {3, 4, 6, 3}},
        {"RN101", 1, 224, 0, 64, 0, 512, 12, 512, {3, 4, 23, 3}},
        {"RN50x4", 1, 288, 0, 80, 0, 640, 12, 640, {4, 6, 10, 6}},
        {"RN50x16", 1, 384, 0, 96, 0, 768, 12, 768, {6, 8, 18, 8}},
        {"RN50x64", 1, 448, 0, 128, 0, 1024, 12, 1024, {3, 15, 36, 10}},
        /* small ones for CPU training */
        {"ViT-S-64", 0, 64, 8, 256, 6, 256, 6, 256, {0}},
        {"ViT-T-32", 0, 32, 4, 128, 4, 128, 4, 128, {0}},
    };
    for (size_t i = 0; i < sizeof ARCH / sizeof ARCH[0]; i++) {
        if (strcmp(ARCH[i].name, name)) continue;
        memset(c, 0, sizeof *c);
        c->vision_kind = ARCH[i].kind;
        c->image_size = ARCH[i].img;
        c->patch_size = ARCH[i].patch;
        c->vision_width = ARCH[i].vw;
        c->vision_layers = ARCH[i].vl;
        memcpy(c->rn_layers, ARCH[i].rn, sizeof c->rn_layers);
        if (ARCH[i].kind) c->vision_layers = ARCH[i].rn[0] + ARCH[i].rn[1] + ARCH[i].rn[2] + ARCH[i].rn[3];
        c->text_width = ARCH[i].tw;
        c->text_layers = ARCH[i].tl;
        c->embed_dim = ARCH[i].embed;
        c->text_heads = ARCH[i].tw / 64;
        clip_config_defaults(c);
        return 0;
    }
    return clip_fail(err, CLIP_ERR_INVALID, "unknown architecture '%s' (known: ViT-B-32, ViT-B-16, ViT-L-14, ViT-L-14-336, RN50, RN101, RN50x4, RN50x16, RN50x64, ViT-S-64, ViT-T-32)", name);
}
