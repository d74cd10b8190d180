/* The clip_model handle: loading (both key layouts), initialising, saving, and the public
 * encode functions, which run the towers in chunks over one reusable workspace. */
#include "model/model.h"
#include "model/resnet.h"
#include "io/safetensors.h"
#include "io/file.h"
#include "core/error.h"
#include "core/matmul.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <unistd.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define HUGE_PAGE ((size_t)2 << 20)

clip_model *model_alloc(const clip_config *cfg, clip_error *err) {
    clip_model *m = calloc(1, sizeof *m);
    if (!m) { clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); return NULL; }
    m->cfg = *cfg;
    m->max_batch = 16;
    if (params_build(&m->cfg, &m->table, err)) { clip_model_free(m); return NULL; }
    /* 64-byte aligned: packed weights are read with aligned loads (model/pack.c); 2 MB aligned
     * and advised for transparent huge pages, which saves ~150k page faults per ViT-B load */
    size_t bytes = (m->table.total * sizeof(float) + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    m->params = aligned_alloc(HUGE_PAGE, bytes);
    if (m->params) madvise(m->params, bytes, MADV_HUGEPAGE);
    if (!m->params) {
        clip_fail(err, CLIP_ERR_NOMEM, "out of memory for %zu parameters", m->table.total);
        clip_model_free(m);
        return NULL;
    }
    params_bind(&m->cfg, &m->table, m->params, &m->p);
    return m;
}

void clip_model_free(clip_model *m) {
    if (!m) return;
    params_table_free(&m->table);
    if (m->map_len) munmap(m->map, m->map_len);   /* a packed file (model/native.c) */
    else if (!m->map) free(m->params);            /* (map without map_len: a buffer not ours) */
    for (int i = 0; m->pk && i < m->npk; i++) matmul_packed_b_free(m->pk + i); /* owned ones only */
    free(m->pk);
    free(m->ws);
    free(m);
}

const clip_config *clip_model_get_config(const clip_model *m) { return &m->cfg; }
float clip_model_logit_scale(const clip_model *m) { return m->p.logit_scale ? m->p.logit_scale[0] : 0.0f; }
size_t clip_model_num_params(const clip_model *m) { return m->table.total; }

/* Hugging Face names for an OpenAI key: up to three sources (q|k|v are concatenated into
 * in_proj), or one transposed source (the projections are nn.Linear weights there). */
