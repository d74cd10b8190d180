/* Packed model files: the parameter block exactly as it sits in memory after model_pack (fp32,
 * every Linear weight already in the GEMM kernel's panels), stored as one F32 safetensors tensor
 * that starts 4096-aligned in the file. Loading maps the file (MAP_PRIVATE, read-write, so that
 * unpacking and training still work through copy-on-write) and points the model at the mapping:
 * nothing is read, converted or repacked, so a load is a header parse plus an mmap.
 *
 * Metadata (all strings, as safetensors requires):
 *   format               "clip.c-packed"
 *   clip_packed_version  "1"
 *   panel_width          the kernel's packed panel width (GEMM_NR, 32): a build that packs
 *                        differently refuses the file
 *   packed               one '0'/'1' per matrix in model_pack's order: which ones are panels
 *   clip_config          every clip_config field, as JSON
 *   config               OpenAI's CLIP(...) arguments, as our plain checkpoints carry
 *   params               the block's length in floats
 *
 * Version 2 (clip convert --packed --precision bf16|int8, or fp32 where some matrices are
 * fp16-exact and model_pack holds them as fp16 panels) holds the model as loaded at that
 * precision. Each bf16 / int8 / fp16 matrix's packed bytes (matmul_packed_b.data, exactly as the packer
 * left them, per-column scales and sums included) are their own U8 tensor 'pk.<i>' (i: the
 * matrix's index in model_pack's order), 4096-aligned. The rest of the fp32 block (norms, biases,
 * embeddings, the matrices that stay fp32) is the U8 tensor 'params': the block's bytes with the
 * whole pages inside the 'b'/'q'/'h' matrices left out (live_segments says which; the bytes of those
 * matrices that remain, at page edges, are zero). Loading reserves the block's address range and
 * maps each kept segment of the file into its place (MAP_FIXED), so the block is the file's pages
 * again, nothing copied; the left-out pages are untouched anonymous memory. Extra metadata:
 *   precision            "bf16", "int8" or "fp32"
 *   packed               one character per matrix: '0' plain, '1' fp32 panels, 'b' bf16 panels,
 *                        'q' int8 panels, 'h' fp16 panels (fp32 only): exactly what
 *                        model_pack_bf16 / model_pack_int8 / model_pack make of the architecture
 *                        (anything else is refused)
 * Each matrix's layout is its 'packed' character and its byte count the shape of its tensor,
 * which must equal the packer's size for its shape. Version 1 readers refuse version 2 files by
 * their version. */
#include "model/model.h"
#include "io/safetensors.h"
#include "core/error.h"
#include "core/gemm_avx512.h"   /* GEMM_NR and the CPU check: the layout is this kernel's */
#include "core/gemm_bf16.h"
#include "core/gemm_int8.h"
#include "core/matmul.h"
#include "io/file.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NATIVE_FORMAT "clip.c-packed"
#define NATIVE_VERSION "1"
#define NATIVE_VERSION_Q "2"   /* bf16 / int8 / fp32 with fp16 panels */
#define NATIVE_ALIGN 4096   /* a page: the mapped block can be used where it lies */

int native_is_packed(const st_file *f) {
    const char *fmt = st_meta(f, "format");
    return fmt && !strcmp(fmt, NATIVE_FORMAT);
}

/* ---------------------------------------------------------------- config as JSON */

#define CFG_INTS(X) X(vision_kind) X(image_size) X(patch_size) X(vision_width) X(vision_layers) X(vision_heads) \
    X(context_length) X(vocab_size) X(text_width) X(text_layers) X(text_heads) X(embed_dim) X(activation) X(layout) \
    X(eos_token_id)

static char *config_to_json(const clip_config *c) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
#define PUT(f) cJSON_AddNumberToObject(j, #f, c->f);
    CFG_INTS(PUT)
