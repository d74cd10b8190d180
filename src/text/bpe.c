/* Byte-level BPE as OpenAI's simple_tokenizer.py does it, on integer ids instead of strings.
 *
 * Vocabulary: OpenAI builds it as the 256 byte symbols (in bytes_to_unicode order), the same
 * with "</w>", one entry per merge (the two halves joined), <|startoftext|>, <|endoftext|>;
 * a Python dict keeps the last id of a repeated string, and so do we. HF's vocab.json gives
 * the same mapping directly.
 *
 * Merging: the reference repeatedly takes the lowest-ranked adjacent pair and merges every
 * occurrence of it, left to right, then looks again. We keep the symbols in a linked list and
 * the candidate pairs in a min-heap keyed by (rank, position): popping all entries of the
 * lowest rank in position order is that same left-to-right pass, and pairs created during a
 * pass wait until it ends. O(n log n) per word instead of O(n^2). */
#include "text/bpe.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "core/error.h"

int i32vec_push(i32vec *v, int32_t x) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        int32_t *p = realloc(v->p, cap * sizeof *p);
        if (!p) return -1;
        v->p = p; v->cap = cap;
    }
    v->p[v->n++] = x;
    return 0;
}

/* ---------------------------------------------------------------- bytes_to_unicode */
static int byte_order[256];   /* OpenAI's vocab order: printable bytes first, then the rest */
static uint32_t byte_cp[256];
static pthread_once_t byte_once = PTHREAD_ONCE_INIT;

static void init_bytes(void) {
    int n = 0, extra = 0;
    int printable[256] = {0};
    for (int b = '!'; b <= '~'; b++) printable[b] = 1;
    for (int b = 0xA1; b <= 0xAC; b++) printable[b] = 1;
    for (int b = 0xAE; b <= 0xFF; b++) printable[b] = 1;
    for (int b = 0; b < 256; b++) if (printable[b]) { byte_order[n++] = b; byte_cp[b] = (uint32_t)b; }
    for (int b = 0; b < 256; b++) if (!printable[b]) { byte_order[n++] = b; byte_cp[b] = 256u + (uint32_t)extra++; }
}

uint32_t bpe_byte_to_cp(int b) { pthread_once(&byte_once, init_bytes); return byte_cp[b & 255]; }

static int cp_to_byte(uint32_t cp) {   /* inverse; -1 if cp stands for no byte */
    if (cp < 256) return byte_cp[cp] == cp ? (int)cp : -1;
    for (int b = 0; b < 256; b++) if (byte_cp[b] == cp) return b;
    return -1;
}

/* ---------------------------------------------------------------- string -> id map */
typedef struct { const char *s; uint32_t len; int32_t id; } smap_e;
typedef struct { smap_e *e; uint64_t mask; } smap;

static uint64_t hash_bytes(const void *p, size_t n) {   /* FNV-1a, then a mix */
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) { h ^= s[i]; h *= 1099511628211ull; }
    h ^= h >> 29; h *= 0xbf58476d1ce4e5b9ull; h ^= h >> 32;
    return h;
}

static int smap_init(smap *m, size_t n) {
    size_t cap = 1;
    while (cap < n * 2) cap <<= 1;
    m->e = calloc(cap, sizeof *m->e);
    m->mask = cap - 1;
    return m->e ? 0 : -1;
}

static smap_e *smap_slot(const smap *m, const char *s, size_t len) {
    for (uint64_t i = hash_bytes(s, len) & m->mask;; i = (i + 1) & m->mask) {
        smap_e *e = &m->e[i];
        if (!e->s || (e->len == len && !memcmp(e->s, s, len))) return e;
    }
}

static int32_t smap_get(const smap *m, const char *s, size_t len) {
    smap_e *e = smap_slot(m, s, len);
    return e->s ? e->id : -1;
}

static void smap_put(smap *m, const char *s, size_t len, int32_t id) {   /* last one wins */
    smap_e *e = smap_slot(m, s, len);
    e->s = s; e->len = (uint32_t)len; e->id = id;
}

