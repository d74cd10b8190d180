/* CLIP's tokenizer: clip.tokenize of OpenAI's code, in C.
 *   UTF-8 -> code points -> text_clean (ftfy subset, html.unescape x2, whitespace, lower)
 *   -> the reference regex's pre-tokens -> bytes -> BPE ids -> [SOT] ids [EOT] in a context.
 * Design notes and behaviour on bad input: docs/tokenizer.md. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>
#include <zlib.h>
#include "clip.h"
#include "core/error.h"
#include "io/file.h"
#include "text/bpe.h"
#include "text/clean.h"

/* ---------------------------------------------------------------- loading */
static char *gunzip(const unsigned char *gz, size_t n, size_t *out_len) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return NULL;
    size_t cap = n * 2 + 1024, len = 0;
    char *out = malloc(cap);
    z.next_in = (unsigned char *)gz;
    z.avail_in = (uInt)n;
    int rc = Z_OK;
    while (out && rc != Z_STREAM_END) {
        if (len + 1 >= cap) {
            char *p = realloc(out, cap * 2);
            if (!p) { free(out); out = NULL; break; }
            out = p; cap *= 2;
        }
        z.next_out = (unsigned char *)out + len;
        z.avail_out = (uInt)(cap - 1 - len);
        rc = inflate(&z, Z_NO_FLUSH);
        len = cap - 1 - z.avail_out;
        if (rc != Z_OK && rc != Z_STREAM_END) { free(out); out = NULL; }
        else if (rc == Z_OK && z.avail_in == 0 && z.avail_out > 0) { free(out); out = NULL; }   /* truncated */
    }
    inflateEnd(&z);
    if (out) { out[len] = 0; *out_len = len; }
    return out;
}

static int is_file(const char *p) { struct stat st; return stat(p, &st) == 0 && S_ISREG(st.st_mode); }

static clip_tokenizer *tok_new(void) { return calloc(1, sizeof(clip_tokenizer)); }

clip_tokenizer *clip_tokenizer_load(const char *path, clip_error *err) {
    clip_error_clear(err);
    clip_tokenizer *t = tok_new();
    if (!t) { clip_fail(err, CLIP_ERR_NOMEM, "tokenizer: out of memory"); return NULL; }
    int rc;
    struct stat st;
    if (path && stat(path, &st) != 0) {
        free(t);
        clip_fail(err, CLIP_ERR_IO, "%s: no such file or directory", path);
        return NULL;
    }
    char vj[4096], mt[4096];
    int hf = 0;
    if (path && S_ISDIR(st.st_mode)) {
        snprintf(vj, sizeof vj, "%s/vocab.json", path);
        snprintf(mt, sizeof mt, "%s/merges.txt", path);
        hf = is_file(vj) && is_file(mt);
    }
    if (hf) {
        char *vjs = NULL, *mts = NULL;
        size_t vl, ml;
        rc = file_read_all(vj, 64u << 20, &vjs, &vl, err);
        if (!rc) rc = file_read_all(mt, 64u << 20, &mts, &ml, err);
        if (!rc) rc = bpe_load_hf(t, vjs, mts, ml, path, err);
        free(vjs); free(mts);
    } else if (path && S_ISREG(st.st_mode)) {   /* an OpenAI-style merges file, gzipped or not */
        char *raw = NULL, *txt = NULL;
        size_t rl, tl;
        rc = file_read_all(path, 256u << 20, &raw, &rl, err);
        if (!rc) {
            if (rl >= 2 && (unsigned char)raw[0] == 0x1f && (unsigned char)raw[1] == 0x8b) {
                txt = gunzip((unsigned char *)raw, rl, &tl);
                if (!txt) rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: not a valid gzip file", path);
            } else { txt = raw; tl = rl; raw = NULL; }
        }
        if (!rc) {
            rc = bpe_load_openai(t, txt, tl, err);
            if (rc && err) {   /* name the file rather than the embedded copy */
                char m[sizeof err->msg];
                memcpy(m, err->msg, sizeof m);
                snprintf(err->msg, sizeof err->msg, "%.200s: %.300s", path, m);
            }
        }
        free(raw); free(txt);
    } else {   /* NULL, or a model directory without HF tokenizer files: the embedded vocabulary */
        size_t tl;
        char *txt = gunzip(clip_bpe_vocab_gz, (size_t)clip_bpe_vocab_gz_size, &tl);
        rc = txt ? bpe_load_openai(t, txt, tl, err)
                 : clip_fail(err, CLIP_ERR_NOMEM, "embedded vocabulary: cannot decompress");
        free(txt);
    }
    if (rc) { clip_tokenizer_free(t); return NULL; }
    return t;
}

