/* clip index / clip search: embeddings of a folder of images kept in SQLite, updated
 * incrementally (only new or changed files are encoded), searched by text or by image. */
#include <dirent.h>
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "stream.h"

static const char *IUSAGE = "clip index [--model PATH] [--precision fp32|bf16|int8] [--index FILE] [--threads N] [--background RRGGBB] DIR|IMAGE...";
static const char *SUSAGE = "clip search [--model PATH] [--precision fp32|bf16|int8] [--index FILE] [--top K] [--json] (TEXT... | --image FILE)";
#define DEFAULT_INDEX "clip-index.sqlite"

static int has_image_ext(const char *p) {
    const char *d = strrchr(p, '.');
    if (!d) return 0;
    const char *ext[] = {".jpg", ".jpeg", ".png", ".webp", ".JPG", ".JPEG", ".PNG", ".WEBP"};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) if (!strcmp(d, ext[i])) return 1;
    return 0;
}

static int walk(const char *path, cli_list *out, int depth) {
    struct stat st;
    if (stat(path, &st)) return cli_fail("index", "%s: no such file or directory", path);
    if (S_ISREG(st.st_mode)) return cli_list_push(out, path) ? cli_fail("index", "out of memory") : 0;
    if (!S_ISDIR(st.st_mode) || depth > 32) return 0;
    DIR *d = opendir(path);
    if (!d) return cli_fail("index", "%s: cannot read directory", path);
    struct dirent *e;
    cli_list names = {0};
    while ((e = readdir(d))) if (e->d_name[0] != '.') cli_list_push(&names, e->d_name);
    closedir(d);
    int rc = 0;
    for (int i = 0; i < names.n && !rc; i++) {
        char *p = malloc(strlen(path) + strlen(names.s[i]) + 2);
        if (!p) { rc = cli_fail("index", "out of memory"); break; }
        sprintf(p, "%s/%s", path, names.s[i]);
        struct stat s2;
        if (!stat(p, &s2) && (S_ISDIR(s2.st_mode) || (S_ISREG(s2.st_mode) && has_image_ext(p)))) rc = walk(p, out, depth + 1);
        free(p);
    }
    cli_list_free(&names);
    return rc;
}

/* A string naming the model file's identity: embeddings from another model must not mix. */
static void model_identity(const char *model, char *out, size_t n) {
    struct stat st;
    char real[4096] = "";
    if (!realpath(model, real)) snprintf(real, sizeof real, "%s", model);
    if (stat(model, &st) == 0 && S_ISDIR(st.st_mode)) {
        char f[4200];
        snprintf(f, sizeof f, "%s/model.safetensors", model);
        stat(f, &st);
    }
    snprintf(out, n, "%s|%lld|%lld", real, (long long)st.st_size, (long long)st.st_mtim.tv_sec);
}