#undef PUT
    cJSON *rn = cJSON_AddArrayToObject(j, "rn_layers");
    for (int i = 0; rn && i < 4; i++) cJSON_AddItemToArray(rn, cJSON_CreateNumber(c->rn_layers[i]));
    cJSON_AddNumberToObject(j, "ln_eps", c->ln_eps);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* An integer in [lo, hi] (JSON number, whole). */
static int get_int(const cJSON *j, const char *k, int lo, int hi, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) || (double)(int)v->valuedouble != v->valuedouble)
        return 0;
    *out = (int)v->valuedouble;
    return 1;
}

/* Bounds keep a hostile header from asking params_build for an absurd table. */
static int config_from_json(const char *s, clip_config *c, const char *name, clip_error *err) {
    memset(c, 0, sizeof *c);
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    if (!cJSON_IsObject(j)) { cJSON_Delete(j); return clip_fail(err, CLIP_ERR_FORMAT, "%s: packed model: 'clip_config' metadata is missing or not a JSON object", name); }
    const char *bad = NULL;
#define GET(f, lo, hi) if (!bad && !get_int(j, #f, lo, hi, &c->f)) bad = #f;
    GET(vision_kind, 0, 1) GET(image_size, 1, 8192) GET(patch_size, 0, 8192) GET(vision_width, 1, 65536)
    GET(vision_layers, 1, 1024) GET(vision_heads, 1, 65536) GET(context_length, 0, 65536) GET(vocab_size, 0, 10000000)
    GET(text_width, 0, 65536) GET(text_layers, 0, 1024) GET(text_heads, 0, 65536) GET(embed_dim, 1, 65536)
    GET(activation, 0, 1) GET(layout, 0, 1) GET(eos_token_id, 0, 10000000)
#undef GET
    const cJSON *rn = cJSON_GetObjectItemCaseSensitive(j, "rn_layers");
    if (!bad && (!cJSON_IsArray(rn) || cJSON_GetArraySize(rn) != 4)) bad = "rn_layers";
    for (int i = 0; !bad && i < 4; i++) {
        const cJSON *v = cJSON_GetArrayItem(rn, i);
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1024)) bad = "rn_layers";
        else c->rn_layers[i] = (int)v->valuedouble;
    }
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(j, "ln_eps");
    if (!bad && (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0 && eps->valuedouble < 1))) bad = "ln_eps";
    if (!bad) c->ln_eps = (float)eps->valuedouble;
    cJSON_Delete(j);
    if (bad) return clip_fail(err, CLIP_ERR_FORMAT, "%s: packed model: 'clip_config' has no valid '%s'", name, bad);
    int vit = c->vision_kind == CLIP_VISION_VIT;
    if ((vit && (c->patch_size <= 0 || c->image_size % c->patch_size || c->vision_width % c->vision_heads)) ||
        (!vit && (c->vision_layers != c->rn_layers[0] + c->rn_layers[1] + c->rn_layers[2] + c->rn_layers[3] || c->image_size % 32)) ||
        (c->text_width && (c->text_layers <= 0 || c->text_heads <= 0 || c->text_width % c->text_heads ||
                           c->context_length <= 0 || c->vocab_size <= 0)))
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: packed model: 'clip_config' describes an inconsistent architecture", name);
    return 0;
}

/* ---------------------------------------------------------------- version 2: the kept segments */

typedef struct { size_t a, b; } range;   /* bytes [a, b) of the block */

static int cmp_range(const void *x, const void *y) {
    const range *p = x, *q = y;
    return p->a < q->a ? -1 : p->a > q->a;
}

static size_t page_up(size_t x) { return (x + NATIVE_ALIGN - 1) & ~(size_t)(NATIVE_ALIGN - 1); }

static int is_moved(char c) { return c == 'b' || c == 'q' || c == 'h'; } /* kept as their own tensor */

/* The 'b'/'q'/'h' matrices' byte ranges in the block, sorted (dead: their fp32 values are not kept),
 * and the segments of the block a version-2 file keeps: everything but the whole pages inside
 * them. dead and seg hold n and n + 1 ranges; returns the segment count, *kept their bytes. */
