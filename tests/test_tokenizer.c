/* The tokenizer against OpenAI's: every string of tokenizer_public.jsonl (made with OpenAI's
 * simple_tokenizer.py and ftfy 6.3.1) must give exactly its ids, unpadded and as
 * clip.tokenize(truncate=True) pads them; the six captions must give golden/tokens.npy.
 * Then bad input (invalid UTF-8, NUL bytes, empty text, a long line), the decoder, and the
 * cached BPE path against the uncached one. */
#include "testutil.h"
#include <cjson/cJSON.h>
#include <pthread.h>
#include "io/file.h"
#include "text/bpe.h"

static int hexval(char c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

static void check_jsonl(clip_tokenizer *tok) {
    char *buf; size_t len; clip_error e = {0};
    const char *path = "tests/data/tokenizer/tokenizer_public.jsonl";
    if (file_read_all(path, 64u << 20, &buf, &len, &e)) { CHECK(0, "%s", e.msg); return; }
    int lines = 0, exact = 0, sens = 0, sens_ok = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        if (!j) { CHECK(0, "line %d: bad JSON", lines + 1); continue; }
        lines++;
        const char *hex = cJSON_GetObjectItem(j, "text_utf8_hex")->valuestring;
        size_t n = strlen(hex) / 2;
        char *text = malloc(n + 1);
        for (size_t i = 0; i < n; i++) text[i] = (char)(hexval(hex[2 * i]) * 16 + hexval(hex[2 * i + 1]));
        text[n] = 0;
        cJSON *ids = cJSON_GetObjectItem(j, "ids"), *c77 = cJSON_GetObjectItem(j, "ctx77");
        int want_n = cJSON_GetArraySize(ids), sensitive = cJSON_IsTrue(cJSON_GetObjectItem(j, "ftfy_sensitive"));
        int ctx = want_n + 8, got_n = 0;
        int32_t *got = calloc((size_t)ctx, sizeof *got), pad[77];
        int rc = clip_tokenize(tok, text, n, ctx, 0, got, &got_n, &e);
        int ok = rc == 0 && got_n == want_n;
        for (int i = 0; ok && i < want_n; i++) ok = got[i] == cJSON_GetArrayItem(ids, i)->valueint;
        CHECK(ok, "line %d %s: ids differ (rc %d, %d ids, want %d)", lines, cJSON_Print(cJSON_GetObjectItem(j, "text")), rc, got_n, want_n);
        if (!ok && rc == 0) {
            fprintf(stderr, "  got :"); for (int i = 0; i < got_n; i++) fprintf(stderr, " %d", got[i]);
            fprintf(stderr, "\n  want:"); for (int i = 0; i < want_n; i++) fprintf(stderr, " %d", cJSON_GetArrayItem(ids, i)->valueint);
            fputc('\n', stderr);
        }
        /* padded, truncated as clip.tokenize(truncate=True) */
        const char *one[1] = {text};
        int zero_inside = memchr(text, 0, n) != NULL;   /* the batch API takes C strings */
        int ok77 = 1;
        if (!zero_inside) {
            rc = clip_tokenize_batch(tok, one, 1, 77, 1, pad, &e);
            ok77 = rc == 0;
            for (int i = 0; ok77 && i < 77; i++) ok77 = pad[i] == cJSON_GetArrayItem(c77, i)->valueint;
            CHECK(ok77, "line %d: ctx77 differs (%s)", lines, rc ? e.msg : "ids");
        }
        /* without truncation, too long is an error */
        rc = clip_tokenize(tok, text, n, 77, 0, pad, &got_n, &e);
        CHECK((rc != 0) == (want_n > 77), "line %d: too-long error %d for %d tokens", lines, rc, want_n);
        exact += ok && ok77;
        sens += sensitive; sens_ok += sensitive && ok && ok77;
        free(got); free(text);
        cJSON_Delete(j);
    }
    fprintf(stderr, "tokenizer_public.jsonl: %d/%d exact (ftfy-sensitive: %d/%d)\n", exact, lines, sens_ok, sens);
    CHECK(lines >= 270, "only %d lines read", lines);
    free(buf);
}

