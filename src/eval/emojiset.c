#include "eval/emojiset.h"
#include "core/error.h"
#include "io/file.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- a whole TSV file, split in place: rows of fields */

typedef struct tsv {
    char *buf;
    int ncol, nrows;
    char **head;      /* ncol column names (the '#' stripped) */
    char **cell;      /* nrows * ncol; missing trailing fields are "" */
    const char *path;
} tsv;

static void tsv_free(tsv *t) { free(t->buf); free(t->head); free(t->cell); memset(t, 0, sizeof *t); }

static int split_fields(char *line, char **out, int max) {
    int n = 0;
    for (char *p = line;;) {
        char *tab = strchr(p, '\t');
        if (n < max) out[n] = p;
        n++;
        if (!tab) break;
        if (max) *tab = 0;   /* max 0: only counting */
        p = tab + 1;
    }
    return n;
}

static int tsv_read(const char *path, tsv *t, clip_error *err) {
    memset(t, 0, sizeof *t);
    t->path = path;
    size_t len;
    int rc = file_read_all(path, (size_t)1 << 30, &t->buf, &len, err);
    if (rc) return rc;
    if (memchr(t->buf, 0, len)) { tsv_free(t); return clip_fail(err, CLIP_ERR_FORMAT, "%s: holds a NUL byte", path); }
    /* lines in place */
    int nl = 0;
    for (size_t i = 0; i < len; i++) nl += t->buf[i] == '\n';
    char **lines = malloc((size_t)(nl + 1) * sizeof *lines);
    if (!lines) { tsv_free(t); return clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); }
    int n = 0;
    for (char *p = t->buf; *p;) {
        char *e = strchr(p, '\n');
        if (e) *e = 0;
        size_t l = strlen(p);
        if (l && p[l - 1] == '\r') p[--l] = 0;
        if (l) lines[n++] = p;
        if (!e) break;
        p = e + 1;
    }
    if (n == 0 || lines[0][0] != '#') {
        free(lines); tsv_free(t);
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: no header line starting with '#'", path);
    }
    int ncol = split_fields(lines[0] + 1, NULL, 0);
    t->head = malloc((size_t)ncol * sizeof(char *));
    t->cell = malloc(((size_t)(n - 1) * ncol + 1) * sizeof(char *));
    if (!t->head || !t->cell) { free(lines); tsv_free(t); return clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); }
    t->ncol = split_fields(lines[0] + 1, t->head, ncol);
    for (int r = 1; r < n; r++) {
        if (lines[r][0] == '#') continue;   /* further comment lines */
        char **row = t->cell + (size_t)t->nrows * ncol;
        int got = split_fields(lines[r], row, ncol);
        if (got > ncol) { free(lines); rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: line %d has %d fields, the header %d", path, r + 1, got, ncol); tsv_free(t); return rc; }
        for (int c = got; c < ncol; c++) row[c] = t->buf + len;   /* the trailing NUL: "" */
        t->nrows++;
    }
    free(lines);
    return 0;
}

static int tsv_col(const tsv *t, const char *name, clip_error *err) {
    for (int c = 0; c < t->ncol; c++) if (!strcmp(t->head[c], name)) return c;
    return clip_fail(err, CLIP_ERR_FORMAT, "%s: no column '%s' in the header", t->path, name);
}

static const char *cell(const tsv *t, int r, int c) { return t->cell[(size_t)r * t->ncol + c]; }

/* ---- the set */

static char *join(const char *dir, const char *name) {
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    if (p) sprintf(p, "%s/%s", dir, name);
    return p;
}

void eset_free(emoji_set *s) {
    for (int i = 0; i < s->n_concepts; i++) {
        free(s->concept_id[i]); free(s->concept_split[i]); free(s->concept_label[i]);
    }
    free(s->concept_id); free(s->concept_split); free(s->concept_label);
    for (int i = 0; i < s->n_emoji; i++) free(s->emoji_id[i]);
    free(s->emoji_id); free(s->emoji_concept);
    for (int i = 0; i < s->n_styles; i++) { free(s->styles[i].name); free(s->styles[i].role); free(s->styles[i].shippable); }
    free(s->styles);
    free(s->dir);
    memset(s, 0, sizeof *s);
}

typedef struct { char *id; int concept; } emoji_ent;
static int cmp_ent(const void *a, const void *b) { return strcmp(((const emoji_ent *)a)->id, ((const emoji_ent *)b)->id); }

