/* libFuzzer target: any bytes through clip_tokenize (with and without truncation, small and
 * default contexts) and the decoder; the cached BPE must agree with the uncached one. */
#include <stdlib.h>
#include <string.h>
#include "clip.h"
#include "text/bpe.h"

static clip_tokenizer *tok;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tok) {
        clip_error e;
        tok = clip_tokenizer_load(NULL, &e);
        if (!tok) abort();
    }
    int32_t ids[77];
    int n = 0;
    clip_error e;
    int rc = clip_tokenize(tok, (const char *)data, size, 77, 1, ids, &n, &e);
    if (rc == 0) {
        if (n < 2 || n > 77 || ids[0] != 49406 || ids[n - 1] != 49407) abort();
        char *s = clip_detokenize(tok, ids, n);
        if (!s) abort();
        free(s);
    } else if (rc != CLIP_ERR_INVALID) abort();
    int32_t small[8];
    int m = 0;
    int rc2 = clip_tokenize(tok, (const char *)data, size, 8, 0, small, &m, &e);
    if (rc == 0 && rc2 == 0 && (m > n || memcmp(small, ids, (size_t)(m - 1) * sizeof *ids))) abort();
    /* raw bytes as one word: cache vs merge loop */
    if (size > 0 && size <= 64) {
        bpe_scratch s = {0};
        i32vec a = {0}, b = {0};
        bpe_word(tok, data, size, &a, &s);
        bpe_word(tok, data, size, &a, &s);
        bpe_word_uncached(tok, data, size, &b, &s);
        if (a.n != 2 * b.n || memcmp(a.p, b.p, b.n * sizeof *b.p) || memcmp(a.p + b.n, b.p, b.n * sizeof *b.p)) abort();
        bpe_scratch_free(&s); free(a.p); free(b.p);
    }
    /* arbitrary ids through the decoder */
    if (size >= 4) {
        char *s = clip_detokenize(tok, (const int32_t *)(const void *)data, (int)(size / 4));
        if (!s) abort();
        free(s);
    }
    return 0;
}