static int hf_sources(const char *name, char src[3][128], int *transpose) {
    *transpose = 0;
    const char *tower = NULL, *rest = name;
    if (!strncmp(name, "visual.transformer.resblocks.", 29)) { tower = "vision_model"; rest = name + 29; }
    else if (!strncmp(name, "transformer.resblocks.", 22)) { tower = "text_model"; rest = name + 22; }
    if (tower) {
        int l = atoi(rest);
        const char *k = strchr(rest, '.');
        if (!k) return 0;
        k++;
        static const char *MAP[][2] = {
            {"ln_1.weight", "layer_norm1.weight"}, {"ln_1.bias", "layer_norm1.bias"},
            {"ln_2.weight", "layer_norm2.weight"}, {"ln_2.bias", "layer_norm2.bias"},
            {"attn.out_proj.weight", "self_attn.out_proj.weight"}, {"attn.out_proj.bias", "self_attn.out_proj.bias"},
            {"mlp.c_fc.weight", "mlp.fc1.weight"}, {"mlp.c_fc.bias", "mlp.fc1.bias"},
            {"mlp.c_proj.weight", "mlp.fc2.weight"}, {"mlp.c_proj.bias", "mlp.fc2.bias"},
        };
        for (size_t i = 0; i < sizeof MAP / sizeof MAP[0]; i++)
            if (!strcmp(k, MAP[i][0])) { snprintf(src[0], 128, "%s.encoder.layers.%d.%s", tower, l, MAP[i][1]); return 1; }
        const char *suffix = !strcmp(k, "attn.in_proj_weight") ? "weight" : !strcmp(k, "attn.in_proj_bias") ? "bias" : NULL;
        if (!suffix) return 0;
        const char *qkv[3] = {"q", "k", "v"};
        for (int i = 0; i < 3; i++) snprintf(src[i], 128, "%s.encoder.layers.%d.self_attn.%s_proj.%s", tower, l, qkv[i], suffix);
        return 3;
    }
    static const char *FLAT[][2] = {
        {"visual.conv1.weight", "vision_model.embeddings.patch_embedding.weight"},
        {"visual.class_embedding", "vision_model.embeddings.class_embedding"},
        {"visual.positional_embedding", "vision_model.embeddings.position_embedding.weight"},
        {"visual.ln_pre.weight", "vision_model.pre_layrnorm.weight"}, {"visual.ln_pre.bias", "vision_model.pre_layrnorm.bias"},
        {"visual.ln_post.weight", "vision_model.post_layernorm.weight"}, {"visual.ln_post.bias", "vision_model.post_layernorm.bias"},
        {"token_embedding.weight", "text_model.embeddings.token_embedding.weight"},
        {"positional_embedding", "text_model.embeddings.position_embedding.weight"},
        {"ln_final.weight", "text_model.final_layer_norm.weight"}, {"ln_final.bias", "text_model.final_layer_norm.bias"},
        {"logit_scale", "logit_scale"},
    };
    for (size_t i = 0; i < sizeof FLAT / sizeof FLAT[0]; i++)
        if (!strcmp(name, FLAT[i][0])) { snprintf(src[0], 128, "%s", FLAT[i][1]); return 1; }
    if (!strcmp(name, "visual.proj")) { snprintf(src[0], 128, "visual_projection.weight"); *transpose = 1; return 1; }
    if (!strcmp(name, "text_projection")) { snprintf(src[0], 128, "text_projection.weight"); *transpose = 1; return 1; }
    return 0;
}

static int shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    int k = snprintf(buf, n, "[");
    for (int i = 0; i < ndim; i++) k += snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    return k + snprintf(buf + k, n - k, "]");
}

/* Reads n bytes at off of fd into dst. pread, not the mapping: the file's pages then never enter
 * this process's resident set, so loading peaks at one copy of the weights instead of two. */
