/* Training sets from files: a TSV manifest (image path, caption[, group]) or WebDataset-style
 * tar shards (key.jpg|jpeg|png|webp + key.txt [+ key.group]). Both become one data_source:
 * open() indexes the pairs, tokenizes every caption and checks that each image exists; load()
 * decodes the image in the calling worker thread (or takes it from the in-memory cache),
 * draws open_clip's RandomResizedCrop from the sample's own stream, and preprocesses exactly
 * as OpenAI's _transform. Pairs that share an image (several captions) decode it once when
 * cached and share the cache entry. */
#include "train/train.h"
#include "core/error.h"
#include "io/file.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void clip_dataset_opts_defaults(clip_dataset_opts *o) {
    memset(o, 0, sizeof *o);
    o->image_size = 224;
    o->context_length = 77;
    o->bg[0] = o->bg[1] = o->bg[2] = 255;
}

/* ---- a string -> index map (open addressing, FNV-1a) */

typedef struct { char **keys; int *vals; size_t cap, n; } strmap;

static uint64_t fnv(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The index of key, inserting it with value next (copied) when absent; -1 when out of memory. */
static int strmap_get(strmap *m, const char *key, int next, int *inserted) {
    if (2 * (m->n + 1) > m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        char **k = calloc(cap, sizeof *k);
        int *v = malloc(cap * sizeof *v);
        if (!k || !v) { free(k); free(v); return -1; }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i]) continue;
            size_t j = fnv(m->keys[i]) & (cap - 1);
            while (k[j]) j = (j + 1) & (cap - 1);
            k[j] = m->keys[i]; v[j] = m->vals[i];
        }
        free(m->keys); free(m->vals);
        m->keys = k; m->vals = v; m->cap = cap;
    }
    size_t j = fnv(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (!strcmp(m->keys[j], key)) { *inserted = 0; return m->vals[j]; }
        j = (j + 1) & (m->cap - 1);
    }
    if (!(m->keys[j] = strdup(key))) return -1;
    m->vals[j] = next;
    m->n++;
    *inserted = 1;
    return next;
}

static int strmap_find(const strmap *m, const char *key) {
    if (!m->cap) return -1;
    for (size_t j = fnv(key) & (m->cap - 1); m->keys[j]; j = (j + 1) & (m->cap - 1))
        if (!strcmp(m->keys[j], key)) return m->vals[j];
    return -1;
}

static void strmap_free(strmap *m) {
    for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
    free(m->keys); free(m->vals);
}

/* ---- the source */

typedef struct {
    char *where;             /* for messages: "manifest.tsv line 12" or "shard.tar: key.png" */
    char *path;              /* image file (manifest) or shard (tar) */
    long long off, len;      /* tar: the member's bytes in the shard */
} image_ref;

typedef struct {
    char *name;              /* the manifest or directory, for messages */
    clip_image_opts iopt;
    int nimg, cap_img;
    image_ref *img;          /* [nimg] */
    clip_image *cache;       /* [nimg] when images are kept in memory, else NULL */
    int *img_of;             /* [n] image of each pair */
    int32_t *tokens;         /* [n, ctx] */
    int cap_pairs;
    strmap images, groups;   /* image key -> image index; group string -> group id */
    int *grp;                /* [n], -1: none given */
    int any_group;
} file_src;

static void file_src_free(data_source *d) {
    file_src *s = d->ctx_data;
    if (s) {
        for (int i = 0; i < s->nimg; i++) {
            free(s->img[i].where); free(s->img[i].path);
            if (s->cache) clip_image_free(&s->cache[i]);
        }
        free(s->img); free(s->cache); free(s->img_of); free(s->tokens); free(s->grp); free(s->name);
        strmap_free(&s->images); strmap_free(&s->groups);
        free(s);
    }
    free(d->group);
}

