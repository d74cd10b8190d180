/* Class names and prompt templates: OpenAI's public lists built into the library (data/prompts,
 * MIT), files of one entry per line, and filling a template's "{}" with a class name. */
#ifndef CLIP_EVAL_PROMPTS_H
#define CLIP_EVAL_PROMPTS_H
#include "clip.h"

typedef struct str_list { char **s; int n; } str_list;

/* Built-in sets: templates "simple" (1), "imagenet" (80), "cifar" (18), "emoji" (8, clip.c's own
 * for emoji art: docs/eval.md); labels "imagenet" (1000),
 * "cifar10" (10). Returns CLIP_ERR_INVALID for an unknown name. */
int prompts_builtin_templates(const char *name, str_list *out, clip_error *err);
int prompts_builtin_labels(const char *name, str_list *out, clip_error *err);
/* One entry per non-empty line (CR/LF stripped, surrounding spaces kept for templates). */
int prompts_load_lines(const char *path, str_list *out, clip_error *err);
/* Splits "a,b,c" (entries trimmed; empty entries are an error). */
int prompts_split_commas(const char *s, str_list *out, clip_error *err);
/* Each template must hold exactly one "{}". */
int prompts_check_templates(const str_list *t, const char *source, clip_error *err);
/* A malloc'd copy of tmpl with its "{}" replaced by label. */
char *prompts_fill(const char *tmpl, const char *label);
void str_list_free(str_list *l);
#endif