static int read_at(int fd, void *dst, size_t n, off_t off) {
    char *d = dst;
    while (n) {
        ssize_t r = pread(fd, d, n, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        d += r; n -= (size_t)r; off += r;
    }
    return 0;
}

/* 1 if no value is Inf or NaN (all exponent bits set), as a branch-free scan the compiler
 * vectorises: a per-element isfinite() with an early return was a third of the load time. */
static int all_finite(const float *x, size_t n) {
    const uint32_t *u = (const uint32_t *)x;
    uint32_t bad = 0;
    for (size_t j = 0; j < n; j++) bad |= (uint32_t)((u[j] & 0x7f800000u) == 0x7f800000u);
    return !bad;
}

static int load_entry(clip_model *m, const param_entry *e, const st_file *f, int fd, clip_error *err) {
    float *dst = m->params + e->offset;
    char src[3][128];
    int transpose = 0, ns = 1;
    if (m->cfg.layout == CLIP_LAYOUT_HF) {
        ns = hf_sources(e->name, src, &transpose);
        if (!ns) return clip_fail(err, CLIP_ERR_UNSUPPORTED, "no Hugging Face name known for '%s'", e->name);
    } else {
        snprintf(src[0], 128, "%s", e->name);
    }
    size_t part = e->numel / ns;
    for (int i = 0; i < ns; i++) {
        const st_tensor *t = st_find(f, src[i]);
        if (!t) return clip_fail(err, CLIP_ERR_MISSING, "checkpoint has no tensor '%s'", src[i]);
        int ok = t->numel == part;
        if (ok && ns == 1 && !transpose && e->ndim > 0) {
            ok = t->ndim == e->ndim;
            for (int d = 0; ok && d < e->ndim; d++) ok = t->shape[d] == e->shape[d];
        }
        if (ok && transpose) ok = t->ndim == 2 && t->shape[0] == e->shape[1] && t->shape[1] == e->shape[0];
        if (!ok) {
            char want[96], got[96];
            shape_str(want, sizeof want, e->ndim, e->shape);
            shape_str(got, sizeof got, t->ndim, t->shape);
            return clip_fail(err, CLIP_ERR_FORMAT, "tensor '%s' has shape %s; the architecture needs %s%s", src[i], got, want,
                             ns > 1 ? " (in thirds)" : transpose ? " (transposed)" : "");
        }
        int rc;
        if (!transpose && fd >= 0 && t->dtype == ST_F32) {
            if (read_at(fd, dst + i * part, t->nbytes, (off_t)(t->data - (const uint8_t *)f->map)))
                return clip_fail(err, CLIP_ERR_IO, "cannot read tensor '%s': %s", src[i], strerror(errno ? errno : EIO));
        } else if (!transpose && fd >= 0 && (t->dtype == ST_F16 || t->dtype == ST_BF16) && t->nbytes == part * 2) {
            /* read into the upper half of the tensor's own floats, then widen front to back (each
             * value is read before its bytes are overwritten): the file's pages are never mapped
             * in, so an f16 checkpoint's load peaks at the fp32 block, not block + file */
            st_tensor in = *t;
            in.data = (const uint8_t *)(dst + i * part) + part * 2;
            if (read_at(fd, (void *)in.data, t->nbytes, (off_t)(t->data - (const uint8_t *)f->map)))
                return clip_fail(err, CLIP_ERR_IO, "cannot read tensor '%s': %s", src[i], strerror(errno ? errno : EIO));
            if ((rc = st_read_f32(&in, dst + i * part, err))) return rc;
        } else if (!transpose) {
            if ((rc = st_read_f32(t, dst + i * part, err))) return rc;
        } else {
            float *tmp = malloc(t->numel * sizeof(float));
            if (!tmp) return clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
            if ((rc = st_read_f32(t, tmp, err))) { free(tmp); return rc; }
            int64_t R = t->shape[0], C = t->shape[1];
            for (int64_t r = 0; r < R; r++)
                for (int64_t c = 0; c < C; c++) dst[c * R + r] = tmp[r * C + c];
            free(tmp);
        }
    }
    if (!all_finite(dst, e->numel)) return clip_fail(err, CLIP_ERR_FORMAT, "tensor '%s' holds a non-finite value", src[0]);
    return 0;
}

int weights_load(clip_model *m, const st_file *f, clip_error *err) { return weights_load_fd(m, f, -1, err); }

int weights_load_fd(clip_model *m, const st_file *f, int fd, clip_error *err) {
    for (int i = 0; i < m->table.n; i++) {
        int rc = load_entry(m, &m->table.e[i], f, fd, err);
        if (rc) return rc;
    }
    return 0;
}

clip_model *clip_model_load(const char *path, const clip_load_opts *opts, clip_error *err) {
    clip_error_clear(err);
    struct stat st;
    if (stat(path, &st) != 0) { clip_fail(err, CLIP_ERR_IO, "%s: no such file or directory", path); return NULL; }
    char file[4096], cfgpath[4096];
    char *config_json = NULL;
    size_t cfg_len = 0;
    if (S_ISDIR(st.st_mode)) {
        snprintf(file, sizeof file, "%s/model.safetensors", path);
        snprintf(cfgpath, sizeof cfgpath, "%s/config.json", path);
        struct stat cs;
        if (stat(cfgpath, &cs) == 0 && file_read_all(cfgpath, 16 << 20, &config_json, &cfg_len, err)) return NULL;
    } else {
        snprintf(file, sizeof file, "%s", path);
    }
    st_file f;
    if (st_open(file, &f, err)) { free(config_json); return NULL; }
    if (native_is_packed(&f)) {   /* our inference layout: mapped, not read */
        st_close(&f);
        free(config_json);
        if (opts && opts->precision != CLIP_PRECISION_FP32 && opts->precision != CLIP_PRECISION_BF16 &&
            opts->precision != CLIP_PRECISION_INT8) {
            clip_fail(err, CLIP_ERR_INVALID, "clip_load_opts.precision %d is not fp32 (0), bf16 (1) or int8 (2)", opts->precision);
            return NULL;
        }
        return native_load(file, opts, err);
    }
    clip_config cfg;
    int rc = config_from_checkpoint(&f, config_json, &cfg, err);
    free(config_json);
    if (rc) {
        char msg[sizeof err->msg];
        if (err) { snprintf(msg, sizeof msg, "%.200s: %.300s", file, err->msg); snprintf(err->msg, sizeof err->msg, "%s", msg); }
        st_close(&f);
        return NULL;
    }
    if (opts && opts->precision != CLIP_PRECISION_FP32 && opts->precision != CLIP_PRECISION_BF16 &&
        opts->precision != CLIP_PRECISION_INT8) {
        clip_fail(err, CLIP_ERR_INVALID, "clip_load_opts.precision %d is not fp32 (0), bf16 (1) or int8 (2)", opts->precision);
        st_close(&f);
        return NULL;
    }
    if (opts) {
        if (opts->activation >= 0) cfg.activation = opts->activation;
        if (opts->text_heads > 0) cfg.text_heads = opts->text_heads;
        if (opts->vision_heads > 0) cfg.vision_heads = opts->vision_heads;
        if ((cfg.text_width && cfg.text_width % cfg.text_heads) || (cfg.vision_kind == CLIP_VISION_VIT && cfg.vision_width % cfg.vision_heads)) {
            clip_fail(err, CLIP_ERR_INVALID, "the head count does not divide the width");
            st_close(&f);
            return NULL;
        }
    }
    clip_model *m = model_alloc(&cfg, err);
    if (!m) { st_close(&f); return NULL; }
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    errno = 0;
    rc = weights_load_fd(m, &f, fd, err);
    if (fd >= 0) close(fd);
    st_close(&f);
    if (rc) {
        char msg[sizeof err->msg];
        if (err) { snprintf(msg, sizeof msg, "%.200s: %.300s", file, err->msg); snprintf(err->msg, sizeof err->msg, "%s", msg); }
        clip_model_free(m);
        return NULL;
    }
    if (opts && opts->precision == CLIP_PRECISION_BF16) {
        if (model_pack_bf16(m, err)) { clip_model_free(m); return NULL; }
    } else if (opts && opts->precision == CLIP_PRECISION_INT8) {
        if (model_pack_int8(m, err)) { clip_model_free(m); return NULL; }
    } else if (!(opts && opts->plain_weights) && model_pack(m, err)) {
        clip_model_free(m);
        return NULL;
    }
    return m;
}

clip_model *clip_model_init(const clip_config *cfg_in, uint64_t seed, clip_error *err) {
    clip_config cfg = *cfg_in;
    clip_config_defaults(&cfg);
    clip_model *m = model_alloc(&cfg, err);
    if (!m) return NULL;
    params_init(&m->table, m->params, seed);
    return m;
}

/* OpenAI's CLIP(...) arguments plus what the names and shapes can't say (heads, activation). */
static char *config_meta(const clip_config *c) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "embed_dim", c->embed_dim);
    cJSON_AddNumberToObject(j, "image_resolution", c->image_size);
    if (c->vision_kind == CLIP_VISION_RESNET) {
        cJSON *a = cJSON_AddArrayToObject(j, "vision_layers");
        for (int i = 0; i < 4; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(c->rn_layers[i]));
    } else {
        cJSON_AddNumberToObject(j, "vision_layers", c->vision_layers);
        cJSON_AddNumberToObject(j, "vision_patch_size", c->patch_size);
    }
    cJSON_AddNumberToObject(j, "vision_width", c->vision_width);
    cJSON_AddNumberToObject(j, "vision_heads", c->vision_heads);
    cJSON_AddNumberToObject(j, "context_length", c->context_length);
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(j, "transformer_width", c->text_width);
    cJSON_AddNumberToObject(j, "transformer_heads", c->text_heads);
    cJSON_AddNumberToObject(j, "transformer_layers", c->text_layers);
    cJSON_AddStringToObject(j, "activation", c->activation == CLIP_ACT_GELU ? "gelu" : "quick_gelu");
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* The checkpoint layout of block (laid out like m), with OpenAI key names, as dtype. */
static int save_block(const clip_model *m, const float *block, const char *path, st_dtype dtype, const char *const *extra_meta,
                      int n_extra, clip_error *err) {
    st_write_item *items = calloc(m->table.n, sizeof *items);
    char *cfg = config_meta(&m->cfg);
    const char **meta = calloc(2 * (n_extra + 2), sizeof(char *));
    if (!items || !cfg || !meta) { free(items); free(cfg); free(meta); return clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); }
    for (int i = 0; i < m->table.n; i++) {
        const param_entry *e = &m->table.e[i];
        items[i].name = e->name;
        items[i].ndim = e->ndim;
        memcpy(items[i].shape, e->shape, sizeof e->shape);
        items[i].data = block + e->offset;
    }
    meta[0] = "format"; meta[1] = "pt"; meta[2] = "config"; meta[3] = cfg;
    for (int i = 0; i < n_extra; i++) { meta[4 + 2 * i] = extra_meta[2 * i]; meta[5 + 2 * i] = extra_meta[2 * i + 1]; }
    int rc = st_save_ex(path, items, m->table.n, meta, 2 + n_extra, dtype, 8, err);
    free(items); free(cfg); free(meta);
    return rc;
}