/* ---------------------------------------------------------------- merge table */
static inline uint64_t mhash(uint64_t k) { k *= 0x9E3779B97F4A7C15ull; return k ^ (k >> 31); }

static int merge_lookup(const clip_tokenizer *t, int32_t a, int32_t b, int32_t *res) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    for (uint64_t i = mhash(key) & t->mmask;; i = (i + 1) & t->mmask) {
        if (t->mkey[i] == key) { *res = t->mres[i]; return t->mrank[i]; }
        if (t->mkey[i] == UINT64_MAX) return -1;
    }
}

static int merge_init(clip_tokenizer *t, size_t n) {
    size_t cap = 1;
    while (cap < n * 2 + 16) cap <<= 1;
    t->mkey = malloc(cap * sizeof *t->mkey);
    t->mrank = malloc(cap * sizeof *t->mrank);
    t->mres = malloc(cap * sizeof *t->mres);
    if (!t->mkey || !t->mrank || !t->mres) return -1;
    memset(t->mkey, 0xFF, cap * sizeof *t->mkey);
    t->mmask = cap - 1;
    return 0;
}

static void merge_put(clip_tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t res) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint64_t i = mhash(key) & t->mmask;
    while (t->mkey[i] != UINT64_MAX && t->mkey[i] != key) i = (i + 1) & t->mmask;
    t->mkey[i] = key; t->mrank[i] = rank; t->mres[i] = res;
}

/* ---------------------------------------------------------------- loading */
typedef struct { const char *a; uint32_t alen; const char *b; uint32_t blen; } merge_line;

/* Splits the merges text as OpenAI does: lines [1, 1 + BPE_N_MERGES), each "left right". */
static int parse_merges(const char *txt, size_t len, merge_line **out, int *n_out, const char *where,
                        clip_error *err) {
    merge_line *m = malloc(BPE_N_MERGES * sizeof *m);
    if (!m) return clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", where);
    size_t pos = 0;
    int line = 0, n = 0;
    while (pos <= len && n < BPE_N_MERGES) {
        size_t e = pos;
        while (e < len && txt[e] != '\n') e++;
        if (line > 0) {
            size_t i = pos;
            while (i < e && (txt[i] == ' ' || txt[i] == '\t' || txt[i] == '\r')) i++;
            size_t a0 = i;
            while (i < e && txt[i] != ' ' && txt[i] != '\t' && txt[i] != '\r') i++;
            size_t a1 = i;
            while (i < e && (txt[i] == ' ' || txt[i] == '\t' || txt[i] == '\r')) i++;
            size_t b0 = i;
            while (i < e && txt[i] != ' ' && txt[i] != '\t' && txt[i] != '\r') i++;
            size_t b1 = i;
            while (i < e && (txt[i] == ' ' || txt[i] == '\t' || txt[i] == '\r')) i++;
            if (a1 == a0 && b1 == b0 && e >= len) break;   /* trailing empty line */
            if (a1 == a0 || b1 == b0 || i != e) {
                free(m);
                return clip_fail(err, CLIP_ERR_FORMAT, "%s: merges line %d is not two symbols", where, line + 1);
            }
            m[n].a = txt + a0; m[n].alen = (uint32_t)(a1 - a0);
            m[n].b = txt + b0; m[n].blen = (uint32_t)(b1 - b0);
            n++;
        }
        line++;
        pos = e + 1;
    }
    *out = m; *n_out = n;
    return 0;
}

/* Raw bytes of a token given in byte-level text (UTF-8 of bytes_to_unicode code points). */
static int set_token(clip_tokenizer *t, int32_t id, const char *s, size_t len) {
    char *raw = malloc(len + 1);
    if (!raw) return -1;
    size_t n = 0, i = 0;
    while (i < len) {
        if (len - i >= 4 && !memcmp(s + i, "</w>", 4)) { memcpy(raw + n, "</w>", 4); n += 4; i += 4; continue; }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0) { raw[n++] = s[i++]; continue; }
        int b = cp_to_byte((uint32_t)cp);
        if (b >= 0) raw[n++] = (char)b;
        else { memcpy(raw + n, s + i, (size_t)k); n += (size_t)k; }
        i += (size_t)k;
    }
    raw[n] = 0;
    free(t->tok[id]);
    t->tok[id] = raw;
    t->tok_len[id] = (uint32_t)n;
    return 0;
}

