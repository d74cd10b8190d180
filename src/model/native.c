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
 *   params               the block's length in floats */
#include "model/model.h"
#include "io/safetensors.h"
#include "core/error.h"
#include "core/gemm_avx512.h"   /* GEMM_NR and the CPU check: the layout is this kernel's */
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

/* ---------------------------------------------------------------- reading */

static int meta_is(const st_file *f, const char *key, const char *want) {
    const char *v = st_meta(f, key);
    return v && !strcmp(v, want);
}

/* A model whose block is the "params" tensor of f, inside the buffer base (the file's image):
 * every header field checked, the packed views bound, nothing of the block read. */
static clip_model *from_buffer(const st_file *f, const uint8_t *base, const char *name, clip_error *err) {
    if (!native_is_packed(f)) { clip_fail(err, CLIP_ERR_FORMAT, "%s: not a packed clip.c model (format metadata)", name); return NULL; }
    const char *ver = st_meta(f, "clip_packed_version");
    if (!ver || strcmp(ver, NATIVE_VERSION)) {
        clip_fail(err, CLIP_ERR_UNSUPPORTED, "%s: packed model version '%.20s'; this build reads version " NATIVE_VERSION
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
    if (!t || f->n != 1 || t->dtype != ST_F32 || t->ndim != 1) {
        clip_fail(err, CLIP_ERR_FORMAT, "%s: packed model: needs exactly one tensor, 'params', F32, 1-d", name);
        return NULL;
    }
    size_t offset = (size_t)(t->data - base);
    if (offset % 64) { clip_fail(err, CLIP_ERR_FORMAT, "%s: packed model: the block starts at byte %zu, not 64-byte aligned", name, offset); return NULL; }
    clip_model *m = calloc(1, sizeof *m);
    if (!m) { clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); return NULL; }
    m->cfg = cfg;
    m->max_batch = 16;
    m->map = (void *)base;   /* not malloc'd: clip_model_free leaves it alone unless map_len is set */
    if (params_build(&m->cfg, &m->table, err)) { clip_model_free(m); return NULL; }
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
    clip_model *m = from_buffer(f, base, name, err);
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
    close(fd);
    if (map == MAP_FAILED) { clip_fail(err, CLIP_ERR_IO, "%s: mmap failed: %s", path, strerror(errno)); return NULL; }
    st_file f;
    if (st_parse(map, len, path, &f, err)) { munmap(map, len); return NULL; }
    clip_model *m = from_buffer(&f, map, path, err);
    st_close(&f);   /* frees the parsed header only: f.map is NULL after st_parse */
    if (!m) { munmap(map, len); return NULL; }
    m->map_len = len;
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
        if (opts->precision == CLIP_PRECISION_BF16) rc = model_pack_bf16(m, err);   /* copies on write, as a load */
        else if (opts->precision == CLIP_PRECISION_INT8) rc = model_pack_int8(m, err);
        else if (opts->plain_weights) rc = model_unpack(m, err);
        if (rc) { clip_model_free(m); return NULL; }
    }
    return m;
}

/* ---------------------------------------------------------------- writing */

int native_save(clip_model *m, const char *path, clip_error *err) {
    if (m->precision != CLIP_PRECISION_FP32)
        return clip_fail(err, CLIP_ERR_UNSUPPORTED, "%s: a model loaded with %s weights cannot be written packed; load it in fp32", path,
                         m->precision == CLIP_PRECISION_INT8 ? "int8" : "bf16");
    if (!gemm_avx512_available())
        return clip_fail(err, CLIP_ERR_UNSUPPORTED, "%s: the packed layout is the AVX-512 kernel's and this CPU has no AVX-512: "
                         "a packed file cannot be made here", path);
    /* matrices the kernel cannot take (a width not a multiple of the panel) stay plain, marked '0' */
    int was_plain = !m->packed, n = model_pack_count(m), rc;
    if (was_plain && (rc = model_pack(m, err))) return rc;
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
    if (was_plain) {   /* leave the model as it came */
        int rc2 = model_unpack(m, rc ? NULL : err);
        if (!rc) rc = rc2;
    }
    return rc;
}