int clip_model_save_with(const clip_model *m, const float *block, const char *path, const char *const *extra_meta, int n_extra,
                         clip_error *err) {
    return save_block(m, block, path, ST_F32, extra_meta, n_extra, err);
}

int clip_dtype_from_name(const char *name) {
    if (!name) return -1;
    if (!strcmp(name, "f32") || !strcmp(name, "fp32")) return CLIP_DTYPE_F32;
    if (!strcmp(name, "f16") || !strcmp(name, "fp16")) return CLIP_DTYPE_F16;
    if (!strcmp(name, "bf16")) return CLIP_DTYPE_BF16;
    return -1;
}

int clip_model_save_dtype(const clip_model *m, const char *path, int dtype, clip_error *err) {
    if (dtype != CLIP_DTYPE_F32 && dtype != CLIP_DTYPE_F16 && dtype != CLIP_DTYPE_BF16)
        return clip_fail(err, CLIP_ERR_INVALID, "%s: dtype %d is not f32 (0), f16 (1) or bf16 (2)", path, dtype);
    if (m->precision != CLIP_PRECISION_FP32)
        return clip_fail(err, CLIP_ERR_UNSUPPORTED,
                         "%s: a model loaded with %s weights cannot be saved (its fp32 weights are gone); load it "
                         "in fp32", path, m->precision == CLIP_PRECISION_INT8 ? "int8" : "bf16");
    clip_model *mm = (clip_model *)m;
    int repack = m->packed, rc = 0;
    /* the file holds the checkpoint layout: unpack for the write, then pack again */
    if (repack && (rc = model_unpack(mm, err))) return rc;
    if (dtype == CLIP_DTYPE_F16) {   /* a value past f16's range would be stored as Inf, which no loader takes */
        for (int i = 0; i < m->table.n && !rc; i++) {
            const param_entry *e = &m->table.e[i];
            for (size_t j = 0; j < e->numel; j++)
                if (fabsf(m->params[e->offset + j]) > 65504.0f) {
                    rc = clip_fail(err, CLIP_ERR_INVALID, "%s: tensor '%s' holds %g, beyond f16's range (65504): use bf16 or f32",
                                   path, e->name, (double)m->params[e->offset + j]);
                    break;
                }
        }
    }
    st_dtype t = dtype == CLIP_DTYPE_F16 ? ST_F16 : dtype == CLIP_DTYPE_BF16 ? ST_BF16 : ST_F32;
    if (!rc) rc = save_block(m, m->params, path, t, NULL, 0, err);
    if (repack) {
        int rc2 = model_pack(mm, rc ? NULL : err);
        if (!rc) rc = rc2;
    }
    return rc;
}