/* Decodes image k into *img (file or tar member). */
static int decode(const file_src *s, int k, clip_image *img, clip_error *err) {
    const image_ref *r = &s->img[k];
    int rc;
    if (r->len < 0) {
        rc = clip_image_load_file(r->path, &s->iopt, img, err);
    } else {
        size_t n = (size_t)r->len;
        char *buf = malloc(n ? n : 1);
        if (!buf) return clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", r->where);
        int fd = open(r->path, O_RDONLY);
        ssize_t got = fd < 0 ? -1 : pread(fd, buf, n, (off_t)r->off);
        if (fd >= 0) close(fd);
        if (got != (ssize_t)n) { free(buf); return clip_fail(err, CLIP_ERR_IO, "%s: cannot read the member (%s)", r->where, got < 0 ? strerror(errno) : "short read"); }
        rc = clip_image_load_memory(buf, n, r->where, &s->iopt, img, err);
        free(buf);
    }
    if (rc && r->len < 0) {
        /* the decoder names the file; add where it was listed */
        clip_error e = *err;
        clip_fail(err, e.status, "%s: %s", r->where, e.msg);
    }
    return rc;
}

static int file_load(const data_source *d, int i, clip_rng *r, const data_augment *aug, float *pixels, int32_t *tokens, clip_error *err) {
    const file_src *s = d->ctx_data;
    int k = s->img_of[i], rc;
    clip_image own = {0};
    const clip_image *img = s->cache ? &s->cache[k] : &own;
    if (!s->cache && (rc = decode(s, k, &own, err))) return rc;
    if (aug && r) {
        /* open_clip's RandomResizedCrop(scale lo-1.0, ratio 3/4-4/3, bicubic) on the decoded image */
        uint64_t st = rng_u64(r) | 1;
        int box[4];
        clip_random_resized_crop_box(img->w, img->h, aug->scale_lo, 1.0, 3.0 / 4.0, 4.0 / 3.0, &st, box);
        rc = clip_image_resized_crop(img, box[0], box[1], box[2], box[3], d->S, NULL, pixels, err);
        if (!rc) data_color_flip(pixels, d->S, r, aug);
    } else {
        rc = clip_image_preprocess(img, d->S, NULL, pixels, err);
    }
    clip_image_free(&own);
    if (rc) {
        clip_error e = *err;
        return clip_fail(err, e.status, "%s: %s", s->img[k].where, e.msg);
    }
    memcpy(tokens, s->tokens + (size_t)i * d->ctx, d->ctx * sizeof(int32_t));
    return 0;
}

/* Adds an image (dedup by key) and returns its index; where and path are taken over. */
static int add_image(file_src *s, const char *key, char *where, char *path, long long off, long long len, clip_error *err) {
    int ins, k = strmap_get(&s->images, key, s->nimg, &ins);
    if (k < 0) { free(where); free(path); return clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); }
    if (!ins) { free(where); free(path); return k; }
    if (s->nimg == s->cap_img) {
        int cap = s->cap_img ? 2 * s->cap_img : 256;
        image_ref *p = realloc(s->img, cap * sizeof *p);
        if (!p) { free(where); free(path); return clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); }
        s->img = p; s->cap_img = cap;
    }
    s->img[s->nimg] = (image_ref){where, path, off, len};
    return s->nimg++;
}

/* Adds a pair: its image, caption (tokenized, truncated to the context) and group (or NULL). */
static int add_pair(data_source *d, file_src *s, clip_tokenizer *tok, int img, const char *cap, size_t cap_len,
                    const char *group, const char *where, clip_error *err) {
    if (d->n == s->cap_pairs) {
        int cap = s->cap_pairs ? 2 * s->cap_pairs : 256;
        int *io = realloc(s->img_of, cap * sizeof *io);
        if (io) s->img_of = io;
        int *g = realloc(s->grp, cap * sizeof *g);
        if (g) s->grp = g;
        int32_t *t = realloc(s->tokens, (size_t)cap * d->ctx * sizeof *t);
        if (t) s->tokens = t;
        if (!io || !g || !t) return clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
        s->cap_pairs = cap;
    }
    int32_t *ids = s->tokens + (size_t)d->n * d->ctx;
    int nid = 0;
    memset(ids, 0, d->ctx * sizeof *ids);
    if (clip_tokenize(tok, cap, cap_len, d->ctx, 1, ids, &nid, err)) {
        clip_error e = *err;
        return clip_fail(err, e.status, "%s: caption: %s", where, e.msg);
    }
    s->grp[d->n] = -1;
    if (group) {
        int ins, g = strmap_get(&s->groups, group, (int)s->groups.n, &ins);
        if (g < 0) return clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
        s->grp[d->n] = g;
        s->any_group = 1;
    }
    s->img_of[d->n++] = img;
    return 0;
}