static int live_segments(const model_mat_info *info, const char *mask, int n, size_t blk, range *dead, int *ndead,
                         range *seg, size_t *kept) {
    int nd = 0, ns = 0;
    for (int i = 0; i < n; i++)
        if (is_moved(mask[i]))
            dead[nd++] = (range){info[i].off * sizeof(float), (info[i].off + (size_t)info[i].K * info[i].N) * sizeof(float)};
    qsort(dead, nd, sizeof *dead, cmp_range);
    size_t pos = 0;
    *kept = 0;
    for (int i = 0; i < nd; i++) {
        size_t pa = page_up(dead[i].a), pb = dead[i].b & ~(size_t)(NATIVE_ALIGN - 1);
        if (pb <= pa) continue;
        if (pa > pos) { seg[ns++] = (range){pos, pa}; *kept += pa - pos; }
        pos = pb;
    }
    if (blk > pos) { seg[ns++] = (range){pos, blk}; *kept += blk - pos; }
    *ndead = nd;
    return ns;
}

/* ---------------------------------------------------------------- reading */

static int meta_is(const st_file *f, const char *key, const char *want) {
    const char *v = st_meta(f, key);
    return v && !strcmp(v, want);
}

/* Version 2: reserves the block's address range (plus extra bytes after it, for the loader to map
 * the file into) as m->map, binds m->params there, checks every tensor against the architecture
 * and binds the 'b'/'q'/'h' matrices to their tensors inside base. The kept segments are not mapped
 * yet (native_load does that): the block reads as zeros until then. */
static int bind_v2(clip_model *m, const st_file *f, const uint8_t *base, const char *mask, size_t extra, const char *name,
                   clip_error *err) {
    const char *prec = st_meta(f, "precision");
    int precision = prec && !strcmp(prec, "bf16") ? CLIP_PRECISION_BF16 : prec && !strcmp(prec, "int8") ? CLIP_PRECISION_INT8
                  : prec && !strcmp(prec, "fp32") ? CLIP_PRECISION_FP32 : -1;
    if (precision < 0) return clip_fail(err, CLIP_ERR_FORMAT, "%s: packed model: 'precision' metadata is '%.20s', not bf16, int8 or fp32", name, prec ? prec : "(none)");
    const st_tensor *t = st_find(f, "params");
    if (!t || t->dtype != ST_U8 || t->ndim != 1)
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: packed model: needs a tensor 'params', U8, 1-d", name);
    if ((size_t)(t->data - base) % NATIVE_ALIGN)
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: packed model: 'params' starts at byte %zu, not 4096-byte aligned", name, (size_t)(t->data - base));
    size_t blk = m->table.total * sizeof(float), len = page_up(blk) + extra;
    void *r = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) return clip_fail(err, CLIP_ERR_NOMEM, "%s: packed model: cannot reserve %zu bytes for its block", name, len);
    m->map = r;
    m->map_len = len;
    m->params = r;
    params_bind(&m->cfg, &m->table, m->params, &m->p);
    int n = model_pack_count(m), rc = 0;
    if ((int)strlen(mask) != n)
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: packed model: the packed-matrix list has %d entries; the architecture has %d matrices", name, (int)strlen(mask), n);
    model_mat_info *info = malloc((n + 1) * sizeof *info);
    void **data = calloc(n + 1, sizeof *data);
    range *dead = malloc((n + 1) * sizeof *dead), *seg = malloc((n + 2) * sizeof *seg);
    if (!info || !data || !dead || !seg || model_mats_info(m, info) != n) rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
    int nq = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (!is_moved(mask[i])) continue;   /* model_bind_quant judges the others */
        char key[32];
        snprintf(key, sizeof key, "pk.%d", i);
        const st_tensor *q = st_find(f, key);
        size_t want = mask[i] == 'b' ? gemm_bf16_packed_bytes(info[i].K, info[i].N)
                    : mask[i] == 'q' ? gemm_int8_packed_bytes(info[i].K, info[i].N) : (size_t)info[i].K * info[i].N * sizeof(uint16_t);
        if (!q || q->dtype != ST_U8 || q->ndim != 1 || q->numel != want || (size_t)(q->data - base) % 64)
            rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: packed model: matrix %d (%d x %d, '%c') needs a tensor '%s', U8, 1-d, %zu bytes, "
                           "64-byte aligned", name, i, info[i].K, info[i].N, mask[i], key, want);
        else { data[i] = (void *)q->data; nq++; }
    }
    if (!rc && f->n != 1 + nq)
        rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: packed model: %d tensors; needs 'params' and the %d packed matrices only", name, f->n, nq);
    size_t kept = 0;
    int nd;
    if (!rc) live_segments(info, mask, n, blk, dead, &nd, seg, &kept);
    if (!rc && t->numel != kept)
        rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: packed model: 'params' holds %zu bytes; its architecture keeps %zu", name, t->numel, kept);
    if (!rc && model_bind_quant(m, mask, precision, info, data, err)) {
        char msg[sizeof err->msg];
        if (err) { snprintf(msg, sizeof msg, "%.180s: packed model: %.300s", name, err->msg); snprintf(err->msg, sizeof err->msg, "%s", msg); }
        rc = CLIP_ERR_FORMAT;
    }
    free(info); free(data); free(dead); free(seg);
    return rc;
}