static int init_cache(clip_tokenizer *t) {
    for (int i = 0; i < BPE_CACHE_SHARDS; i++) {
        if (pthread_mutex_init(&t->cache[i].mu, NULL)) return -1;
        t->cache[i].e = NULL; t->cache[i].cap = t->cache[i].count = 0;
    }
    t->cache_ready = 1;
    return 0;
}

/* The part both loaders share: byte symbols, merge table. enc maps token text to id. */
static int finish_load(clip_tokenizer *t, const smap *enc, const merge_line *m, int nm, const char *where,
                       clip_error *err) {
    char buf[16];
    for (int b = 0; b < 256; b++) {
        int k = utf8proc_encode_char((utf8proc_int32_t)bpe_byte_to_cp(b), (utf8proc_uint8_t *)buf);
        t->byte_id[b] = smap_get(enc, buf, (size_t)k);
        memcpy(buf + k, "</w>", 4);
        t->byte_end_id[b] = smap_get(enc, buf, (size_t)k + 4);
        if (t->byte_id[b] < 0 || t->byte_end_id[b] < 0)
            return clip_fail(err, CLIP_ERR_FORMAT, "%s: the vocabulary lacks the symbol for byte 0x%02X", where, b);
    }
    t->sot = smap_get(enc, "<|startoftext|>", 15);
    t->eot = smap_get(enc, "<|endoftext|>", 13);
    if (t->sot < 0 || t->eot < 0)
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: the vocabulary lacks <|startoftext|> or <|endoftext|>", where);
    if (merge_init(t, (size_t)nm)) return clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", where);
    char *joined = malloc(4096);
    if (!joined) return clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", where);
    for (int r = 0; r < nm; r++) {
        int32_t a = smap_get(enc, m[r].a, m[r].alen), b = smap_get(enc, m[r].b, m[r].blen);
        if (a < 0 || b < 0) continue;   /* a pair of unknown symbols can never occur */
        if (m[r].alen + m[r].blen > 4096) { free(joined); return clip_fail(err, CLIP_ERR_FORMAT, "%s: merge %d too long", where, r); }
        memcpy(joined, m[r].a, m[r].alen);
        memcpy(joined + m[r].alen, m[r].b, m[r].blen);
        int32_t res = smap_get(enc, joined, m[r].alen + m[r].blen);
        if (res < 0) {
            free(joined);
            return clip_fail(err, CLIP_ERR_FORMAT, "%s: merge %d (\"%.*s %.*s\") makes a token the vocabulary lacks",
                             where, r + 1, (int)m[r].alen, m[r].a, (int)m[r].blen, m[r].b);
        }
        merge_put(t, a, b, r, res);
    }
    free(joined);
    if (init_cache(t)) return clip_fail(err, CLIP_ERR_NOMEM, "%s: cannot create the cache lock", where);
    return 0;
}