int eset_emoji_index(const emoji_set *s, const char *id) {
    int lo = 0, hi = s->n_emoji - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(s->emoji_id[mid], id);
        if (!c) return mid;
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

int eset_concept_index(const emoji_set *s, const char *id) {
    for (int i = 0; i < s->n_concepts; i++) if (!strcmp(s->concept_id[i], id)) return i;
    return -1;
}

static int read_concepts(emoji_set *s, const char *path, clip_error *err) {
    tsv t;
    int rc = tsv_read(path, &t, err);
    if (rc) return rc;
    int cid = tsv_col(&t, "concept_id", err), csp = cid < 0 ? cid : tsv_col(&t, "split", err);
    int clab = csp < 0 ? csp : tsv_col(&t, "label", err), cem = clab < 0 ? clab : tsv_col(&t, "emoji_ids", err);
    if (cem < 0) { tsv_free(&t); return cem; }
    int n = t.nrows, ne = 0;
    for (int r = 0; r < n; r++) {
        const char *e = cell(&t, r, cem);
        if (*e) ne++;
        for (; *e; e++) ne += *e == ' ';
    }
    size_t nn = n > 0 ? (size_t)n : 1, nne = ne > 0 ? (size_t)ne : 1;
    s->concept_id = calloc(nn, sizeof(char *));
    s->concept_split = calloc(nn, sizeof(char *));
    s->concept_label = calloc(nn, sizeof(char *));
    emoji_ent *ents = calloc(nne, sizeof *ents);
    if (!s->concept_id || !s->concept_split || !s->concept_label || !ents) { free(ents); tsv_free(&t); return clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); }
    rc = 0;
    int k = 0;
    for (int r = 0; r < n && !rc; r++) {
        if (!*cell(&t, r, cid) || !*cell(&t, r, clab)) { rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: row %d has an empty concept_id or label", path, r + 1); break; }
        s->concept_id[r] = strdup(cell(&t, r, cid));
        s->concept_split[r] = strdup(cell(&t, r, csp));
        s->concept_label[r] = strdup(cell(&t, r, clab));
        s->n_concepts = r + 1;
        if (!s->concept_id[r] || !s->concept_split[r] || !s->concept_label[r]) { rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); break; }
        char *e = (char *)cell(&t, r, cem);
        for (char *tokp = strtok(e, " "); tokp && !rc; tokp = strtok(NULL, " ")) {
            if (!(ents[k].id = strdup(tokp))) rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
            ents[k++].concept = r;
        }
    }
    if (!rc) {
        qsort(ents, k, sizeof *ents, cmp_ent);
        for (int i = 1; i < k && !rc; i++)
            if (!strcmp(ents[i].id, ents[i - 1].id)) rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: emoji %s is in two concepts", path, ents[i].id);
    }
    size_t nk = k > 0 ? (size_t)k : 1;
    s->emoji_id = malloc(nk * sizeof(char *));
    s->emoji_concept = malloc(nk * sizeof(int));
    if (!rc && (!s->emoji_id || !s->emoji_concept)) rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
    for (int i = 0; i < k; i++) {
        if (rc) { free(ents[i].id); continue; }
        s->emoji_id[i] = ents[i].id;
        s->emoji_concept[i] = ents[i].concept;
        s->n_emoji = i + 1;
    }
    free(ents);
    tsv_free(&t);
    return rc;
}

static int read_styles(emoji_set *s, const char *path, clip_error *err) {
    tsv t;
    int rc = tsv_read(path, &t, err);
    if (rc) return rc;
    int cs = tsv_col(&t, "style", err), cr = cs < 0 ? cs : tsv_col(&t, "role", err);
    int csh = cr < 0 ? cr : tsv_col(&t, "shippable", err);
    if (csh < 0) { tsv_free(&t); return csh; }
    s->styles = calloc(t.nrows > 0 ? (size_t)t.nrows : 1, sizeof *s->styles);
    if (!s->styles) { tsv_free(&t); return clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); }
    for (int r = 0; r < t.nrows && !rc; r++) {
        eset_style *st = &s->styles[r];
        const char *name = cell(&t, r, cs);
        /* a style name becomes a file name: no paths */
        if (!*name || strchr(name, '/') || name[0] == '.') { rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: row %d: bad style name '%.100s'", path, r + 1, name); break; }
        st->name = strdup(name); st->role = strdup(cell(&t, r, cr)); st->shippable = strdup(cell(&t, r, csh));
        s->n_styles = r + 1;
        if (!st->name || !st->role || !st->shippable) rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
    }
    tsv_free(&t);
    return rc;
}

int eset_open(const char *dir, emoji_set *s, clip_error *err) {
    memset(s, 0, sizeof *s);
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode))
        return clip_fail(err, CLIP_ERR_IO, "%s: no such data set directory (make it with scripts/data/prepare.sh)", dir);
    if (!(s->dir = strdup(dir))) return clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
    char *p = join(dir, "VERSION");
    int rc = p ? 0 : clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
    if (!rc && stat(p, &st))
        rc = clip_fail(err, CLIP_ERR_IO, "%s: incomplete data set (no VERSION; rerun scripts/data/prepare.sh)", dir);
    free(p);
    if (!rc) { p = join(dir, "concepts.tsv"); rc = p ? read_concepts(s, p, err) : clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); free(p); }
    if (!rc) { p = join(dir, "styles.tsv"); rc = p ? read_styles(s, p, err) : clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); free(p); }
    if (rc) eset_free(s);
    return rc;
}