/* ---- TSV manifests */

static int open_manifest(data_source *d, file_src *s, const char *path, clip_tokenizer *tok, clip_error *err) {
    char *text;
    size_t len;
    int rc = file_read_all(path, (size_t)1 << 32, &text, &len, err);
    if (rc) return rc;
    /* relative image paths are relative to the manifest's directory */
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path + 1) : 0;
    char *line = text, *end = text + len;
    for (int ln = 1; !rc && line < end; ln++) {
        char *nl = memchr(line, '\n', end - line), *le = nl ? nl : end;
        char *next = nl ? nl + 1 : end;
        if (le > line && le[-1] == '\r') le--;
        *le = 0;
        if (line == le || line[0] == '#') { line = next; continue; }
        char *f[4] = {line, NULL, NULL, NULL};
        int nf = 1;
        for (char *p = line; *p; p++)
            if (*p == '\t') { *p = 0; if (nf < 4) f[nf] = p + 1; nf++; }
        if (nf < 2 || nf > 3) {
            rc = clip_fail(err, CLIP_ERR_FORMAT, "%s line %d: expected 2 or 3 tab-separated fields (image, caption[, group]), found %d",
                           path, ln, nf);
            break;
        }
        if (!*f[0] || !*f[1] || (nf == 3 && !*f[2])) {
            rc = clip_fail(err, CLIP_ERR_FORMAT, "%s line %d: empty %s", path, ln, !*f[0] ? "image path" : !*f[1] ? "caption" : "group");
            break;
        }
        size_t plen = strlen(f[0]);
        char *full = malloc(dlen + plen + 1), *w = malloc(strlen(path) + 32);
        if (!full || !w) { free(full); free(w); rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); break; }
        if (f[0][0] == '/') memcpy(full, f[0], plen + 1);
        else { memcpy(full, path, dlen); memcpy(full + dlen, f[0], plen + 1); }
        sprintf(w, "%s line %d", path, ln);
        /* missing images are reported here, at open time, with the line; undecodable ones at
         * load time (or here too, when images are cached) */
        struct stat st;
        if (strmap_find(&s->images, full) < 0 && (stat(full, &st) || !S_ISREG(st.st_mode))) {
            rc = clip_fail(err, CLIP_ERR_IO, "%s: image '%s': %s", w, full, stat(full, &st) ? strerror(errno) : "not a regular file");
            free(full); free(w);
            break;
        }
        char *key = strdup(full);
        int k = key ? add_image(s, key, w, full, 0, -1, err) : (free(w), free(full), clip_fail(err, CLIP_ERR_NOMEM, "out of memory"));
        free(key);
        if (k < 0) { rc = k; break; }
        char wl[4200];
        snprintf(wl, sizeof wl, "%s line %d", path, ln);
        rc = add_pair(d, s, tok, k, f[1], strlen(f[1]), nf == 3 ? f[2] : NULL, wl, err);
        line = next;
    }
    free(text);
    return rc;
}

/* ---- tar shards (POSIX ustar, with GNU long names and pax path/size records) */

static int is_zero(const unsigned char *b, int n) {
    for (int i = 0; i < n; i++) if (b[i]) return 0;
    return 1;
}

/* An octal field (NUL/space terminated) or GNU base-256; -1 when malformed. */
static long long tar_num(const unsigned char *f, int n) {
    if (f[0] & 0x80) {
        if (f[0] != 0x80) return -1;   /* negative or too large */
        long long v = 0;
        for (int i = 1; i < n; i++) { if (v >> 55) return -1; v = v << 8 | f[i]; }
        return v;
    }
    int i = 0;
    while (i < n && f[i] == ' ') i++;
    long long v = 0;
    int digits = 0;
    for (; i < n && f[i] >= '0' && f[i] <= '7'; i++, digits++) { if (v >> 60) return -1; v = v * 8 + (f[i] - '0'); }
    for (; i < n; i++) if (f[i] != ' ' && f[i] != 0) return -1;
    return digits ? v : -1;
}

