/* clip tokenize: CLIP BPE token ids of texts (SPEC.md), and --decode for the way back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "io/npy.h"

static const char *USAGE =
    "clip tokenize [--context N] [--truncate] [--vocab PATH] [-o OUT.npy] [TEXT...]\n"
    "       clip tokenize --decode [--vocab PATH] [IDS...]";

static void help(void) {
    printf("usage: %s\n\n"
           "Tokenizes each TEXT, or each line of standard input when none is given, exactly as\n"
           "OpenAI's clip.tokenize does, and prints one line per input: the token ids from\n"
           "<|startoftext|> (49406) to <|endoftext|> (49407) inclusive, without padding.\n\n"
           "  --context N    context length (default 77)\n"
           "  --truncate     cut texts longer than the context (the last id is <|endoftext|>);\n"
           "                 without it a text that is too long is an error\n"
           "  -o OUT.npy     write int32 [N, N_CTX] zero-padded as clip.tokenize returns it,\n"
           "                 instead of printing\n"
           "  --vocab PATH   a directory with Hugging Face vocab.json + merges.txt, or an OpenAI\n"
           "                 merges file (default: OpenAI's vocabulary, built in)\n"
           "  --decode       read token ids (space- or comma-separated) instead, print the text\n",
           USAGE);
}

typedef struct { char **items; size_t *lens; int n, cap; } textlist;

static int add(textlist *l, const char *s, size_t len) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        char **it = realloc(l->items, (size_t)cap * sizeof *it);
        size_t *ln = realloc(l->lens, (size_t)cap * sizeof *ln);
        if (it) l->items = it;
        if (ln) l->lens = ln;
        if (!it || !ln) return -1;
        l->cap = cap;
    }
    char *c = malloc(len + 1);
    if (!c) return -1;
    memcpy(c, s, len);
    c[len] = 0;
    l->items[l->n] = c;
    l->lens[l->n++] = len;
    return 0;
}

static void list_free(textlist *l) {
    for (int i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items); free(l->lens);
}

static int decode_line(clip_tokenizer *tok, const char *s, const char *what) {
    int32_t *ids = NULL;
    int n = 0, cap = 0;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\r' || *p == '[' || *p == ']') p++;
        if (!*p) break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 0x7fffffff) {
            free(ids);
            return cli_fail("tokenize", "%s: '%.40s' is not a token id", what, p);
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            int32_t *q = realloc(ids, (size_t)cap * sizeof *q);
            if (!q) { free(ids); return cli_fail("tokenize", "out of memory"); }
            ids = q;
        }
        ids[n++] = (int32_t)v;
        p = end;
    }
    char *text = clip_detokenize(tok, ids, n);
    free(ids);
    if (!text) return cli_fail("tokenize", "out of memory");
    printf("%s\n", text);
    free(text);
    return 0;
}

int cmd_tokenize(int argc, char **argv) {
    int ctx = 77, truncate = 0, decode = 0;
    const char *out = NULL, *vocab = NULL;
    textlist texts = {0};
    int from_args = 0, rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); list_free(&texts); return 0; }
        if (!strcmp(a, "--")) {
            for (i++; i < argc; i++, from_args = 1) if (add(&texts, argv[i], strlen(argv[i]))) return cli_fail("tokenize", "out of memory");
            break;
        }
        if (!strcmp(a, "--truncate")) { truncate = 1; continue; }
        if (!strcmp(a, "--decode")) { decode = 1; continue; }
        if (!strcmp(a, "--context") || !strcmp(a, "-o") || !strcmp(a, "--vocab")) {
            if (i + 1 >= argc) { list_free(&texts); return cli_usage("tokenize", USAGE, "%s needs a value", a); }
            const char *v = argv[++i];
            if (!strcmp(a, "--context")) {
                if (cli_parse_int(v, 2, 1 << 20, &ctx)) { list_free(&texts); return cli_usage("tokenize", USAGE, "--context: '%s' is not an integer in [2, 1048576]", v); }
            } else if (!strcmp(a, "-o")) out = v;
            else vocab = v;
            continue;
        }
        if (a[0] == '-' && a[1]) { list_free(&texts); return cli_usage("tokenize", USAGE, "unknown option '%s'", a); }
        if (add(&texts, a, strlen(a))) return cli_fail("tokenize", "out of memory");
        from_args = 1;
    }
    if (decode && out) { list_free(&texts); return cli_usage("tokenize", USAGE, "--decode prints text; it takes no -o"); }
    if (!from_args) {   /* one text per line of standard input */
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) >= 0) {
            if (n > 0 && line[n - 1] == '\n') n--;
            if (add(&texts, line, (size_t)n)) { free(line); list_free(&texts); return cli_fail("tokenize", "out of memory"); }
        }
        free(line);
    }
    clip_error err = {0};
    clip_tokenizer *tok = clip_tokenizer_load(vocab, &err);
    if (!tok) { list_free(&texts); return cli_fail("tokenize", "%s", err.msg); }
    char what[64];
    if (decode) {
        for (int i = 0; i < texts.n && !rc; i++) {
            snprintf(what, sizeof what, from_args ? "argument %d" : "line %d", i + 1);
            rc = decode_line(tok, texts.items[i], what);
        }
        goto done;
    }
    int32_t *all = calloc((size_t)(texts.n ? texts.n : 1) * (size_t)ctx, sizeof *all);
    if (!all) { rc = cli_fail("tokenize", "out of memory"); goto done; }
    for (int i = 0; i < texts.n; i++) {
        int m = 0;
        int32_t *row = all + (size_t)i * (size_t)ctx;
        if (clip_tokenize(tok, texts.items[i], texts.lens[i], ctx, truncate, row, &m, &err)) {
            snprintf(what, sizeof what, from_args ? "argument %d" : "line %d", i + 1);
            rc = cli_fail("tokenize", "%s: %s", what, err.msg);
            break;
        }
        if (!out) {
            for (int k = 0; k < m; k++) printf(k ? " %d" : "%d", row[k]);
            putchar('\n');
        }
    }
    if (!rc && out) {
        int64_t shape[2] = {texts.n, ctx};
        if (npy_save(out, NPY_I4, 2, shape, all, &err)) rc = cli_fail("tokenize", "%s", err.msg);
    }
    free(all);
done:
    clip_tokenizer_free(tok);
    list_free(&texts);
    if (fflush(stdout)) rc = cli_fail("tokenize", "cannot write standard output");
    return rc;
}