/* A model whose block is the "params" tensor of f, inside the buffer base (the file's image):
 * every header field checked, the packed views bound, nothing of the block read. Version 2:
 * see bind_v2 (extra: the bytes to reserve after the block). */
static clip_model *from_buffer(const st_file *f, const uint8_t *base, size_t extra, const char *name, clip_error *err) {
    if (!native_is_packed(f)) { clip_fail(err, CLIP_ERR_FORMAT, "%s: not a packed clip.c model (format metadata)", name); return NULL; }
    const char *ver = st_meta(f, "clip_packed_version");
    int v2 = ver && !strcmp(ver, NATIVE_VERSION_Q);
    if (!ver || (strcmp(ver, NATIVE_VERSION) && !v2)) {
        clip_fail(err, CLIP_ERR_UNSUPPORTED, "%s: packed model version '%.20s'; this build reads versions " NATIVE_VERSION " and " NATIVE_VERSION_Q
                  ": convert the original checkpoint again (clip convert --packed)", name, ver ? ver : "(none)");
        return NULL;
    }
    char nr[16];
    snprintf(nr, sizeof nr, "%d", GEMM_NR);
    if (!meta_is(f, "panel_width", nr)) {
        const char *pw = st_meta(f, "panel_width");
        clip_fail(err, CLIP_ERR_UNSUPPORTED, "%s: packed for a GEMM panel width of %.20s; this build packs %s wide: convert the "
                  "original checkpoint again with this build (clip convert --packed)", name, pw ? pw : "(none)", nr);
        return NULL;
    }
    clip_config cfg;
    if (config_from_json(st_meta(f, "clip_config"), &cfg, name, err)) return NULL;
    const char *mask = st_meta(f, "packed");
    if (!mask) { clip_fail(err, CLIP_ERR_FORMAT, "%s: packed model: no 'packed' metadata", name); return NULL; }
    const st_tensor *t = st_find(f, "params");
    if (!v2 && (!t || f->n != 1 || t->dtype != ST_F32 || t->ndim != 1)) {
        clip_fail(err, CLIP_ERR_FORMAT, "%s: packed model: needs exactly one tensor, 'params', F32, 1-d", name);
        return NULL;
    }
    size_t offset = t ? (size_t)(t->data - base) : 0;
    if (!v2 && offset % 64) { clip_fail(err, CLIP_ERR_FORMAT, "%s: packed model: the block starts at byte %zu, not 64-byte aligned", name, offset); return NULL; }
    clip_model *m = calloc(1, sizeof *m);
    if (!m) { clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); return NULL; }
    m->cfg = cfg;
    m->max_batch = 16;
    if (params_build(&m->cfg, &m->table, err)) { clip_model_free(m); return NULL; }
    if (v2) {
        if (bind_v2(m, f, base, mask, extra, name, err)) { clip_model_free(m); return NULL; }
        return m;
    }
    m->map = (void *)base;   /* not malloc'd: clip_model_free leaves it alone unless map_len is set */
    if (t->numel != m->table.total) {
        clip_fail(err, CLIP_ERR_FORMAT, "%s: packed model: the block holds %zu floats; its architecture needs %zu", name, t->numel, m->table.total);
        clip_model_free(m);
        return NULL;
    }
    m->params = (float *)t->data;
    params_bind(&m->cfg, &m->table, m->params, &m->p);
    if (model_bind_packed(m, mask, GEMM_NR, base, err)) {
        char msg[sizeof err->msg];
        if (err) { snprintf(msg, sizeof msg, "%.180s: packed model: %.300s", name, err->msg); snprintf(err->msg, sizeof err->msg, "%s", msg); }
        clip_model_free(m);
        return NULL;
    }
    return m;
}