void clip_tokenizer_free(clip_tokenizer *t) {
    if (!t) return;
    bpe_destroy(t);
    free(t);
}

int clip_tokenizer_vocab_size(const clip_tokenizer *t) { return t ? t->n_vocab : 0; }
int clip_tokenizer_sot(const clip_tokenizer *t) { return t ? t->sot : -1; }
int clip_tokenizer_eot(const clip_tokenizer *t) { return t ? t->eot : -1; }

/* ---------------------------------------------------------------- UTF-8 in */
/* Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF). Returns the byte offset of
 * the first bad sequence, or (size_t)-1 when valid; -2 when out of memory. */
static size_t decode_utf8(const unsigned char *s, size_t n, u32vec *out) {
    out->n = 0;
    if (u32vec_reserve(out, n + 1)) return (size_t)-2;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { out->p[out->n++] = c; i++; continue; }
        int k;
        uint32_t cp, lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) { k = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { k = 2; cp = c & 0x0F; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
        else if (c >= 0xF0 && c <= 0xF4) { k = 3; cp = c & 0x07; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
        else return i;
        if (i + (size_t)k >= n) return i;
        for (int j = 1; j <= k; j++) {
            unsigned d = s[i + j];
            if (d < (j == 1 ? lo : 0x80) || d > (j == 1 ? hi : 0xBF)) return i;
            cp = (cp << 6) | (d & 0x3F);
        }
        out->p[out->n++] = cp;
        i += (size_t)k + 1;
    }
    return (size_t)-1;
}

/* ---------------------------------------------------------------- pre-tokenizer */
/* The reference regex (regex module, IGNORECASE), on lower-cased text:
 *   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * IGNORECASE details of the regex module: literals match any case partner, so U+017F (long
 * s) matches 's'. A one-item class [\p{L}] compiles to a plain property test (no case
 * partners), but the three-item negated class tests every case partner: U+0345 (a mark whose
 * partners are Greek iota) is in neither, so no alternative matches it and it is skipped
 * like a space. No other lower-case code point folds onto these patterns. */
static inline int is_skipped(uint32_t c) { return text_re_space(c) || c == 0x345; }

static inline int is_letter(uint32_t c) {
    if (c < 128) return (c | 32) >= 'a' && (c | 32) <= 'z';
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}

static inline int is_number(uint32_t c) {
    if (c < 128) return c >= '0' && c <= '9';
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

static inline int ci_eq(uint32_t c, char p) { return c == (uint32_t)p || (p == 's' && c == 0x17F); }

/* Length of a match of lit (ASCII) at s, or 0; *exact says whether it matched literally. */
static size_t match_lit(const uint32_t *s, size_t n, const char *lit, int *exact) {
    size_t k = 0;
    *exact = 1;
    for (; lit[k]; k++) {
        if (k >= n || !ci_eq(s[k], lit[k])) return 0;
        if (s[k] != (uint32_t)lit[k]) *exact = 0;
    }
    return k;
}

typedef struct {
    text_scratch ts;
    u32vec cps;
    bpe_scratch bs;
    unsigned char *wb;   /* one word as UTF-8 */
    size_t wcap;
} work;

static void work_free(work *w) {
    text_scratch_free(&w->ts);
    u32vec_free(&w->cps);
    bpe_scratch_free(&w->bs);
    free(w->wb);
    memset(w, 0, sizeof *w);
}

static int emit_word(clip_tokenizer *t, const uint32_t *s, size_t n, i32vec *out, work *w) {
    if (n * 4 > w->wcap) {
        size_t cap = n * 4 < 256 ? 256 : n * 4;
        unsigned char *p = realloc(w->wb, cap);
        if (!p) return -1;
        w->wb = p; w->wcap = cap;
    }
    size_t b = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x80) w->wb[b++] = (unsigned char)s[i];
        else b += (size_t)utf8proc_encode_char((utf8proc_int32_t)s[i], w->wb + b);
    }
    return bpe_word(t, w->wb, b, out, &w->bs);
}