void eset_images_free(eset_images *im) {
    for (int i = 0; i < im->n; i++) free(im->path[i]);
    free(im->path); free(im->concept); free(im->emoji); free((void *)im->split);
    memset(im, 0, sizeof *im);
}

static int images_alloc(eset_images *im, int n, clip_error *err) {
    memset(im, 0, sizeof *im);
    size_t m = n > 0 ? (size_t)n : 1;
    im->path = calloc(m, sizeof(char *)); im->concept = malloc(m * sizeof(int));
    im->emoji = malloc(m * sizeof(int)); im->split = malloc(m * sizeof(char *));
    if (!im->path || !im->concept || !im->emoji || !im->split) { eset_images_free(im); return clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); }
    return 0;
}

/* Appends a row: its concept must be known; emoji_id may be empty (then emoji = -1). */
static int images_push(const emoji_set *s, eset_images *im, const tsv *t, int r, int cpath, int cconc, int cemo, clip_error *err) {
    const char *rel = cell(t, r, cpath), *cid = cell(t, r, cconc);
    int c = eset_concept_index(s, cid);
    if (c < 0) return clip_fail(err, CLIP_ERR_FORMAT, "%s: row %d: concept '%.100s' is not in concepts.tsv", t->path, r + 1, cid);
    if (!*rel || rel[0] == '/') return clip_fail(err, CLIP_ERR_FORMAT, "%s: row %d: bad image path '%.100s'", t->path, r + 1, rel);
    if (!(im->path[im->n] = join(s->dir, rel))) return clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
    im->concept[im->n] = c;
    im->emoji[im->n] = eset_emoji_index(s, cell(t, r, cemo));
    im->split[im->n] = s->concept_split[c];
    im->n++;
    return 0;
}

int eset_style_images(const emoji_set *s, const char *style, const char *split, eset_images *out, clip_error *err) {
    memset(out, 0, sizeof *out);
    char name[512];
    snprintf(name, sizeof name, "%s.tsv", style);
    char *p = join(s->dir, name);
    if (!p) return clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
    struct stat st;
    if (stat(p, &st)) { int rc = clip_fail(err, CLIP_ERR_IO, "%s: no such file (style '%s' not prepared)", p, style); free(p); return rc; }
    tsv t;
    int rc = tsv_read(p, &t, err);
    free(p);
    if (rc) return rc;
    int cpath = tsv_col(&t, "image_path", err), cconc = cpath < 0 ? cpath : tsv_col(&t, "concept_id", err);
    int cemo = cconc < 0 ? cconc : tsv_col(&t, "emoji_id", err), cvar = cemo < 0 ? cemo : tsv_col(&t, "variant", err);
    if (cvar < 0 || (rc = images_alloc(out, t.nrows, err))) { tsv_free(&t); return cvar < 0 ? cvar : rc; }
    for (int r = 0; r < t.nrows && !rc; r++) {
        if (strcmp(cell(&t, r, cvar), "base")) continue;
        int c = eset_concept_index(s, cell(&t, r, cconc));
        if (c >= 0 && split && strcmp(s->concept_split[c], split)) continue;
        rc = images_push(s, out, &t, r, cpath, cconc, cemo, err);
        if (!rc && out->emoji[out->n - 1] < 0)
            rc = clip_fail(err, CLIP_ERR_FORMAT, "%s.tsv: row %d: base emoji '%.100s' is not in concepts.tsv", style, r + 1, cell(&t, r, cemo));
    }
    tsv_free(&t);
    if (rc) eset_images_free(out);
    return rc;
}

int eset_tuxpaint_images(const emoji_set *s, eset_images *out, clip_error *err) {
    memset(out, 0, sizeof *out);
    char *p = join(s->dir, "tuxpaint.tsv");
    if (!p) return clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
    struct stat st;
    if (stat(p, &st)) { int rc = clip_fail(err, CLIP_ERR_IO, "%s: no such file (Tux Paint not prepared)", p); free(p); return rc; }
    tsv t;
    int rc = tsv_read(p, &t, err);
    free(p);
    if (rc) return rc;
    int cpath = tsv_col(&t, "image_path", err), cconc = cpath < 0 ? cpath : tsv_col(&t, "concept_id", err);
    int cemo = cconc < 0 ? cconc : tsv_col(&t, "emoji_id", err);
    if (cemo < 0 || (rc = images_alloc(out, t.nrows, err))) { tsv_free(&t); return cemo < 0 ? cemo : rc; }
    for (int r = 0; r < t.nrows && !rc; r++)
        if (*cell(&t, r, cconc)) rc = images_push(s, out, &t, r, cpath, cconc, cemo, err);
    tsv_free(&t);
    if (rc) eset_images_free(out);
    return rc;
}