int native_check(const st_file *f, const uint8_t *base, const char *name, clip_error *err) {
    clip_model *m = from_buffer(f, base, 0, name, err);
    clip_model_free(m);
    return m ? 0 : (err && err->status ? err->status : CLIP_ERR_FORMAT);
}

clip_model *native_load(const char *path, const clip_load_opts *opts, clip_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { clip_fail(err, CLIP_ERR_IO, "%s: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); clip_fail(err, CLIP_ERR_IO, "%s: not a regular file", path); return NULL; }
    size_t len = (size_t)st.st_size;
    if (len < 8) { close(fd); clip_fail(err, CLIP_ERR_FORMAT, "%s: not a safetensors file (shorter than 8 bytes)", path); return NULL; }
    /* private and writable: pages are shared with the page cache until written (unpacking,
     * training, bf16 conversion), then copied; the file itself never changes */
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) { close(fd); clip_fail(err, CLIP_ERR_IO, "%s: mmap failed: %s", path, strerror(errno)); return NULL; }
    st_file f;
    if (st_parse(map, len, path, &f, err)) { close(fd); munmap(map, len); return NULL; }
    int v2 = meta_is(&f, "clip_packed_version", NATIVE_VERSION_Q);
    size_t params_off = 0;
    if (v2 && st_find(&f, "params")) params_off = (size_t)(st_find(&f, "params")->data - (const uint8_t *)map);
    clip_model *m = from_buffer(&f, map, v2 ? page_up(len) : 0, path, err);
    st_close(&f);   /* frees the parsed header only: f.map is NULL after st_parse */
    if (!m) { close(fd); munmap(map, len); return NULL; }
    const char *pname = m->precision == CLIP_PRECISION_BF16 ? "bf16" : m->precision == CLIP_PRECISION_INT8 ? "int8" : "fp32";
    if (v2 && m->precision != CLIP_PRECISION_FP32 && (m->precision == CLIP_PRECISION_BF16 ? !matmul_bf16_kernel() : !matmul_int8_kernel())) {
        clip_fail(err, CLIP_ERR_UNSUPPORTED, "%s: a packed %s model needs a CPU with %s (and AVX-512); this one has neither: "
                  "load the original checkpoint in fp32 instead", path, m->precision == CLIP_PRECISION_BF16 ? "bf16" : "int8",
                  m->precision == CLIP_PRECISION_BF16 ? "AMX-BF16 or AVX512_BF16" : "AMX-INT8 or AVX512_VNNI");
        v2 = -1;
    }
    if (v2 > 0 && (sysconf(_SC_PAGESIZE) <= 0 || NATIVE_ALIGN % sysconf(_SC_PAGESIZE))) {
        clip_fail(err, CLIP_ERR_UNSUPPORTED, "%s: a packed %s model is laid out in 4096-byte pages; this system's pages are %ld bytes",
                  path, pname, sysconf(_SC_PAGESIZE));
        v2 = -1;
    }
    if (v2 > 0) {
        /* the file goes right after the block, inside the reservation (m->map), so that one
         * munmap frees both; then each kept segment of 'params' is mapped into its place */
        uint8_t *blk = m->map, *file = blk + page_up(m->table.total * sizeof(float));
        int ok = mmap(file, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0) != MAP_FAILED;
        int n = model_pack_count(m), ns = 0, nd;
        char *mask = malloc((size_t)n + 1);
        model_mat_info *info = malloc((n + 1) * sizeof *info);
        range *dead = malloc((n + 1) * sizeof *dead), *seg = malloc((n + 2) * sizeof *seg);
        size_t kept = 0;
        if (ok && mask && info && dead && seg && model_mats_info(m, info) == n) {
            for (int i = 0; i < n; i++) mask[i] = model_mat_code(m, i);
            mask[n] = 0;
            ns = live_segments(info, mask, n, m->table.total * sizeof(float), dead, &nd, seg, &kept);
        } else ok = 0;
        for (int j = 0; ok && j < ns; j++) {   /* segment j lies at params_off + the bytes of those before it */
            ok = mmap(blk + seg[j].a, seg[j].b - seg[j].a, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, (off_t)params_off) != MAP_FAILED;
            params_off += seg[j].b - seg[j].a;
        }
        for (int i = 0; ok && i < m->npk; i++)   /* the 'b'/'q'/'h' matrices: from the first mapping to this one */
            if (m->pk[i].layout == 2 || m->pk[i].layout == 3 || m->pk[i].layout == 4) m->pk[i].data = (float *)(file + ((uint8_t *)m->pk[i].data - (uint8_t *)map));
        free(mask); free(info); free(dead); free(seg);
        if (!ok) { clip_fail(err, CLIP_ERR_IO, "%s: mmap failed: %s", path, strerror(errno)); v2 = -1; }
    }
    close(fd);
    if (v2 < 0) { clip_model_free(m); munmap(map, len); return NULL; }
    if (v2) { munmap(map, len); map = (uint8_t *)m->map + page_up(m->table.total * sizeof(float)); }
    else m->map_len = len;
    if (m->packed && !gemm_avx512_available()) {
        clip_fail(err, CLIP_ERR_UNSUPPORTED, "%s: a packed model file holds the AVX-512 kernel's layout and this CPU has no "
                  "AVX-512: load the original checkpoint instead", path);
        clip_model_free(m);
        return NULL;
    }
    /* start reading a file that is not in the page cache yet, in the background (a no-op for
     * one that is): the first encode then waits for less of it */
    madvise(map, len, MADV_WILLNEED);
    if (opts) {
        if (opts->activation >= 0) m->cfg.activation = opts->activation;
        if (opts->text_heads > 0) m->cfg.text_heads = opts->text_heads;
        if (opts->vision_heads > 0) m->cfg.vision_heads = opts->vision_heads;
        if ((m->cfg.text_width && m->cfg.text_width % m->cfg.text_heads) ||
            (m->cfg.vision_kind == CLIP_VISION_VIT && m->cfg.vision_width % m->cfg.vision_heads)) {
            clip_fail(err, CLIP_ERR_INVALID, "the head count does not divide the width");
            clip_model_free(m);
            return NULL;
        }
        int rc = 0;
        if (v2 && m->precision != CLIP_PRECISION_FP32) rc = 0;   /* already at its precision (checked below) */
        else if (opts->precision == CLIP_PRECISION_BF16) rc = model_pack_bf16(m, err);   /* copies on write, as a load */
        else if (opts->precision == CLIP_PRECISION_INT8) rc = model_pack_int8(m, err);
        else if (opts->plain_weights) rc = model_unpack(m, err);
        if (rc) { clip_model_free(m); return NULL; }
    }
    int want = opts ? opts->precision : CLIP_PRECISION_FP32;
    if (v2 && m->precision != CLIP_PRECISION_FP32 && want != m->precision) {
        /* the fp32 weights are not in the file, and bf16 <-> int8 would compound two roundings */
        const char *have = pname;
        clip_fail(err, CLIP_ERR_INVALID, "%s: this packed file holds %s weights: load it with precision %s (--precision %s), not %s, "
                  "or convert the original checkpoint for that precision", path, have, have, have,
                  want == CLIP_PRECISION_BF16 ? "bf16" : want == CLIP_PRECISION_INT8 ? "int8" : "fp32");
        clip_model_free(m);
        return NULL;
    }
    return m;
}

/* ---------------------------------------------------------------- writing */

/* Writes n zero bytes. */
static int put_zeros(FILE *out, size_t n) {
    static const uint8_t z[4096];
    for (size_t k; n; n -= k) {
        k = n < sizeof z ? n : sizeof z;
        if (fwrite(z, 1, k, out) != k) return -1;
    }
    return 0;
}

/* Version 2: m at bf16 / int8, or fp32 with fp16 panels (see the top of this file). */
static int save_v2(clip_model *m, const char *path, clip_error *err) {
    const char *prec = m->precision == CLIP_PRECISION_BF16 ? "bf16" : m->precision == CLIP_PRECISION_INT8 ? "int8" : "fp32";
    int n = model_pack_count(m), rc = 0, nd = 0, ns = 0;
    size_t blk = m->table.total * sizeof(float), kept = 0;
    char *mask = malloc((size_t)n + 1), *cfg = config_to_json(&m->cfg), *oai = model_config_json(&m->cfg), *json = NULL;
    model_mat_info *info = malloc((n + 1) * sizeof *info);
    range *dead = malloc((n + 1) * sizeof *dead), *seg = malloc((n + 2) * sizeof *seg);
    size_t *at = malloc((n + 1) * sizeof *at);   /* each pk tensor's offset in the data */
    cJSON *root = cJSON_CreateObject();
    if (!mask || !cfg || !oai || !info || !dead || !seg || !at || !root || model_mats_info(m, info) != n) {
        rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) mask[i] = model_mat_code(m, i);
    mask[n] = 0;
    ns = live_segments(info, mask, n, blk, dead, &nd, seg, &kept);
    char nr[16], total[32];
    snprintf(nr, sizeof nr, "%d", GEMM_NR);
    snprintf(total, sizeof total, "%zu", m->table.total);
    const char *meta[] = {"format", NATIVE_FORMAT, "clip_packed_version", NATIVE_VERSION_Q, "panel_width", nr, "precision", prec,
                          "packed", mask, "clip_config", cfg, "config", oai, "params", total};
    cJSON *mo = cJSON_AddObjectToObject(root, "__metadata__");
    for (size_t i = 0; mo && i < sizeof meta / sizeof meta[0]; i += 2) cJSON_AddStringToObject(mo, meta[i], meta[i + 1]);
    size_t off = 0;
    for (int i = -1; i < n; i++) {   /* -1: params */
        if (i >= 0 && !is_moved(mask[i])) continue;
        size_t bytes = i < 0 ? kept : m->pk[i].bytes;
        char key[32];
        snprintf(key, sizeof key, i < 0 ? "params" : "pk.%d", i);
        off = page_up(off);
        if (i >= 0) at[i] = off;
        cJSON *t = cJSON_AddObjectToObject(root, key), *sh = cJSON_CreateArray(), *o = cJSON_CreateArray();
        cJSON_AddStringToObject(t, "dtype", "U8");
        cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)bytes));
        cJSON_AddItemToObject(t, "shape", sh);
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(off + bytes)));
        cJSON_AddItemToObject(t, "data_offsets", o);
        off += bytes;
    }
    if (!(json = cJSON_PrintUnformatted(root))) { rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); goto done; }
    size_t jl = strlen(json), padded = page_up(8 + jl) - 8;   /* the data starts on a page */
    atomic_file af;
    if ((rc = atomic_open(&af, path, err))) goto done;
    uint8_t hdr[8];
    for (int i = 0; i < 8; i++) hdr[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    int bad = fwrite(hdr, 1, 8, af.f) != 8 || fwrite(json, 1, jl, af.f) != jl;
    for (size_t i = jl; !bad && i < padded; i++) bad = fputc(' ', af.f) == EOF;
    /* the kept segments, with the 'b'/'q'/'h' matrices' bytes inside them written as zeros */
    const uint8_t *b = (const uint8_t *)m->params;
    for (int j = 0, d = 0; !bad && j < ns; j++) {
        size_t pos = seg[j].a;
        while (d < nd && dead[d].b <= pos) d++;
        for (int k = d; !bad && k < nd && dead[k].a < seg[j].b; k++) {
            size_t za = dead[k].a > pos ? dead[k].a : pos, zb = dead[k].b < seg[j].b ? dead[k].b : seg[j].b;
            bad = fwrite(b + pos, 1, za - pos, af.f) != za - pos || put_zeros(af.f, zb - za);
            pos = zb;
        }
        if (!bad) bad = fwrite(b + pos, 1, seg[j].b - pos, af.f) != seg[j].b - pos;
    }
    off = kept;
    for (int i = 0; !bad && i < n; i++) {
        if (!is_moved(mask[i])) continue;
        bad = put_zeros(af.f, at[i] - off) || fwrite(m->pk[i].data, 1, m->pk[i].bytes, af.f) != m->pk[i].bytes;
        off = at[i] + m->pk[i].bytes;
    }
    if (bad) { atomic_abort(&af); rc = clip_fail(err, CLIP_ERR_IO, "%s: write failed", path); }
    else rc = atomic_commit(&af, err);
done:
    cJSON_Delete(root);
    free(json); free(mask); free(cfg); free(oai); free(info); free(dead); free(seg); free(at);
    return rc;
}

