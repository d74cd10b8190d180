/* Zero-shot classification as the CLIP paper does it: for each class, every template's text
 * embedding L2-normalised, averaged, and the mean normalised again; logits are
 * exp(logit_scale) (capped at 100) times image·class; softmax over classes. */
#ifndef CLIP_EVAL_ZEROSHOT_H
#define CLIP_EVAL_ZEROSHOT_H
#include "clip.h"

/* text_feat [n_classes * n_templates, D] (class-major, any scale) -> class_emb [n_classes, D]. */
void zeroshot_ensemble(const float *text_feat, int n_classes, int n_templates, int D, float *class_emb);
/* img [n, D] (any scale) x class_emb [C, D] -> probs [n, C]; logit_scale is the raw log value. */
void zeroshot_probs(const float *img, int n, const float *class_emb, int C, int D, float logit_scale, float *probs);
#endif
