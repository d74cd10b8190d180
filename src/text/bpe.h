/* The byte-level BPE vocabulary and merges (OpenAI's simple_tokenizer.py / GPT-2 style), the
 * merge loop, and a per-word cache that concurrent callers may share (sharded, mutex-guarded). */
#ifndef CLIP_TEXT_BPE_H
#define CLIP_TEXT_BPE_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "clip.h"

extern const unsigned char clip_bpe_vocab_gz[];     /* vocab_data.c */
extern const uint64_t clip_bpe_vocab_gz_size;

#define BPE_N_MERGES (49152 - 256 - 2)   /* lines [1, 48895) of the merges file, as OpenAI */
#define BPE_CACHE_SHARDS 64
#define BPE_CACHE_SHARD_MAX 4096         /* entries per shard; then the shard stops growing */
#define BPE_CACHE_MAX_WORD 64            /* longer words are not cached */

typedef struct { int32_t *p; size_t n, cap; } i32vec;
int i32vec_push(i32vec *v, int32_t x);

typedef struct bpe_centry { uint64_t h; char *word; uint32_t len, n_ids; int32_t *ids; } bpe_centry;
typedef struct {
    pthread_mutex_t mu;
    bpe_centry *e;
    uint32_t cap, count;
} bpe_shard;

struct clip_tokenizer {
    int n_vocab;
    char **tok;            /* id -> raw bytes (byte-decoded token text, "</w>" kept literally) */
    uint32_t *tok_len;
    int32_t byte_id[256];  /* the initial symbol of byte b ... */
    int32_t byte_end_id[256];   /* ... and of byte b ending a word (b + "</w>") */
    int32_t sot, eot;
    uint64_t *mkey;        /* merge table: (left << 32 | right) -> rank, result; open addressing */
    int32_t *mrank, *mres;
    uint64_t mmask;
    bpe_shard cache[BPE_CACHE_SHARDS];
    int cache_ready;       /* the shard mutexes exist */
};

/* Per-thread scratch for bpe_word. */
typedef struct { int32_t *ids, *prv, *nxt; uint64_t *heap, *pend; size_t cap, pend_cap; } bpe_scratch;
void bpe_scratch_free(bpe_scratch *s);

/* Builds the tables from OpenAI's merges text (gz-decompressed) or from HF vocab.json +
 * merges.txt; fills tok. Returns 0 or a clip_status. */
int bpe_load_openai(clip_tokenizer *t, const char *merges, size_t len, clip_error *err);
int bpe_load_hf(clip_tokenizer *t, const char *vocab_json, const char *merges, size_t len,
                const char *where, clip_error *err);
void bpe_destroy(clip_tokenizer *t);

/* Appends the ids of one pre-token (its UTF-8 bytes, len >= 1), through the cache. */
int bpe_word(clip_tokenizer *t, const unsigned char *w, size_t len, i32vec *out, bpe_scratch *s);
/* The same without the cache (tests and fuzzing compare the two). */
int bpe_word_uncached(const clip_tokenizer *t, const unsigned char *w, size_t len, i32vec *out,
                      bpe_scratch *s);

/* GPT-2's bytes_to_unicode: the code point standing for byte b. */
uint32_t bpe_byte_to_cp(int b);

#endif
