/* Encoding many inputs in bounded memory: images (files) or texts are taken in chunks,
 * preprocessed or tokenized, encoded, and handed to a callback; a progress bar shows on a
 * terminal for long runs. Shared by embed, zeroshot, similarity and index. */
#ifndef CLIP_TOOL_STREAM_H
#define CLIP_TOOL_STREAM_H
#include "clip.h"

typedef struct cli_list { char **s; int n, cap; } cli_list;
int cli_list_push(cli_list *l, const char *s);
/* Appends every non-empty line of path ("-" = stdin). Returns 0 or prints and returns EXIT_BAD. */
int cli_list_read(cli_list *l, const char *path, const char *verb);
void cli_list_free(cli_list *l);

/* Called once per chunk: items [first, first+n); feat [n, D]; ok[i] = 0 where the item failed. */
typedef int (*cli_chunk_fn)(void *ud, int first, int n, const float *feat, const int *ok);

typedef struct cli_stream_opts {
    int chunk;            /* items per chunk (default 64) */
    int normalize;        /* L2-normalise features */
    int truncate;         /* texts longer than the context: truncate instead of failing */
    const clip_image_opts *image_opts;
    const char *verb;     /* for messages */
} cli_stream_opts;

/* Encodes images (is_text = 0, items are paths) or texts. Failed items are reported on stderr
 * ("clip VERB: FILE: why") and passed with ok = 0. Returns 0, or EXIT_BAD on a fatal error;
 * *n_failed counts skipped items. */
int cli_encode_stream(clip_model *m, clip_tokenizer *tok, const cli_list *items, int is_text, const cli_stream_opts *o,
                      cli_chunk_fn fn, void *ud, int *n_failed);
#endif