int bpe_load_openai(clip_tokenizer *t, const char *txt, size_t len, clip_error *err) {
    const char *where = "embedded vocabulary";
    pthread_once(&byte_once, init_bytes);
    merge_line *m = NULL;
    int nm = 0, rc = parse_merges(txt, len, &m, &nm, where, err);
    if (rc) return rc;
    int n = 512 + nm + 2;
    char *syms = malloc(512 * 8);   /* the 512 byte symbols as text */
    smap enc = {0};
    t->n_vocab = n;
    t->tok = calloc((size_t)n, sizeof *t->tok);
    t->tok_len = calloc((size_t)n, sizeof *t->tok_len);
    if (!syms || !t->tok || !t->tok_len || smap_init(&enc, (size_t)n)) {
        rc = clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", where);
        goto done;
    }
    int id = 0;
    for (int half = 0; half < 2; half++)
        for (int i = 0; i < 256; i++, id++) {
            char *s = syms + id * 8;
            int k = utf8proc_encode_char((utf8proc_int32_t)byte_cp[byte_order[i]], (utf8proc_uint8_t *)s);
            if (half) { memcpy(s + k, "</w>", 4); k += 4; }
            smap_put(&enc, s, (size_t)k, id);
            if (set_token(t, id, s, (size_t)k)) { rc = clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", where); goto done; }
        }
    /* merged tokens: stored as "a b" in the file; the token text is a+b */
    char **joined = calloc((size_t)nm, sizeof *joined);
    if (!joined) { rc = clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", where); goto done; }
    for (int r = 0; r < nm && !rc; r++, id++) {
        joined[r] = malloc(m[r].alen + m[r].blen + 1);
        if (!joined[r]) { rc = clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", where); break; }
        memcpy(joined[r], m[r].a, m[r].alen);
        memcpy(joined[r] + m[r].alen, m[r].b, m[r].blen);
        smap_put(&enc, joined[r], m[r].alen + m[r].blen, id);
        if (set_token(t, id, joined[r], m[r].alen + m[r].blen)) rc = clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", where);
    }
    if (!rc) {
        smap_put(&enc, "<|startoftext|>", 15, id);
        if (set_token(t, id++, "<|startoftext|>", 15)) rc = clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", where);
        smap_put(&enc, "<|endoftext|>", 13, id);
        if (!rc && set_token(t, id++, "<|endoftext|>", 13)) rc = clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", where);
    }
    if (!rc) rc = finish_load(t, &enc, m, nm, where, err);
    for (int r = 0; r < nm; r++) free(joined[r]);
    free(joined);
done:
    free(enc.e);
    free(syms);
    free(m);
    return rc;
}

int bpe_load_hf(clip_tokenizer *t, const char *vocab_json, const char *txt, size_t len, const char *where,
                clip_error *err) {
    pthread_once(&byte_once, init_bytes);
    cJSON *root = cJSON_Parse(vocab_json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return clip_fail(err, CLIP_ERR_FORMAT, "%s/vocab.json: not a JSON object", where);
    }
    int n = 0, rc = 0, count = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, root) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 1e7 ||
            it->valuedouble != (double)(int)it->valuedouble || !it->string) {
            cJSON_Delete(root);
            return clip_fail(err, CLIP_ERR_FORMAT, "%s/vocab.json: entry \"%s\" is not a token id", where,
                             it->string ? it->string : "?");
        }
        if ((int)it->valuedouble + 1 > n) n = (int)it->valuedouble + 1;
        count++;
    }
    merge_line *m = NULL;
    int nm = 0;
    smap enc = {0};
    t->n_vocab = n;
    t->tok = calloc((size_t)(n ? n : 1), sizeof *t->tok);
    t->tok_len = calloc((size_t)(n ? n : 1), sizeof *t->tok_len);
    if (!t->tok || !t->tok_len || smap_init(&enc, (size_t)count + 1)) {
        rc = clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", where);
        goto done;
    }
    cJSON_ArrayForEach(it, root) {
        int id = (int)it->valuedouble;
        smap_put(&enc, it->string, strlen(it->string), id);
        if (set_token(t, id, it->string, strlen(it->string))) { rc = clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", where); goto done; }
    }
    /* HF strips the text before splitting lines; a leading blank line would shift them. */
    while (len && (*txt == ' ' || *txt == '\n' || *txt == '\r' || *txt == '\t')) { txt++; len--; }
    char mwhere[600];
    snprintf(mwhere, sizeof mwhere, "%s/merges.txt", where);
    rc = parse_merges(txt, len, &m, &nm, mwhere, err);
    if (!rc) rc = finish_load(t, &enc, m, nm, where, err);
done:
    free(m);
    free(enc.e);   /* keys point into root: free the map before the JSON */
    cJSON_Delete(root);
    return rc;
}

void bpe_destroy(clip_tokenizer *t) {
    if (t->tok) for (int i = 0; i < t->n_vocab; i++) free(t->tok[i]);
    free(t->tok); free(t->tok_len);
    free(t->mkey); free(t->mrank); free(t->mres);
    for (int s = 0; s < BPE_CACHE_SHARDS; s++) {
        bpe_shard *sh = &t->cache[s];
        for (uint32_t i = 0; i < sh->cap; i++) free(sh->e[i].word);
        free(sh->e);
        if (t->cache_ready) pthread_mutex_destroy(&sh->mu);
    }
}

/* ---------------------------------------------------------------- the merge loop */
void bpe_scratch_free(bpe_scratch *s) {
    free(s->ids); free(s->prv); free(s->nxt); free(s->heap); free(s->pend);
    memset(s, 0, sizeof *s);
}

static int scratch_reserve(bpe_scratch *s, size_t n) {
    if (n <= s->cap) return 0;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < n) cap *= 2;
    int32_t *a = realloc(s->ids, cap * sizeof *a); if (!a) return -1; s->ids = a;
    a = realloc(s->prv, cap * sizeof *a); if (!a) return -1; s->prv = a;
    a = realloc(s->nxt, cap * sizeof *a); if (!a) return -1; s->nxt = a;
    /* each merge pops one entry and pushes at most two: the heap stays under 2n entries */
    uint64_t *h = realloc(s->heap, 2 * cap * sizeof *h); if (!h) return -1; s->heap = h;
    s->cap = cap;
    return 0;
}

