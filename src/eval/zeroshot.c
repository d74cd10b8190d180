#include "eval/zeroshot.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void zeroshot_ensemble(const float *text_feat, int n_classes, int n_templates, int D, float *class_emb) {
    float *tmp = malloc((size_t)D * sizeof(float));
    for (int c = 0; c < n_classes; c++) {
        double *acc = calloc(D, sizeof(double));
        for (int t = 0; t < n_templates; t++) {
            memcpy(tmp, text_feat + ((size_t)c * n_templates + t) * D, D * sizeof(float));
            clip_normalize(tmp, 1, D);
            for (int d = 0; d < D; d++) acc[d] += tmp[d];
        }
        float *out = class_emb + (size_t)c * D;
        for (int d = 0; d < D; d++) out[d] = (float)(acc[d] / n_templates);
        clip_normalize(out, 1, D);
        free(acc);
    }
    free(tmp);
}

void zeroshot_probs(const float *img, int n, const float *class_emb, int C, int D, float logit_scale, float *probs) {
    float scale = expf(logit_scale);
    if (scale > 100.0f) scale = 100.0f;
    float *x = malloc((size_t)D * sizeof(float));
    for (int i = 0; i < n; i++) {
        memcpy(x, img + (size_t)i * D, D * sizeof(float));
        clip_normalize(x, 1, D);
        float *p = probs + (size_t)i * C, mx = -INFINITY;
        for (int c = 0; c < C; c++) {
            const float *e = class_emb + (size_t)c * D;
            float s = 0;
            for (int d = 0; d < D; d++) s += x[d] * e[d];
            p[c] = scale * s;
            if (p[c] > mx) mx = p[c];
        }
        double sum = 0;
        for (int c = 0; c < C; c++) { p[c] = expf(p[c] - mx); sum += p[c]; }
        for (int c = 0; c < C; c++) p[c] = (float)(p[c] / sum);
    }
    free(x);
}