/* Splits and encodes cleaned text; stops once out holds more than limit ids. */
static int pretokenize(clip_tokenizer *t, const uint32_t *s, size_t n, size_t limit, i32vec *out, work *w) {
    static const char *const contractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    size_t i = 0;
    while (i < n && out->n <= limit) {
        uint32_t c = s[i];
        size_t len = 0;
        int exact;
        if (c == '<') {
            if ((len = match_lit(s + i, n - i, "<|startoftext|>", &exact)) && exact) {
                if (i32vec_push(out, t->sot)) return -1;
                i += len; continue;
            }
            if (!len && (len = match_lit(s + i, n - i, "<|endoftext|>", &exact)) && exact) {
                if (i32vec_push(out, t->eot)) return -1;
                i += len; continue;
            }
            /* a long-s spelling matches the pattern but is no special token: BPE it */
        } else if (c == '\'') {
            for (int k = 0; k < 7 && !len; k++) len = match_lit(s + i, n - i, contractions[k], &exact);
        }
        if (!len) {
            if (is_letter(c)) {
                len = 1;
                while (i + len < n && is_letter(s[i + len])) len++;
            } else if (is_number(c)) {
                len = 1;
            } else if (is_skipped(c)) {
                i++;
                continue;
            } else {
                len = 1;
                while (i + len < n && !is_skipped(s[i + len]) && !is_letter(s[i + len]) && !is_number(s[i + len])) len++;
            }
        }
        if (emit_word(t, s + i, len, out, w)) return -1;
        i += len;
    }
    return 0;
}

/* ---------------------------------------------------------------- encoding */
/* Tokenizes one text into ids[ctx] (SOT .. EOT, unpadded); *n_ids gets the count. */
static int encode(clip_tokenizer *t, const char *text, size_t len, int ctx, int truncate, int32_t *ids,
                  int *n_ids, work *w, i32vec *body, const char *what, clip_error *err) {
    if (ctx < 2) return clip_fail(err, CLIP_ERR_INVALID, "context length %d: must be at least 2", ctx);
    size_t bad = decode_utf8((const unsigned char *)text, len, &w->cps);
    if (bad == (size_t)-2) return clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", what);
    if (bad != (size_t)-1)
        return clip_fail(err, CLIP_ERR_INVALID, "%s is not valid UTF-8 (byte 0x%02X at offset %zu)", what,
                         (unsigned char)text[bad], bad);
    if (text_clean(w->cps.p, w->cps.n, &w->ts)) return clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", what);
    body->n = 0;
    size_t limit = (size_t)ctx - 2;
    if (pretokenize(t, w->ts.a.p, w->ts.a.n, limit, body, w))
        return clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", what);
    if (body->n > limit && !truncate)
        return clip_fail(err, CLIP_ERR_INVALID, "%s is too long for context length %d (more than %zu tokens)",
                         what, ctx, limit);
    size_t m = body->n > limit ? limit : body->n;
    ids[0] = t->sot;
    if (m) memcpy(ids + 1, body->p, m * sizeof *ids);
    ids[m + 1] = t->eot;
    *n_ids = (int)m + 2;
    return 0;
}