int clip_model_save(const clip_model *m, const char *path, clip_error *err) {
    return clip_model_save_dtype(m, path, CLIP_DTYPE_F32, err);
}

int clip_model_save_packed(clip_model *m, const char *path, clip_error *err) { return native_save(m, path, err); }
int clip_model_is_mapped(const clip_model *m) { return m->map_len > 0; }

void clip_set_threads(int n) {
    if (n > 0) omp_set_num_threads(n);
    matmul_set_threads(n);
}

void clip_normalize(float *x, int n, int d) {
    for (int i = 0; i < n; i++) {
        float *r = x + (size_t)i * d;
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)r[j] * r[j];
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (int j = 0; j < d; j++) r[j] *= inv;
    }
}

static int ensure_ws(clip_model *m, size_t floats, clip_error *err) {
    if (m->ws_cap >= floats) return 0;
    float *ws = realloc(m->ws, floats * sizeof(float));
    if (!ws) return clip_fail(err, CLIP_ERR_NOMEM, "out of memory for the encoder workspace (%zu MB)", floats * 4 >> 20);
    m->ws = ws;
    m->ws_cap = floats;
    return 0;
}

int clip_encode_image(clip_model *m, const float *pixels, int n, float *out, clip_error *err) {
    if (n < 0 || (n && (!pixels || !out))) return clip_fail(err, CLIP_ERR_INVALID, "encode_image: bad arguments");
    size_t S = m->cfg.image_size, per = 3 * S * S;
    int rn = m->cfg.vision_kind == CLIP_VISION_RESNET;
    for (int i = 0; i < n; i += m->max_batch) {
        int B = n - i < m->max_batch ? n - i : m->max_batch;
        int rc = ensure_ws(m, rn ? resnet_acts_size(&m->cfg, B, 0) : vit_acts_size(&m->cfg, B, 1), err);
        if (rc) return rc;
        if (rn) {   /* ModifiedResNet (model/resnet.c); its pointer table is ~40 KB: on the heap */
            rn_acts *a = malloc(sizeof *a);
            if (!a) return clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
            resnet_acts_bind(a, m->ws, &m->cfg, B, 0);
            rc = resnet_forward(m, a, pixels + i * per, B, out + (size_t)i * m->cfg.embed_dim);
            free(a);
            if (rc) return clip_fail(err, rc, "out of memory");
            continue;
        }
        vit_acts a;
        vit_acts_bind(&a, m->ws, &m->cfg, B, 1);
        a.tf.infer = 1;
        vit_forward(m, &a, pixels + i * per, B, out + (size_t)i * m->cfg.embed_dim);
    }
    return 0;
}