static void heap_push(uint64_t *h, size_t *n, uint64_t x) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= x) break;
        h[i] = h[p]; i = p;
    }
    h[i] = x;
}

static uint64_t heap_pop(uint64_t *h, size_t *n) {
    uint64_t top = h[0], x = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (h[c] >= x) break;
        h[i] = h[c]; i = c;
    }
    if (*n) h[i] = x;
    return top;
}

int bpe_word_uncached(const clip_tokenizer *t, const unsigned char *w, size_t len, i32vec *out, bpe_scratch *s) {
    if (len == 0) return 0;
    if (len == 1) return i32vec_push(out, t->byte_end_id[w[0]]);
    if (len > INT32_MAX / 4 || scratch_reserve(s, len)) return -1;
    int32_t *ids = s->ids, *prv = s->prv, *nxt = s->nxt;
    uint64_t *heap = s->heap, *pend = s->pend;
    size_t nh = 0;
    for (size_t i = 0; i < len; i++) {
        ids[i] = i + 1 < len ? t->byte_id[w[i]] : t->byte_end_id[w[i]];
        prv[i] = (int32_t)i - 1;
        nxt[i] = i + 1 < len ? (int32_t)i + 1 : -1;
    }
    for (size_t i = 0; i + 1 < len; i++) {
        int32_t res, r = merge_lookup(t, ids[i], ids[i + 1], &res);
        if (r >= 0) heap_push(heap, &nh, ((uint64_t)r << 32) | i);
    }
    while (nh) {
        uint32_t rank = (uint32_t)(heap[0] >> 32);
        size_t np = 0;
        while (nh && (uint32_t)(heap[0] >> 32) == rank) {   /* one pass over this pair */
            int32_t p = (int32_t)(uint32_t)heap_pop(heap, &nh);
            int32_t q = nxt[p], res;
            if (q < 0 || ids[p] < 0) continue;
            if (merge_lookup(t, ids[p], ids[q], &res) != (int32_t)rank) continue;   /* stale */
            ids[p] = res;
            ids[q] = -1;   /* dead */
            nxt[p] = nxt[q];
            if (nxt[q] >= 0) prv[nxt[q]] = p;
            int32_t r2, d;
            if (np + 2 > s->pend_cap) {   /* pairs made during a pass wait for its end */
                size_t c = s->pend_cap ? s->pend_cap * 2 : 64;
                uint64_t *q = realloc(s->pend, c * sizeof *q);
                if (!q) return -1;
                s->pend = pend = q; s->pend_cap = c;
            }
            if (prv[p] >= 0 && (r2 = merge_lookup(t, ids[prv[p]], ids[p], &d)) >= 0)
                pend[np++] = ((uint64_t)r2 << 32) | (uint32_t)prv[p];
            if (nxt[p] >= 0 && (r2 = merge_lookup(t, ids[p], ids[nxt[p]], &d)) >= 0)
                pend[np++] = ((uint64_t)r2 << 32) | (uint32_t)p;
        }
        for (size_t k = 0; k < np; k++) heap_push(heap, &nh, pend[k]);
    }
    for (int32_t i = 0; i >= 0; i = nxt[i])
        if (i32vec_push(out, ids[i])) return -1;
    return 0;
}