static const char *IMAGE_EXT[] = {"jpg", "jpeg", "png", "webp"};

typedef struct { char *key; int img; char *txt; char *group; } tar_sample;

static int finish_sample(data_source *d, file_src *s, clip_tokenizer *tok, const char *shard, tar_sample *t, clip_error *err) {
    int rc = 0;
    if (!t->key) return 0;
    if (t->img >= 0 && !t->txt)
        rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: sample '%s' has an image but no '%s.txt' caption", shard, t->key, t->key);
    else if (t->img < 0 && t->txt)
        rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: sample '%s' has a caption but no image (.jpg, .jpeg, .png or .webp)", shard, t->key);
    else if (t->img >= 0) {
        char *g = t->group;
        if (g) {   /* trim whitespace around the group string */
            while (isspace((unsigned char)*g)) g++;
            size_t n = strlen(g);
            while (n && isspace((unsigned char)g[n - 1])) g[--n] = 0;
        }
        char where[4200];
        snprintf(where, sizeof where, "%s: %s.txt", shard, t->key);
        if (g && !*g) rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: %s.group is empty", shard, t->key);
        else rc = add_pair(d, s, tok, t->img, t->txt, strlen(t->txt), g, where, err);
    }
    free(t->key); free(t->txt); free(t->group);
    *t = (tar_sample){NULL, -1, NULL, NULL};
    return rc;
}

/* Reads n bytes at off of f into a new NUL-terminated string. */
static char *read_member(FILE *f, long long off, long long n) {
    char *b = malloc((size_t)n + 1);
    if (!b) return NULL;
    if (fseeko(f, (off_t)off, SEEK_SET) || fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); return NULL; }
    b[n] = 0;
    return b;
}

enum { TAR_TEXT_MAX = 1 << 20 };