static void check_tokens_npy(clip_tokenizer *tok) {
    char *buf; size_t len; clip_error e = {0};
    if (file_read_all("tests/data/tokenizer/captions.txt", 1 << 20, &buf, &len, &e)) { CHECK(0, "%s", e.msg); return; }
    const char *caps[16]; int n = 0;
    for (char *l = strtok(buf, "\n"); l && n < 16; l = strtok(NULL, "\n")) caps[n++] = l;
    npy_array g;
    if (npy_load("tests/data/golden/tokens.npy", &g, &e) || npy_to_i32(&g, &e)) { CHECK(0, "%s", e.msg); free(buf); return; }
    CHECK(g.ndim == 2 && g.shape[0] == n && g.shape[1] == 77, "tokens.npy shape");
    int32_t out[16 * 77];
    CHECK(clip_tokenize_batch(tok, caps, n, 77, 0, out, &e) == 0, "%s", e.msg);
    if (g.count == (size_t)n * 77) CHECK(!memcmp(out, g.data, sizeof(int32_t) * 77 * (size_t)n), "tokens.npy differs");
    npy_free(&g);
    free(buf);
}

static int tok1(clip_tokenizer *tok, const char *s, size_t n, int32_t *ids, int *m, clip_error *e) {
    return clip_tokenize(tok, s, n, 77, 1, ids, m, e);
}