int clip_encode_text(clip_model *m, const int32_t *tokens, int n, float *out, clip_error *err) {
    if (n < 0 || (n && (!tokens || !out))) return clip_fail(err, CLIP_ERR_INVALID, "encode_text: bad arguments");
    if (!m->cfg.text_width) return clip_fail(err, CLIP_ERR_UNSUPPORTED, "this checkpoint has no text tower");
    size_t ctx = m->cfg.context_length;
    for (size_t j = 0; j < (size_t)n * ctx; j++)
        if (tokens[j] < 0 || tokens[j] >= m->cfg.vocab_size)
            return clip_fail(err, CLIP_ERR_INVALID, "token id %d (row %zu) is outside the vocabulary of %d", tokens[j], j / ctx, m->cfg.vocab_size);
    for (int i = 0; i < n; i += m->max_batch) {
        int B = n - i < m->max_batch ? n - i : m->max_batch;
        int rc = ensure_ws(m, text_acts_size(&m->cfg, B, 1), err);
        if (rc) return rc;
        text_acts a;
        text_acts_bind(&a, m->ws, &m->cfg, B, 1);
        a.tf.infer = 1;
        text_forward(m, &a, tokens + i * ctx, B, m->text_full_ctx, out + (size_t)i * m->cfg.embed_dim);
    }
    return 0;
}

/* OpenAI's CLIP(...) arguments as JSON (malloc'd), the "config" metadata of our checkpoints;
 * training checkpoints write it beside their optimizer state. */
char *model_config_json(const clip_config *c) { return config_meta(c); }