static int open_shard(data_source *d, file_src *s, const char *shard, clip_tokenizer *tok, clip_error *err) {
    FILE *f = fopen(shard, "rb");
    if (!f) return clip_fail(err, CLIP_ERR_IO, "%s: cannot open (%s)", shard, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st)) { fclose(f); return clip_fail(err, CLIP_ERR_IO, "%s: cannot stat", shard); }
    long long size = st.st_size, off = 0;
    unsigned char h[512];
    char *long_name = NULL;   /* from a GNU 'L' member or a pax 'path' record, for the next member */
    long long pax_size = -1;
    tar_sample cur = {NULL, -1, NULL, NULL};
    int rc = 0, ended = 0;
    while (!rc) {
        if (off + 512 > size) {
            if (off == size && off > 0) break;   /* no end-of-archive blocks: accept, as GNU tar does */
            rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: truncated tar header at byte %lld (file is %lld bytes)", shard, off, size);
            break;
        }
        if (fseeko(f, (off_t)off, SEEK_SET) || fread(h, 1, 512, f) != 512) { rc = clip_fail(err, CLIP_ERR_IO, "%s: read error at byte %lld", shard, off); break; }
        if (is_zero(h, 512)) { ended = 1; break; }
        long long sum = tar_num(h + 148, 8), mine = 0;
        for (int i = 0; i < 512; i++) mine += (i >= 148 && i < 156) ? ' ' : h[i];
        if (sum != mine) {
            rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: not a tar archive, or a corrupt header at byte %lld (checksum)", shard, off);
            break;
        }
        long long len = tar_num(h + 124, 12);
        if (pax_size >= 0) len = pax_size;
        char type = (char)h[156];
        char name[512];
        if (long_name) {
            snprintf(name, sizeof name, "%s", long_name);
        } else if (!memcmp(h + 257, "ustar", 5) && h[345]) {
            snprintf(name, sizeof name, "%.155s/%.100s", (const char *)h + 345, (const char *)h);
        } else {
            snprintf(name, sizeof name, "%.100s", (const char *)h);
        }
        if (len < 0 || len > size - off - 512) {
            rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: member '%s' at byte %lld claims %lld bytes, past the end of the file (%lld bytes)",
                           shard, name, off, len, size);
            break;
        }
        long long data = off + 512;
        off = data + (len + 511) / 512 * 512;
        if (type == 'L' || type == 'x') {
            if (len > TAR_TEXT_MAX) { rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: header record at byte %lld is too long", shard, data - 512); break; }
            char *b = read_member(f, data, len);
            if (!b) { rc = clip_fail(err, CLIP_ERR_IO, "%s: read error at byte %lld", shard, data); break; }
            free(long_name);
            long_name = NULL;
            if (type == 'L') { long_name = b; continue; }
            /* pax: records "LEN key=value\n" */
            for (long long p = 0; p < len;) {
                char *e;
                long long rl = strtoll(b + p, &e, 10);
                if (rl <= 0 || p + rl > len || *e != ' ' || b[p + rl - 1] != '\n') { rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: malformed pax header at byte %lld", shard, data - 512); break; }
                b[p + rl - 1] = 0;
                if (!strncmp(e + 1, "path=", 5)) { free(long_name); long_name = strdup(e + 6); }
                else if (!strncmp(e + 1, "size=", 5)) pax_size = strtoll(e + 6, NULL, 10);
                p += rl;
            }
            free(b);
            if (pax_size < -1) pax_size = -1;
            continue;
        }
        free(long_name);
        long_name = NULL;
        pax_size = -1;
        if (type == 'g') continue;                        /* pax global header */
        if (type != '0' && type != 0 && type != '7') continue;   /* directories, links, devices */
        /* key = path up to the first dot of the file name; extension = the rest */
        char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        char *dot = strchr(base, '.');
        if (!dot || base[0] == '.') continue;
        *dot = 0;
        const char *ext = dot + 1;
        char lext[16];
        size_t el = strlen(ext);
        if (el >= sizeof lext) continue;
        for (size_t i = 0; i <= el; i++) lext[i] = (char)tolower((unsigned char)ext[i]);
        if (!cur.key || strcmp(cur.key, name)) {   /* a sample's members are consecutive */
            if ((rc = finish_sample(d, s, tok, shard, &cur, err))) break;
            if (!(cur.key = strdup(name))) { rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); break; }
        }
        int is_img = 0;
        for (size_t i = 0; i < sizeof IMAGE_EXT / sizeof *IMAGE_EXT; i++) is_img |= !strcmp(lext, IMAGE_EXT[i]);
        if (is_img) {
            if (cur.img >= 0) { rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: sample '%s' has two images", shard, name); break; }
            char key[600];
            snprintf(key, sizeof key, "%lld:%s", data, shard);
            size_t wl = strlen(shard) + strlen(name) + el + 4;
            char *w = malloc(wl), *p = strdup(shard);
            if (w) snprintf(w, wl, "%s: %s.%s", shard, name, ext);
            if (!w || !p) { free(w); free(p); rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); break; }
            int k = add_image(s, key, w, p, data, len, err);
            if (k < 0) { rc = k; break; }
            cur.img = k;
        } else if (!strcmp(lext, "txt") || !strcmp(lext, "group")) {
            if (len > TAR_TEXT_MAX) { rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: %s.%s is over 1 MiB", shard, name, ext); break; }
            char **dst = lext[0] == 't' ? &cur.txt : &cur.group;
            if (*dst) { rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: sample '%s' has two .%s members", shard, name, lext); break; }
            if (!(*dst = read_member(f, data, len))) { rc = clip_fail(err, CLIP_ERR_IO, "%s: read error at byte %lld", shard, data); break; }
            if (lext[0] == 't') {   /* a trailing newline is not part of the caption */
                size_t n = strlen(*dst);
                while (n && ((*dst)[n - 1] == '\n' || (*dst)[n - 1] == '\r')) (*dst)[--n] = 0;
            }
        }
    }
    if (!rc) rc = finish_sample(d, s, tok, shard, &cur, err);
    else { free(cur.key); free(cur.txt); free(cur.group); }
    free(long_name);
    fclose(f);
    (void)ended;
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int open_shards(data_source *d, file_src *s, const char *dir, clip_tokenizer *tok, clip_error *err) {
    DIR *dh = opendir(dir);
    if (!dh) return clip_fail(err, CLIP_ERR_IO, "%s: cannot open the directory (%s)", dir, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0, rc = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".tar") || de->d_name[0] == '.') continue;
        if (n == cap) {
            char **p = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof *p);
            if (!p) { rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); break; }
            names = p;
        }
        size_t pl = strlen(dir) + l + 2;
        if (!(names[n] = malloc(pl))) { rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); break; }
        snprintf(names[n++], pl, "%s/%s", dir, de->d_name);
    }
    closedir(dh);
    if (!rc && n == 0) rc = clip_fail(err, CLIP_ERR_INVALID, "%s: no .tar shards in the directory", dir);
    if (!rc) qsort(names, n, sizeof *names, cmp_str);   /* a fixed order, whatever readdir gives */
    for (int i = 0; !rc && i < n; i++) rc = open_shard(d, s, names[i], tok, err);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