static sqlite3 *open_db(const char *path, int create, const char *verb) {
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        cli_fail(verb, "%s: cannot open index: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    if (create && sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
                                   "CREATE TABLE IF NOT EXISTS images(path TEXT PRIMARY KEY, size INTEGER, mtime INTEGER, emb BLOB);",
                               NULL, NULL, NULL) != SQLITE_OK) {
        cli_fail(verb, "%s: not a clip index: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static char *meta_get(sqlite3 *db, const char *key) {
    sqlite3_stmt *s;
    char *v = NULL;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key=?", -1, &s, NULL) != SQLITE_OK) return NULL;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) v = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
}

typedef struct { sqlite3_stmt *put; const cli_list *items; const int64_t *size, *mtime; int D; } idx_ctx;

static int store_chunk(void *ud, int first, int n, const float *feat, const int *ok) {
    idx_ctx *c = ud;
    for (int i = 0; i < n; i++) {
        if (!ok[i]) continue;
        sqlite3_reset(c->put);
        sqlite3_bind_text(c->put, 1, c->items->s[first + i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(c->put, 2, c->size[first + i]);
        sqlite3_bind_int64(c->put, 3, c->mtime[first + i]);
        sqlite3_bind_blob(c->put, 4, feat + (size_t)i * c->D, c->D * (int)sizeof(float), SQLITE_STATIC);
        if (sqlite3_step(c->put) != SQLITE_DONE) return -1;
    }
    return 0;
}

int cmd_index(int argc, char **argv) {
    const char *model = NULL, *index = DEFAULT_INDEX;
    int threads = 0, precision = 0, rc = EXIT_BAD;
    cli_list roots = {0}, files = {0}, todo = {0};
    clip_image_opts iopt = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: %s\n\nEmbeds every image under the given folders (recursively; .jpg .jpeg .png .webp) into an\n"
                   "SQLite index (default ./" DEFAULT_INDEX "). Only new or changed files are encoded; entries\n"
                   "of files that are gone are dropped. Unreadable images are reported and skipped (exit 1).\n\n" CLI_PRECISION_HELP, IUSAGE);
            return 0;
        } else if (!strcmp(a, "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(a, "--index") && i + 1 < argc) index = argv[++i];
        else if (!strcmp(a, "--background") && i + 1 < argc) {
            if (cli_parse_background(argv[++i], &iopt)) return cli_usage("index", IUSAGE, "--background needs RRGGBB hex");
        } else if (!strcmp(a, "--threads") && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 1, 1024, &threads)) return cli_usage("index", IUSAGE, "--threads needs a positive integer");
        } else if (!strcmp(a, "--precision") && i + 1 < argc) {
            if (cli_parse_precision(argv[++i], &precision)) return cli_usage("index", IUSAGE, "--precision needs fp32, bf16 or int8");
        } else if (a[0] == '-' && a[1]) { cli_list_free(&roots); return cli_usage("index", IUSAGE, "unexpected argument '%s'", a); }
        else cli_list_push(&roots, a);
    }
    if (!roots.n) return cli_usage("index", IUSAGE, "no folders or images given");
    if (!model && !(model = cli_default_model())) { cli_list_free(&roots); return cli_fail("index", "no --model given and no default model found"); }
    if (threads) clip_set_threads(threads);
    for (int i = 0; i < roots.n; i++) if (walk(roots.s[i], &files, 0)) goto out;
    char ident[4400];
    model_identity(model, ident, sizeof ident);
    clip_error e = {0};
    clip_model *m = cli_load_model(model, precision, &e);
    if (!m) { cli_fail("index", "%s", e.msg); goto out; }
    sqlite3 *db = open_db(index, 1, "index");
    if (!db) { clip_model_free(m); goto out; }
    char *have = meta_get(db, "model");
    if (have && strcmp(have, ident)) {
        cli_fail("index", "%s was built with another model (%s); remove it or use --index", index, have);
        free(have); sqlite3_close(db); clip_model_free(m); goto out;
    }
    free(have);
    int64_t *size = calloc(files.n + 1, sizeof *size), *mtime = calloc(files.n + 1, sizeof *mtime);
    sqlite3_exec(db, "BEGIN; CREATE TEMP TABLE seen(path TEXT PRIMARY KEY);", NULL, NULL, NULL);
    sqlite3_stmt *q, *seen, *put;
    sqlite3_prepare_v2(db, "SELECT size, mtime FROM images WHERE path=?", -1, &q, NULL);
    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO seen VALUES(?)", -1, &seen, NULL);
    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO images VALUES(?,?,?,?)", -1, &put, NULL);
    for (int i = 0; i < files.n; i++) {
        struct stat st;
        if (stat(files.s[i], &st)) continue;
        sqlite3_reset(seen);
        sqlite3_bind_text(seen, 1, files.s[i], -1, SQLITE_STATIC);
        sqlite3_step(seen);
        sqlite3_reset(q);
        sqlite3_bind_text(q, 1, files.s[i], -1, SQLITE_STATIC);
        int fresh = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 0) == st.st_size && sqlite3_column_int64(q, 1) == st.st_mtim.tv_sec;
        if (fresh) continue;
        size[todo.n] = st.st_size;
        mtime[todo.n] = st.st_mtim.tv_sec;
        cli_list_push(&todo, files.s[i]);
    }
    idx_ctx ic = {put, &todo, size, mtime, clip_model_get_config(m)->embed_dim};
    cli_stream_opts so = {.chunk = 64, .normalize = 1, .image_opts = &iopt, .verb = "index"};
    int failed = 0, st = todo.n ? cli_encode_stream(m, NULL, &todo, 0, &so, store_chunk, &ic, &failed) : 0;
    sqlite3_exec(db, "DELETE FROM images WHERE path NOT IN (SELECT path FROM seen);", NULL, NULL, NULL);
    sqlite3_stmt *mm;
    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta VALUES('model', ?)", -1, &mm, NULL);
    sqlite3_bind_text(mm, 1, ident, -1, SQLITE_STATIC);
    sqlite3_step(mm);
    sqlite3_finalize(mm);
    sqlite3_finalize(q); sqlite3_finalize(seen); sqlite3_finalize(put);
    if (st) { sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL); cli_fail("index", "index not updated"); }
    else if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) cli_fail("index", "%s: %s", index, sqlite3_errmsg(db));
    else {
        sqlite3_stmt *cnt;
        sqlite3_prepare_v2(db, "SELECT count(*) FROM images", -1, &cnt, NULL);
        sqlite3_step(cnt);
        fprintf(stderr, "clip index: %s: %d images (%d encoded, %d failed)\n", index, sqlite3_column_int(cnt, 0), todo.n - failed, failed);
        sqlite3_finalize(cnt);
        rc = failed ? EXIT_BAD : 0;
    }
    sqlite3_close(db);
    free(size); free(mtime);
    clip_model_free(m);