static void check_bad_input(clip_tokenizer *tok) {
    int32_t ids[77]; int m = -1; clip_error e = {0};
    /* empty and blank input: just the two markers */
    CHECK(tok1(tok, "", 0, ids, &m, &e) == 0 && m == 2 && ids[0] == 49406 && ids[1] == 49407, "empty");
    CHECK(tok1(tok, NULL, 0, ids, &m, &e) == 0 && m == 2, "NULL, 0");
    CHECK(tok1(tok, " \t\n", 3, ids, &m, &e) == 0 && m == 2, "blank");
    /* NUL bytes are text that ftfy deletes: "a\0b" is "ab" */
    int32_t ab[77]; int mab;
    CHECK(tok1(tok, "ab", 2, ab, &mab, &e) == 0, "ab");
    CHECK(tok1(tok, "a\0b", 3, ids, &m, &e) == 0 && m == mab && !memcmp(ids, ab, sizeof(int32_t) * (size_t)m), "NUL");
    /* invalid UTF-8: an error naming the offset, ids untouched beyond */
    const char *bad[] = {"ab\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "x\xe2\x82"};
    for (int i = 0; i < 6; i++) {
        int rc = tok1(tok, bad[i], strlen(bad[i]), ids, &m, &e);
        CHECK(rc == CLIP_ERR_INVALID && strstr(e.msg, "UTF-8"), "bad UTF-8 %d: rc %d %s", i, rc, e.msg);
    }
    CHECK(tok1(tok, "ok", 2, ids, &m, &(clip_error){0}) == 0, "good after bad");
    /* context checks */
    CHECK(clip_tokenize(tok, "a", 1, 1, 1, ids, &m, &e) == CLIP_ERR_INVALID, "ctx 1");
    CHECK(clip_tokenize(tok, "a b c", 5, 4, 0, ids, &m, &e) == CLIP_ERR_INVALID, "too long");
    CHECK(clip_tokenize(tok, "a b c", 5, 4, 1, ids, &m, &e) == 0 && m == 4 && ids[3] == 49407, "truncated");
    /* a 10 MB line: words, and one giant word; truncated output, bounded time */
    size_t big = 10u << 20;
    char *s = malloc(big);
    for (size_t i = 0; i < big; i++) s[i] = (i % 6 == 5) ? ' ' : "clips"[i % 6];
    CHECK(tok1(tok, s, big, ids, &m, &e) == 0 && m == 77 && ids[76] == 49407, "10 MB of words: %s", e.msg);
    CHECK(clip_tokenize(tok, s, big, 77, 0, ids, &m, &e) == CLIP_ERR_INVALID, "10 MB without truncation");
    memset(s, 'a', 1u << 20);
    CHECK(tok1(tok, s, 1u << 20, ids, &m, &e) == 0 && m == 77, "1 MB word: %s", e.msg);
    free(s);
}

static void check_decode(clip_tokenizer *tok) {
    int32_t ids[77]; int m; clip_error e = {0};
    const char *s = "A photo of a café, it's 2 dogs!";
    CHECK(tok1(tok, s, strlen(s), ids, &m, &e) == 0, "%s", e.msg);
    char *d = clip_detokenize(tok, ids, m);
    CHECK(d && !strcmp(d, "<|startoftext|>a photo of a café , it 's 2 dogs ! <|endoftext|>"), "decode: %s", d);
    free(d);
    int32_t odd[3] = {-1, 49408, 256 + 0xA9 - 0xA1 + 94};   /* out of range, and a lone byte */
    d = clip_detokenize(tok, odd, 3);
    CHECK(d && !strncmp(d, "\xEF\xBF\xBD\xEF\xBF\xBD", 6), "decode of bad ids: %s", d);
    free(d);
}

/* The cache must give what the merge loop gives, also under concurrent use. */
typedef struct { clip_tokenizer *tok; int bad; } thr_arg;
static void *thr(void *p) {
    thr_arg *a = p;
    static const char *words[] = {"photograph", "diagram", "supercalifragilistic", "zebra", "kubernetes", "ünïcödé"};
    bpe_scratch s = {0};
    i32vec x = {0}, y = {0};
    for (int it = 0; it < 2000; it++) {
        const char *w = words[it % 6];
        x.n = y.n = 0;
        bpe_word(a->tok, (const unsigned char *)w, strlen(w), &x, &s);
        bpe_word_uncached(a->tok, (const unsigned char *)w, strlen(w), &y, &s);
        if (x.n != y.n || memcmp(x.p, y.p, x.n * sizeof *x.p)) a->bad++;
    }
    bpe_scratch_free(&s); free(x.p); free(y.p);
    return NULL;
}

static void check_threads(clip_tokenizer *tok) {
    pthread_t th[4]; thr_arg a[4];
    for (int i = 0; i < 4; i++) { a[i].tok = tok; a[i].bad = 0; pthread_create(&th[i], NULL, thr, &a[i]); }
    for (int i = 0; i < 4; i++) { pthread_join(th[i], NULL); CHECK(a[i].bad == 0, "thread %d: cache differs", i); }
}

/* A Hugging Face vocab.json + merges.txt directory (a 3000-merge vocabulary; expected ids from
 * an independent Python re-implementation, see tests/data/tokenizer/hf-mini/README.md). */
static void check_hf(void) {
    clip_error e = {0};
    clip_tokenizer *hf = clip_tokenizer_load("tests/data/tokenizer/hf-mini", &e);
    CHECK(hf != NULL, "hf load: %s", e.msg);
    if (!hf) return;
    CHECK(clip_tokenizer_sot(hf) == 49406 && clip_tokenizer_eot(hf) == 49407, "hf specials");
    char *buf; size_t len;
    if (file_read_all("tests/data/tokenizer/hf-mini/expected.txt", 1 << 20, &buf, &len, &e)) { CHECK(0, "%s", e.msg); clip_tokenizer_free(hf); return; }
    int lines = 0;
    for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
        char *tab = strchr(l, '\t');
        if (!tab) continue;
        *tab = 0;
        int32_t ids[77]; int m = 0, ok = clip_tokenize(hf, l, strlen(l), 77, 0, ids, &m, &e) == 0;
        char *p = tab + 1;
        for (int i = 0; ok && *p; i++) {
            long v = strtol(p, &p, 10);
            ok = i < m && ids[i] == v;
            if (*p == 0) ok = ok && i == m - 1;
        }
        CHECK(ok, "hf: '%s'", l);
        lines++;
    }
    CHECK(lines == 5, "hf: %d lines", lines);
    free(buf);
    clip_tokenizer_free(hf);
}

int main(void) {
    clip_error e = {0};
    clip_tokenizer *tok = clip_tokenizer_load(NULL, &e);
    CHECK(tok != NULL, "load: %s", e.msg);
    if (!tok) TEST_END();
    CHECK(clip_tokenizer_vocab_size(tok) == 49408, "vocab %d", clip_tokenizer_vocab_size(tok));
    CHECK(clip_tokenizer_sot(tok) == 49406 && clip_tokenizer_eot(tok) == 49407, "specials");
    check_jsonl(tok);
    check_tokens_npy(tok);
    check_bad_input(tok);
    check_decode(tok);
    check_threads(tok);
    clip_tokenizer_free(tok);
    check_hf();
    /* a path that does not exist is an error */
    CHECK(clip_tokenizer_load("no/such/dir", &e) == NULL && e.status == CLIP_ERR_IO, "missing path");
    TEST_END();
}