int native_save(clip_model *m, const char *path, clip_error *err) {
    if (m->precision != CLIP_PRECISION_FP32) return save_v2(m, path, err);
    if (!gemm_avx512_available())
        return clip_fail(err, CLIP_ERR_UNSUPPORTED, "%s: the packed layout is the AVX-512 kernel's and this CPU has no AVX-512: "
                         "a packed file cannot be made here", path);
    /* matrices the kernel cannot take (a width not a multiple of the panel) stay plain, marked '0' */
    int was_plain = !m->packed, n = model_pack_count(m), rc;
    if (was_plain && (rc = model_pack(m, err))) return rc;
    if (clip_model_fp16_matrices(m, NULL)) {   /* fp16 panels (fp16-exact weights): a version 2 file */
        rc = save_v2(m, path, err);
        goto restore;
    }
    char *mask = malloc((size_t)n + 1), *cfg = config_to_json(&m->cfg), *oai = model_config_json(&m->cfg);
    char nr[16], total[32];
    snprintf(nr, sizeof nr, "%d", GEMM_NR);
    snprintf(total, sizeof total, "%zu", m->table.total);
    if (!mask || !cfg || !oai) rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
    else {
        model_packed_mask(m, mask);
        const char *meta[] = {"format", NATIVE_FORMAT, "clip_packed_version", NATIVE_VERSION, "panel_width", nr,
                              "packed", mask, "clip_config", cfg, "config", oai, "params", total};
        st_write_item item = {"params", 1, {(int64_t)m->table.total}, m->params};
        rc = st_save_ex(path, &item, 1, meta, (int)(sizeof meta / sizeof meta[0]) / 2, ST_F32, NATIVE_ALIGN, err);
    }
    free(mask); free(cfg); free(oai);
restore:
    if (was_plain) {   /* leave the model as it came */
        int rc2 = model_unpack(m, rc ? NULL : err);
        if (!rc) rc = rc2;
    }
    return rc;
}