out:
    cli_list_free(&roots); cli_list_free(&files); cli_list_free(&todo);
    return rc;
}

typedef struct { float *q; int D; } qctx;
static int take_query(void *ud, int first, int n, const float *feat, const int *ok) {
    qctx *c = ud;
    memcpy(c->q + (size_t)first * c->D, feat, (size_t)n * c->D * sizeof(float));
    return 0;
}

int cmd_search(int argc, char **argv) {
    const char *model = NULL, *index = DEFAULT_INDEX, *image = NULL;
    int top = 5, json = 0, precision = 0, rc = EXIT_BAD;
    cli_list texts = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: %s\n\nRanks the images of an index (made by clip index) by cosine similarity to each text\n"
                   "query, or to an image with --image. Prints the top K paths with their scores.\n\n" CLI_PRECISION_HELP, SUSAGE);
            return 0;
        } else if (!strcmp(a, "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(a, "--index") && i + 1 < argc) index = argv[++i];
        else if (!strcmp(a, "--image") && i + 1 < argc) image = argv[++i];
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--top") && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 1, 1 << 20, &top)) return cli_usage("search", SUSAGE, "--top needs a positive integer");
        } else if (!strcmp(a, "--precision") && i + 1 < argc) {
            if (cli_parse_precision(argv[++i], &precision)) return cli_usage("search", SUSAGE, "--precision needs fp32, bf16 or int8");
        } else if (a[0] == '-' && a[1] == '-') { cli_list_free(&texts); return cli_usage("search", SUSAGE, "unexpected argument '%s'", a); }
        else cli_list_push(&texts, a);
    }
    if (!!image + !!texts.n != 1) { cli_list_free(&texts); return cli_usage("search", SUSAGE, "give text queries or one --image"); }
    if (!model && !(model = cli_default_model())) { cli_list_free(&texts); return cli_fail("search", "no --model given and no default model found"); }
    struct stat sst;
    if (stat(index, &sst)) { cli_list_free(&texts); return cli_fail("search", "%s: no index (make one with clip index)", index); }
    sqlite3 *db = open_db(index, 0, "search");
    if (!db) { cli_list_free(&texts); return EXIT_BAD; }
    if (sqlite3_exec(db, "SELECT path, emb FROM images LIMIT 1", NULL, NULL, NULL) != SQLITE_OK) {
        cli_fail("search", "%s: not a clip index (%s)", index, sqlite3_errmsg(db));
        sqlite3_close(db); cli_list_free(&texts); return EXIT_BAD;
    }
    char ident[4400];
    model_identity(model, ident, sizeof ident);
    char *have = meta_get(db, "model");
    if (!have || strcmp(have, ident)) {
        cli_fail("search", "%s was built with %s, not with %s", index, have ? have : "an unknown model", model);
        free(have); sqlite3_close(db); cli_list_free(&texts); return EXIT_BAD;
    }
    free(have);
    clip_error e = {0};
    clip_model *m = cli_load_model(model, precision, &e);
    clip_tokenizer *tok = m ? clip_tokenizer_load(NULL, &e) : NULL;
    if (!tok) { cli_fail("search", "%s", e.msg); goto done; }
    int D = clip_model_get_config(m)->embed_dim, failed = 0;
    if (image) cli_list_push(&texts, image);
    float *q = malloc((size_t)texts.n * D * sizeof(float));
    qctx qc = {q, D};
    cli_stream_opts so = {.chunk = 64, .normalize = 1, .truncate = 1, .verb = "search"};
    if (cli_encode_stream(m, image ? NULL : tok, &texts, !image, &so, take_query, &qc, &failed) || failed) { free(q); goto done; }
    /* brute force over all rows: exact, and fast enough for folders of photos */
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "SELECT path, emb FROM images", -1, &s, NULL);
    int n = 0, cap = 1024;
    char **paths = malloc(cap * sizeof(char *));
    float *scores = malloc((size_t)cap * texts.n * sizeof(float));
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (sqlite3_column_bytes(s, 1) != D * (int)sizeof(float)) continue;
        if (n == cap) { cap *= 2; paths = realloc(paths, cap * sizeof(char *)); scores = realloc(scores, (size_t)cap * texts.n * sizeof(float)); }
        const float *v = sqlite3_column_blob(s, 1);
        paths[n] = strdup((const char *)sqlite3_column_text(s, 0));
        for (int k = 0; k < texts.n; k++) {
            float d = 0;
            for (int j = 0; j < D; j++) d += q[(size_t)k * D + j] * v[j];
            scores[(size_t)n * texts.n + k] = d;
        }
        n++;
    }
    sqlite3_finalize(s);
    int *order = malloc((n + 1) * sizeof(int));
    for (int k = 0; k < texts.n; k++) {
        int kk = top < n ? top : n;
        for (int i = 0; i < n; i++) order[i] = i;
        for (int a = 0; a < kk; a++) {
            int best = a;
            for (int b = a + 1; b < n; b++) {
                float x = scores[(size_t)order[b] * texts.n + k], y = scores[(size_t)order[best] * texts.n + k];
                if (x > y || (x == y && strcmp(paths[order[b]], paths[order[best]]) < 0)) best = b;
            }
            int t = order[a]; order[a] = order[best]; order[best] = t;
        }
        if (json) {
            printf("{\"query\": \"");
            for (const char *p = texts.s[k]; *p; p++) { if (*p == '"' || *p == '\\') putchar('\\'); if ((unsigned char)*p >= 0x20) putchar(*p); }
            printf("\", \"results\": [");
            for (int a = 0; a < kk; a++) {
                printf("%s{\"path\": \"", a ? ", " : "");
                for (const char *p = paths[order[a]]; *p; p++) { if (*p == '"' || *p == '\\') putchar('\\'); if ((unsigned char)*p >= 0x20) putchar(*p); }
                printf("\", \"score\": %.5f}", scores[(size_t)order[a] * texts.n + k]);
            }
            printf("]}\n");
        } else {
            printf("%s\n", texts.s[k]);
            for (int a = 0; a < kk; a++) printf("  %.4f  %s\n", scores[(size_t)order[a] * texts.n + k], paths[order[a]]);
        }
    }
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths); free(scores); free(order); free(q);
    rc = 0;
done:
    clip_tokenizer_free(tok);
    clip_model_free(m);
    sqlite3_close(db);
    cli_list_free(&texts);
    return rc;
}
