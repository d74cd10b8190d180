/* clip_classifier: class embeddings built from prompt ensembles, saved as safetensors with the
 * labels in the metadata, and applied to image features. */
#include "eval/prompts.h"
#include "eval/zeroshot.h"
#include "io/safetensors.h"
#include "core/error.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct clip_classifier {
    int C, D;
    float logit_scale;
    char **labels;
    float *emb;    /* [C, D], unit rows */
};

void clip_classifier_free(clip_classifier *c) {
    if (!c) return;
    for (int i = 0; i < c->C; i++) free(c->labels ? c->labels[i] : NULL);
    free(c->labels);
    free(c->emb);
    free(c);
}

static clip_classifier *alloc_classifier(int C, int D, const char *const *labels, clip_error *err) {
    clip_classifier *c = calloc(1, sizeof *c);
    if (c) { c->labels = calloc(C, sizeof(char *)); c->emb = malloc((size_t)C * D * sizeof(float)); }
    if (!c || !c->labels || !c->emb) { clip_classifier_free(c); clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); return NULL; }
    c->C = C; c->D = D;
    for (int i = 0; labels && i < C; i++)
        if (!(c->labels[i] = strdup(labels[i]))) { clip_classifier_free(c); clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); return NULL; }
    return c;
}

clip_classifier *clip_classifier_build(clip_model *m, clip_tokenizer *tok, const char *const *labels, int n_labels,
                                       const char *const *templates, int n_templates, clip_error *err) {
    if (n_labels <= 0) { clip_fail(err, CLIP_ERR_INVALID, "no labels"); return NULL; }
    str_list tl = {(char **)templates, n_templates};
    if (prompts_check_templates(&tl, "templates", err)) return NULL;
    for (int i = 0; i < n_labels; i++)
        if (!labels[i] || !labels[i][0]) { clip_fail(err, CLIP_ERR_INVALID, "label %d is empty", i + 1); return NULL; }
    const clip_config *cfg = clip_model_get_config(m);
    int D = cfg->embed_dim, ctx = cfg->context_length, T = n_templates;
    clip_classifier *c = alloc_classifier(n_labels, D, labels, err);
    if (!c) return NULL;
    c->logit_scale = clip_model_logit_scale(m);
    float *feat = malloc((size_t)T * D * sizeof(float));
    int32_t *ids = malloc((size_t)T * ctx * sizeof(int32_t));
    char **prompts = calloc(T, sizeof(char *));
    int rc = (!feat || !ids || !prompts) ? clip_fail(err, CLIP_ERR_NOMEM, "out of memory") : 0;
    /* one class at a time: T prompts in a batch, then their ensemble */
    for (int k = 0; k < n_labels && !rc; k++) {
        for (int t = 0; t < T && !rc; t++) {
            free(prompts[t]);
            if (!(prompts[t] = prompts_fill(templates[t], labels[k]))) rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
        }
        if (!rc) rc = clip_tokenize_batch(tok, (const char *const *)prompts, T, ctx, 1, ids, err);
        if (!rc) rc = clip_encode_text(m, ids, T, feat, err);
        if (!rc) zeroshot_ensemble(feat, 1, T, D, c->emb + (size_t)k * D);
    }
    for (int t = 0; prompts && t < T; t++) free(prompts[t]);
    free(prompts); free(ids); free(feat);
    if (rc) { clip_classifier_free(c); return NULL; }
    return c;
}

int clip_classifier_num_classes(const clip_classifier *c) { return c->C; }
int clip_classifier_dim(const clip_classifier *c) { return c->D; }
const char *clip_classifier_label(const clip_classifier *c, int i) { return i >= 0 && i < c->C ? c->labels[i] : NULL; }
const float *clip_classifier_embeddings(const clip_classifier *c) { return c->emb; }

int clip_classify(const clip_classifier *c, const float *image_features, int n, float *probs, clip_error *err) {
    if (n < 0 || (n && (!image_features || !probs))) return clip_fail(err, CLIP_ERR_INVALID, "classify: bad arguments");
    zeroshot_probs(image_features, n, c->emb, c->C, c->D, c->logit_scale, probs);
    return 0;
}

int clip_classifier_save(const clip_classifier *c, const char *path, clip_error *err) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < c->C; i++) cJSON_AddItemToArray(arr, cJSON_CreateString(c->labels[i]));
    char *labels = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (!labels) return clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
    char scale[32];
    snprintf(scale, sizeof scale, "%.9g", c->logit_scale);
    const char *meta[6] = {"kind", "clip.c zero-shot classifier", "labels", labels, "logit_scale", scale};
    st_write_item item = {"class_embeddings", 2, {c->C, c->D}, c->emb};
    int rc = st_save(path, &item, 1, meta, 3, err);
    free(labels);
    return rc;
}

clip_classifier *clip_classifier_load(const char *path, clip_error *err) {
    st_file f;
    if (st_open(path, &f, err)) return NULL;
    clip_classifier *c = NULL;
    const st_tensor *t = st_find(&f, "class_embeddings");
    const char *labels = st_meta(&f, "labels"), *scale = st_meta(&f, "logit_scale");
    cJSON *arr = labels ? cJSON_Parse(labels) : NULL;
    if (!t || t->ndim != 2 || t->shape[0] < 1 || t->shape[1] < 1 || !cJSON_IsArray(arr) ||
        cJSON_GetArraySize(arr) != t->shape[0] || !scale) {
        clip_fail(err, CLIP_ERR_FORMAT, "%s: not a clip.c classifier file", path);
        goto done;
    }
    if (!(c = alloc_classifier((int)t->shape[0], (int)t->shape[1], NULL, err))) goto done;
    c->logit_scale = strtof(scale, NULL);
    for (int i = 0; i < c->C; i++) {
        const cJSON *s = cJSON_GetArrayItem(arr, i);
        if (!cJSON_IsString(s) || !(c->labels[i] = strdup(s->valuestring))) {
            clip_fail(err, CLIP_ERR_FORMAT, "%s: bad label list", path);
            clip_classifier_free(c);
            c = NULL;
            goto done;
        }
    }
    if (st_read_f32(t, c->emb, err)) { clip_classifier_free(c); c = NULL; }
done:
    cJSON_Delete(arr);
    st_close(&f);
    return c;
}
