/* CLIP's text cleaning, on code points: what OpenAI's simple_tokenizer.py does before it
 * splits text into words:
 *     ftfy.fix_text(text)  ->  html.unescape twice  ->  strip  ->  \s+ to ' '  ->  strip  ->  lower
 * with ftfy 6's default fixes that do not need mojibake detection (see docs/tokenizer.md). */
#ifndef CLIP_TEXT_CLEAN_H
#define CLIP_TEXT_CLEAN_H
#include <stddef.h>
#include <stdint.h>

/* A growable code point buffer. */
typedef struct { uint32_t *p; size_t n, cap; } u32vec;

int u32vec_reserve(u32vec *v, size_t n);   /* 0, or -1 when out of memory */
void u32vec_free(u32vec *v);

/* Scratch buffers reused across calls (one per thread). */
typedef struct { u32vec a, b, c; char *utf8; size_t utf8_cap; } text_scratch;
void text_scratch_free(text_scratch *s);

/* The whole cleaning pipeline; the result is in s->a (s->a.n code points).
 * Returns 0, or -1 when out of memory. */
int text_clean(const uint32_t *in, size_t n, text_scratch *s);

/* The pieces, exposed for tests. Each reads src and writes dst (dst may not alias src). */
void text_ftfy_fix_text(const uint32_t *src, size_t n, u32vec *dst, text_scratch *s, int *nomem);
int text_html_unescape(const uint32_t *src, size_t n, u32vec *dst);   /* Python html.unescape */
int text_lower(const uint32_t *src, size_t n, u32vec *dst);           /* Python str.lower */

/* Character classes as Python sees them. */
int text_py_isspace(uint32_t c);    /* str.isspace: White_Space plus U+001C..U+001F */
int text_re_space(uint32_t c);      /* the regex module's \s: White_Space */

#endif