/* ---------------------------------------------------------------- the cache */
int bpe_word(clip_tokenizer *t, const unsigned char *w, size_t len, i32vec *out, bpe_scratch *s) {
    if (len <= 1 || len > BPE_CACHE_MAX_WORD) return bpe_word_uncached(t, w, len, out, s);
    uint64_t h = hash_bytes(w, len);
    bpe_shard *sh = &t->cache[h & (BPE_CACHE_SHARDS - 1)];
    pthread_mutex_lock(&sh->mu);
    if (sh->cap) {
        for (uint64_t i = (h >> 8) & (sh->cap - 1);; i = (i + 1) & (sh->cap - 1)) {
            bpe_centry *e = &sh->e[i];
            if (!e->word) break;
            if (e->h == h && e->len == len && !memcmp(e->word, w, len)) {
                int rc = 0;
                for (uint32_t k = 0; k < e->n_ids && !rc; k++) rc = i32vec_push(out, e->ids[k]);
                pthread_mutex_unlock(&sh->mu);
                return rc;
            }
        }
    }
    pthread_mutex_unlock(&sh->mu);
    size_t start = out->n;
    if (bpe_word_uncached(t, w, len, out, s)) return -1;
    size_t nids = out->n - start;
    pthread_mutex_lock(&sh->mu);
    if (sh->count >= BPE_CACHE_SHARD_MAX) goto unlock;   /* full: stop growing */
    if ((sh->count + 1) * 2 > sh->cap) {                  /* grow to keep load <= 1/2 */
        uint32_t ncap = sh->cap ? sh->cap * 2 : 256;
        bpe_centry *ne = calloc(ncap, sizeof *ne);
        if (!ne) goto unlock;
        for (uint32_t i = 0; i < sh->cap; i++) {
            if (!sh->e[i].word) continue;
            uint64_t j = (sh->e[i].h >> 8) & (ncap - 1);
            while (ne[j].word) j = (j + 1) & (ncap - 1);
            ne[j] = sh->e[i];
        }
        free(sh->e);
        sh->e = ne; sh->cap = ncap;
    }
    uint64_t i = (h >> 8) & (sh->cap - 1);
    for (;; i = (i + 1) & (sh->cap - 1)) {
        bpe_centry *e = &sh->e[i];
        if (!e->word) break;
        if (e->h == h && e->len == len && !memcmp(e->word, w, len)) goto unlock;   /* raced */
    }
    char *blk = malloc(len + 8 + nids * sizeof(int32_t));
    if (!blk) goto unlock;
    bpe_centry *e = &sh->e[i];
    e->word = blk;
    memcpy(blk, w, len);
    e->ids = (int32_t *)(blk + ((len + 7) & ~(size_t)7));
    memcpy(e->ids, out->p + start, nids * sizeof(int32_t));
    e->h = h; e->len = (uint32_t)len; e->n_ids = (uint32_t)nids;
    sh->count++;
unlock:
    pthread_mutex_unlock(&sh->mu);
    return 0;
}
