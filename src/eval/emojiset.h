/* Reading the prepared emoji data set (scripts/data/prepare.sh; layout in docs/data.md and
 * docs/eval.md): concepts.tsv, styles.tsv, one <style>.tsv per emoji style and tuxpaint.tsv.
 * Tables are UTF-8, tab-separated, with a header line starting with '#'; columns are found
 * by their header names, so added columns do not break the reader. */
#ifndef CLIP_EVAL_EMOJISET_H
#define CLIP_EVAL_EMOJISET_H
#include "clip.h"

typedef struct eset_style {
    char *name, *role, *shippable;   /* styles.tsv: role train/eval, shippable yes/no */
} eset_style;

typedef struct emoji_set {
    char *dir;
    int n_concepts;
    char **concept_id, **concept_split, **concept_label;   /* concepts.tsv order */
    int n_emoji;                     /* base emoji of all concepts, sorted by id */
    char **emoji_id;
    int *emoji_concept;
    int n_styles;
    eset_style *styles;              /* styles.tsv order */
} emoji_set;

/* A list of images: full paths (dir/relative path), the concept and base emoji of each
 * (indices into the set), and the split of its concept. */
typedef struct eset_images {
    int n;
    char **path;
    int *concept, *emoji;
    const char **split;              /* points into the set's concept_split */
} eset_images;

/* Opens DIR: it must hold VERSION (written last by prepare, so a set without it is
 * incomplete), concepts.tsv and styles.tsv. CLIP_ERR_IO names a missing directory or file. */
int eset_open(const char *dir, emoji_set *s, clip_error *err);
void eset_free(emoji_set *s);
/* Index of a concept id / base emoji id, or -1. */
int eset_concept_index(const emoji_set *s, const char *id);
int eset_emoji_index(const emoji_set *s, const char *id);
/* The base-variant images of DIR/<style>.tsv whose concept is in split (NULL: every split).
 * A missing table is CLIP_ERR_IO. */
int eset_style_images(const emoji_set *s, const char *style, const char *split, eset_images *out, clip_error *err);
/* The rows of DIR/tuxpaint.tsv whose caption matched an emoji label (concept_id filled),
 * all splits. A missing table is CLIP_ERR_IO. */
int eset_tuxpaint_images(const emoji_set *s, eset_images *out, clip_error *err);
void eset_images_free(eset_images *im);
#endif