/* ---- open */

clip_dataset *clip_dataset_open_opts(const char *path, const clip_dataset_opts *o, clip_error *err) {
    clip_dataset_opts def;
    if (!o) { clip_dataset_opts_defaults(&def); o = &def; }
    if (o->image_size < 1 || o->context_length < 2) {
        clip_fail(err, CLIP_ERR_INVALID, "%s: bad image size %d or context length %d", path, o->image_size, o->context_length);
        return NULL;
    }
    clip_dataset *ds = calloc(1, sizeof *ds);
    file_src *s = calloc(1, sizeof *s);
    if (!ds || !s || !(s->name = strdup(path))) {
        free(ds); free(s);
        clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    data_source *d = &ds->src;
    d->S = o->image_size;
    d->ctx = o->context_length;
    d->ctx_data = s;
    d->load = file_load;
    d->free = file_src_free;
    s->iopt.max_pixels = o->max_pixels;
    s->iopt.composite = o->composite;
    memcpy(s->iopt.bg, o->bg, 3);
    int rc = 0;
    clip_tokenizer *tok = clip_tokenizer_load(o->vocab, err);
    struct stat st;
    if (!tok) rc = err ? err->status : CLIP_ERR_INVALID;
    else if (stat(path, &st)) rc = clip_fail(err, CLIP_ERR_IO, "%s: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode)) rc = open_shards(d, s, path, tok, err);
    else {
        size_t l = strlen(path);
        rc = l > 4 && !strcmp(path + l - 4, ".tar") ? open_shard(d, s, path, tok, err) : open_manifest(d, s, path, tok, err);
    }
    clip_tokenizer_free(tok);
    if (!rc && d->n == 0) rc = clip_fail(err, CLIP_ERR_INVALID, "%s: no image-caption pairs", path);
    if (!rc && s->any_group) {
        /* pairs without a group get one of their own */
        if (!(d->group = malloc((size_t)d->n * sizeof *d->group))) rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
        int next = (int)s->groups.n;
        for (int i = 0; !rc && i < d->n; i++) d->group[i] = s->grp[i] >= 0 ? s->grp[i] : next++;
    }
    if (!rc && o->cache_images) {
        /* decode every image once, in parallel; the first failure (lowest index) is reported */
        s->cache = calloc(s->nimg, sizeof *s->cache);
        int *st_ = calloc(s->nimg, sizeof *st_);
        clip_error *errs = calloc(s->nimg, sizeof *errs);
        if (!s->cache || !st_ || !errs) rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
        else {
            const file_src *cs = s;
#pragma omp parallel for schedule(dynamic, 16)
            for (int k = 0; k < cs->nimg; k++) st_[k] = decode(cs, k, &cs->cache[k], &errs[k]);
            for (int k = 0; k < s->nimg && !rc; k++)
                if (st_[k]) { rc = st_[k]; if (err) *err = errs[k]; }
        }
        free(st_); free(errs);
    }
    if (rc) { clip_dataset_free(ds); return NULL; }
    return ds;
}

clip_dataset *clip_dataset_open(const char *path, int image_size, int context_length, clip_error *err) {
    clip_dataset_opts o;
    clip_dataset_opts_defaults(&o);
    o.image_size = image_size;
    o.context_length = context_length;
    return clip_dataset_open_opts(path, &o, err);
}

int clip_dataset_images(const clip_dataset *d) {
    const data_source *s = dataset_source(d);
    return s->load == file_load ? ((const file_src *)s->ctx_data)->nimg : s->n;
}
