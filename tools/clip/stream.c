#include "stream.h"
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_list_push(cli_list *l, const char *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->s, cap * sizeof *v);
        if (!v) return -1;
        l->s = v; l->cap = cap;
    }
    if (!(l->s[l->n] = strdup(s))) return -1;
    l->n++;
    return 0;
}

void cli_list_free(cli_list *l) {
    for (int i = 0; i < l->n; i++) free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

int cli_list_read(cli_list *l, const char *path, const char *verb) {
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) return cli_fail(verb, "%s: cannot open", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0) continue;
        if ((size_t)n != strlen(line)) { rc = cli_fail(verb, "%s: a line holds a NUL byte", path); break; }
        if (cli_list_push(l, line)) { rc = cli_fail(verb, "out of memory"); break; }
    }
    if (!rc && ferror(f)) rc = cli_fail(verb, "%s: read error", path);
    free(line);
    if (f != stdin) fclose(f);
    return rc;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void progress(int done, int total, double t0, int final) {
    double dt = now() - t0, rate = dt > 0 ? done / dt : 0;
    int w = 30, fill = total ? (int)((double)done / total * w) : w;
    char bar[64];
    for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
    bar[w] = 0;
    fprintf(stderr, "\r[%s] %d/%d  %.1f/s  ETA %.0fs ", bar, done, total, rate, rate > 0 ? (total - done) / rate : 0.0);
    if (final) fputc('\n', stderr);
    fflush(stderr);
}

int cli_encode_stream(clip_model *m, clip_tokenizer *tok, const cli_list *items, int is_text, const cli_stream_opts *o,
                      cli_chunk_fn fn, void *ud, int *n_failed) {
    const clip_config *c = clip_model_get_config(m);
    int chunk = o->chunk > 0 ? o->chunk : 64, D = c->embed_dim, S = c->image_size, ctx = c->context_length;
    int show = isatty(2) && items->n > chunk;
    float *feat = malloc((size_t)chunk * D * sizeof(float));
    float *px = is_text ? NULL : malloc((size_t)chunk * 3 * S * S * sizeof(float));
    int32_t *tokens = is_text ? calloc((size_t)chunk * ctx, sizeof(int32_t)) : NULL;
    int *ok = malloc(chunk * sizeof(int)), *st = malloc(chunk * sizeof(int));
    clip_error *errs = calloc(chunk, sizeof(clip_error));
    int rc = 0;
    *n_failed = 0;
    if (!feat || (!px && !tokens) || !ok || !st || !errs) { rc = cli_fail(o->verb, "out of memory"); goto done; }
    double t0 = now();
    for (int first = 0; first < items->n && !rc; first += chunk) {
        int n = items->n - first < chunk ? items->n - first : chunk;
        clip_error e = {0};
        /* failed items are compacted away for the encoder, then spread back */
        int *map = st;
        int good = 0;
        if (is_text) {
            for (int i = 0; i < n; i++) {
                int nid;
                ok[i] = clip_tokenize(tok, items->s[first + i], strlen(items->s[first + i]), ctx, o->truncate,
                                      tokens + (size_t)good * ctx, &nid, &errs[i]) == 0;
                if (ok[i]) {
                    memset(tokens + (size_t)good * ctx + nid, 0, (ctx - nid) * sizeof(int32_t));
                    map[good++] = i;
                } else {
                    fprintf(stderr, "clip %s: text %d: %s\n", o->verb, first + i + 1, errs[i].msg);
                }
            }
            if (good && clip_encode_text(m, tokens, good, feat, &e)) { rc = cli_fail(o->verb, "%s", e.msg); break; }
        } else {
            clip_preprocess_files((const char *const *)items->s + first, n, S, o->image_opts, px, NULL, st, errs, 0, &e);
            for (int i = 0; i < n; i++) {
                ok[i] = st[i] == 0;
                if (!ok[i]) fprintf(stderr, "clip %s: %s\n", o->verb, errs[i].msg);
            }
            for (int i = 0; i < n; i++)
                if (ok[i]) {
                    if (good != i) memcpy(px + (size_t)good * 3 * S * S, px + (size_t)i * 3 * S * S, (size_t)3 * S * S * sizeof(float));
                    map[good++] = i;
                }
            if (good && clip_encode_image(m, px, good, feat, &e)) { rc = cli_fail(o->verb, "%s", e.msg); break; }
        }
        /* spread rows back to their item positions (from the end, so nothing is overwritten) */
        for (int g = good - 1; g >= 0; g--)
            if (map[g] != g) memcpy(feat + (size_t)map[g] * D, feat + (size_t)g * D, D * sizeof(float));
        for (int i = 0; i < n; i++) if (!ok[i]) { memset(feat + (size_t)i * D, 0, D * sizeof(float)); (*n_failed)++; }
        if (o->normalize) clip_normalize(feat, n, D);
        if (fn(ud, first, n, feat, ok)) rc = EXIT_BAD;
        if (show) progress(first + n, items->n, t0, first + n == items->n);
    }
done:
    free(feat); free(px); free(tokens); free(ok); free(st); free(errs);
    return rc;
}