int clip_tokenize(clip_tokenizer *t, const char *text, size_t len, int ctx, int truncate, int32_t *ids,
                  int *n_ids, clip_error *err) {
    clip_error_clear(err);
    if (!t || (!text && len) || !ids || !n_ids) return clip_fail(err, CLIP_ERR_INVALID, "clip_tokenize: NULL argument");
    work w;
    memset(&w, 0, sizeof w);
    i32vec body = {0};
    int rc = encode(t, text ? text : "", len, ctx, truncate, ids, n_ids, &w, &body, "text", err);
    work_free(&w);
    free(body.p);
    return rc;
}

int clip_tokenize_batch(clip_tokenizer *t, const char *const *texts, int n, int ctx, int truncate, int32_t *out,
                        clip_error *err) {
    clip_error_clear(err);
    if (!t || !out || n < 0 || (n && !texts)) return clip_fail(err, CLIP_ERR_INVALID, "clip_tokenize_batch: bad argument");
    if (ctx < 2) return clip_fail(err, CLIP_ERR_INVALID, "context length %d: must be at least 2", ctx);
    memset(out, 0, (size_t)n * (size_t)ctx * sizeof *out);
    work w;
    memset(&w, 0, sizeof w);
    i32vec body = {0};
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        char what[32];
        snprintf(what, sizeof what, "text %d", i);
        const char *s = texts[i] ? texts[i] : "";
        int m;
        rc = encode(t, s, strlen(s), ctx, truncate, out + (size_t)i * (size_t)ctx, &m, &w, &body, what, err);
    }
    work_free(&w);
    free(body.p);
    if (rc) memset(out, 0, (size_t)n * (size_t)ctx * sizeof *out);
    return rc;
}

/* ---------------------------------------------------------------- decoding */
/* OpenAI's decode: token texts joined, mapped back to bytes, decoded as UTF-8 with errors
 * replaced (one U+FFFD per maximal ill-formed subpart, as Python does), "</w>" -> " ".
 * Ids outside the vocabulary decode as U+FFFD. */
char *clip_detokenize(const clip_tokenizer *t, const int32_t *ids, int n) {
    if (!t || n < 0 || (n && !ids)) return NULL;
    size_t total = 1;
    for (int i = 0; i < n; i++)
        total += (ids[i] >= 0 && ids[i] < t->n_vocab && t->tok[ids[i]]) ? t->tok_len[ids[i]] : 3;
    char *raw = malloc(total), *out = malloc(total * 3);
    if (!raw || !out) { free(raw); free(out); return NULL; }
    size_t r = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] >= 0 && ids[i] < t->n_vocab && t->tok[ids[i]]) {
            memcpy(raw + r, t->tok[ids[i]], t->tok_len[ids[i]]);
            r += t->tok_len[ids[i]];
        } else { memcpy(raw + r, "\xEF\xBF\xBD", 3); r += 3; }
    }
    size_t o = 0, i = 0;
    const unsigned char *s = (const unsigned char *)raw;
    while (i < r) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c == '<' && r - i >= 4 && !memcmp(raw + i, "</w>", 4)) { out[o++] = ' '; i += 4; continue; }
            out[o++] = (char)c; i++; continue;
        }
        int k = 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) k = 1;
        else if (c >= 0xE0 && c <= 0xEF) { k = 2; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
        else if (c >= 0xF0 && c <= 0xF4) { k = 3; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
        int j = 1;
        for (; k && j <= k && i + (size_t)j < r; j++) {
            unsigned d = s[i + j];
            if (d < (j == 1 ? lo : 0x80u) || d > (j == 1 ? hi : 0xBFu)) break;
        }
        if (k && j == k + 1) { memcpy(out + o, raw + i, (size_t)k + 1); o += (size_t)k + 1; i += (size_t)k + 1; }
        else { memcpy(out + o, "\xEF\xBF\xBD", 3); o += 3; i += k ? (size_t)j : 1; }
    }
    out[o] = 0;
    free(raw);
    return out;
}
