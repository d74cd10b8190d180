#include "io/safetensors.h"
#include "io/file.h"
#include "core/error.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER ((uint64_t)100 << 20)   /* the format's own limit is 100 MB */

static const struct { const char *name; st_dtype t; size_t size; } DTYPES[] = {
    {"F32", ST_F32, 4}, {"F16", ST_F16, 2}, {"BF16", ST_BF16, 2}, {"F64", ST_F64, 8}, {"I64", ST_I64, 8},
    {"I32", ST_I32, 4}, {"I16", ST_I16, 2}, {"I8", ST_I8, 1},     {"U8", ST_U8, 1},   {"BOOL", ST_BOOL, 1},
};
#define NDTYPES (int)(sizeof DTYPES / sizeof DTYPES[0])

const char *st_dtype_name(st_dtype t) { for (int i = 0; i < NDTYPES; i++) if (DTYPES[i].t == t) return DTYPES[i].name; return "?"; }
size_t st_dtype_size(st_dtype t) { for (int i = 0; i < NDTYPES; i++) if (DTYPES[i].t == t) return DTYPES[i].size; return 0; }

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}
static int cmp_offset(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return x->data < y->data ? -1 : x->data > y->data ? 1 : (x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes);
}

/* A JSON number that is a non-negative integer representable exactly. */
static int json_uint(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double v = j->valuedouble;
    if (!(v >= 0) || v > 9007199254740992.0 || floor(v) != v) return 0;
    *out = (uint64_t)v;
    return 1;
}

static void st_free_parsed(st_file *f) {
    for (int i = 0; i < f->n; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->n_meta; i++) { free(f->meta_keys[i]); free(f->meta_vals[i]); }
    free(f->meta_keys); free(f->meta_vals);
    f->tensors = NULL; f->n = 0; f->meta_keys = f->meta_vals = NULL; f->n_meta = 0;
}

int st_parse(const uint8_t *buf, size_t len, const char *fname, st_file *f, clip_error *err) {
    memset(f, 0, sizeof *f);
    if (len < 8) return clip_fail(err, CLIP_ERR_FORMAT, "%s: not a safetensors file (shorter than 8 bytes)", fname);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen > ST_MAX_HEADER) return clip_fail(err, CLIP_ERR_FORMAT, "%s: safetensors header length %llu is too large", fname, (unsigned long long)hlen);
    if (hlen < 2 || hlen > len - 8) return clip_fail(err, CLIP_ERR_FORMAT, "%s: truncated safetensors file (header length %llu, file %zu bytes)", fname, (unsigned long long)hlen, len);
    if (buf[8] != '{') return clip_fail(err, CLIP_ERR_FORMAT, "%s: safetensors header is not a JSON object", fname);
    const uint8_t *data = buf + 8 + hlen;
    size_t data_len = len - 8 - hlen;
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: safetensors header is not valid JSON", fname);
    }
    int count = 0;
    for (cJSON *it = root->child; it; it = it->next) count++;
    f->tensors = calloc(count ? count : 1, sizeof *f->tensors);
    if (!f->tensors) { cJSON_Delete(root); return clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", fname); }
    int rc = 0;
    for (cJSON *it = root->child; it && !rc; it = it->next) {
        if (!it->string) { rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: header entry without a name", fname); break; }
        if (!strcmp(it->string, "__metadata__")) {
            if (!cJSON_IsObject(it)) { rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: __metadata__ is not an object", fname); break; }
            if (f->meta_keys) { rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: the header has two __metadata__ entries", fname); break; }
            int nm = 0;
            for (cJSON *m = it->child; m; m = m->next) nm++;
            f->meta_keys = calloc(nm + 1, sizeof(char *));
            f->meta_vals = calloc(nm + 1, sizeof(char *));
            if (!f->meta_keys || !f->meta_vals) { rc = clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", fname); break; }
            for (cJSON *m = it->child; m; m = m->next) {
                if (!cJSON_IsString(m) || !m->string) { rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: __metadata__ values must be strings", fname); break; }
                f->meta_keys[f->n_meta] = strdup(m->string);
                f->meta_vals[f->n_meta] = strdup(m->valuestring);
                f->n_meta++;
                if (!f->meta_keys[f->n_meta - 1] || !f->meta_vals[f->n_meta - 1]) { rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); break; }
            }
            continue;
        }
        st_tensor *t = &f->tensors[f->n];
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        if (!cJSON_IsObject(it) || !cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2) {
            rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: tensor '%.200s' needs dtype, shape and data_offsets [begin, end]", fname, it->string);
            break;
        }
        int known = 0;
        for (int d = 0; d < NDTYPES; d++) if (!strcmp(dt->valuestring, DTYPES[d].name)) { t->dtype = DTYPES[d].t; known = 1; }
        if (!known) { rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: tensor '%.200s' has unknown dtype '%.20s'", fname, it->string, dt->valuestring); break; }
        int nd = cJSON_GetArraySize(sh);
        if (nd > 8) { rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: tensor '%.200s' has %d dimensions (max 8)", fname, it->string, nd); break; }
        size_t numel = 1;
        int bad = 0;
        for (int d = 0; d < nd; d++) {
            uint64_t v;
            if (!json_uint(cJSON_GetArrayItem(sh, d), &v) || v > ((uint64_t)1 << 40)) { bad = 1; break; }
            t->shape[d] = (int64_t)v;
            if (v && numel > (((size_t)1 << 62) / v)) { bad = 1; break; }
            numel *= v;
        }
        if (bad) { rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: tensor '%.200s' has an invalid shape", fname, it->string); break; }
        uint64_t b, e;
        if (!json_uint(cJSON_GetArrayItem(off, 0), &b) || !json_uint(cJSON_GetArrayItem(off, 1), &e) || b > e || e > data_len) {
            rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: tensor '%.200s' has data_offsets outside the file's %zu data bytes", fname, it->string, data_len);
            break;
        }
        size_t es = st_dtype_size(t->dtype);
        if (numel * es != e - b) {
            rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: tensor '%.200s': shape needs %zu bytes but data_offsets span %llu", fname, it->string, numel * es, (unsigned long long)(e - b));
            break;
        }
        t->name = strdup(it->string);
        if (!t->name) { rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); break; }
        t->ndim = nd; t->numel = numel; t->data = data + b; t->nbytes = e - b;
        f->n++;
    }
    cJSON_Delete(root);
    if (!rc && f->n > 1) {
        qsort(f->tensors, f->n, sizeof *f->tensors, cmp_name);
        for (int i = 1; i < f->n && !rc; i++)
            if (!strcmp(f->tensors[i].name, f->tensors[i - 1].name))
                rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: duplicate tensor name '%.200s'", fname, f->tensors[i].name);
        st_tensor **byoff = rc ? NULL : malloc(f->n * sizeof *byoff);
        if (!rc && !byoff) rc = clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
        if (!rc) {
            for (int i = 0; i < f->n; i++) byoff[i] = &f->tensors[i];
            qsort(byoff, f->n, sizeof *byoff, cmp_offset);
            for (int i = 1; i < f->n && !rc; i++)
                if (byoff[i]->data < byoff[i - 1]->data + byoff[i - 1]->nbytes)
                    rc = clip_fail(err, CLIP_ERR_FORMAT, "%s: tensors '%.150s' and '%.150s' overlap", fname, byoff[i - 1]->name, byoff[i]->name);
        }
        free(byoff);
    }
    if (rc) st_free_parsed(f);
    return rc;
}

int st_open(const char *path, st_file *f, clip_error *err) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return clip_fail(err, CLIP_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); return clip_fail(err, CLIP_ERR_IO, "%s: not a regular file", path); }
    size_t len = (size_t)st.st_size;
    if (len < 8) { close(fd); return clip_fail(err, CLIP_ERR_FORMAT, "%s: not a safetensors file (shorter than 8 bytes)", path); }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return clip_fail(err, CLIP_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
    int rc = st_parse(map, len, path, f, err);
    if (rc) { munmap(map, len); return rc; }
    f->map = map; f->map_len = len;
    return 0;
}

void st_close(st_file *f) {
    st_free_parsed(f);
    if (f->map) munmap(f->map, f->map_len);
    f->map = NULL;
}

const st_tensor *st_find(const st_file *f, const char *name) {
    int lo = 0, hi = f->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(f->tensors[mid].name, name);
        if (!c) return &f->tensors[mid];
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return NULL;
}

const char *st_meta(const st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++) if (!strcmp(f->meta_keys[i], key)) return f->meta_vals[i];
    return NULL;
}

static float half_to_float(uint16_t h) {
    uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 31, m = h & 1023, bits;
    if (e == 0) {
        if (!m) bits = s;
        else { e = 113; while (!(m & 1024)) { m <<= 1; e--; } m &= 1023; bits = s | (e << 23) | (m << 13); }
    } else if (e == 31) bits = s | 0x7f800000u | (m << 13);
    else bits = s | ((e + 112) << 23) | (m << 13);
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

int st_read_f32(const st_tensor *t, float *dst, clip_error *err) {
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case ST_F32: memcpy(dst, p, t->numel * 4); return 0;
    case ST_F16:
        for (size_t i = 0; i < t->numel; i++) dst[i] = half_to_float((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
        return 0;
    case ST_BF16:
        for (size_t i = 0; i < t->numel; i++) {
            uint32_t bits = (uint32_t)(p[2 * i] | (p[2 * i + 1] << 8)) << 16;
            memcpy(&dst[i], &bits, 4);
        }
        return 0;
    default:
        return clip_fail(err, CLIP_ERR_FORMAT, "tensor '%.200s' has dtype %s; expected F32, F16 or BF16", t->name, st_dtype_name(t->dtype));
    }
}

uint16_t st_float_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00);   /* NaN */
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);  /* rounds to 65520 or more: Inf */
    if (ax < 0x38800000u) {                                   /* below 2^-14: a subnormal half */
        if (ax < 0x33000000u) return (uint16_t)sign;          /* 2^-25 or less rounds to zero */
        uint32_t m = (ax & 0x7fffff) | 0x800000, s = 126 - (ax >> 23);
        uint32_t h = m >> s, rem = m & ((1u << s) - 1), half = 1u << (s - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = (ax - 0x38000000u) >> 13, rem = ax & 0x1fff;   /* rebias the exponent 127 -> 15 */
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

uint16_t st_float_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);   /* NaN stays NaN */
    return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

/* Writes numel floats as dtype, converting through a small buffer. */
static int write_data(FILE *f, const float *x, size_t numel, st_dtype dtype) {
    if (dtype == ST_F32) return fwrite(x, 4, numel, f) == numel ? 0 : -1;
    uint16_t buf[4096];
    for (size_t i = 0; i < numel; i += 4096) {
        size_t k = numel - i < 4096 ? numel - i : 4096;
        for (size_t j = 0; j < k; j++) buf[j] = dtype == ST_F16 ? st_float_to_f16(x[i + j]) : st_float_to_bf16(x[i + j]);
        if (fwrite(buf, 2, k, f) != k) return -1;
    }
    return 0;
}

int st_save(const char *path, const st_write_item *items, int n, const char *const *meta_kv, int n_meta, clip_error *err) {
    return st_save_ex(path, items, n, meta_kv, n_meta, ST_F32, 8, err);
}

int st_save_ex(const char *path, const st_write_item *items, int n, const char *const *meta_kv, int n_meta,
               st_dtype dtype, size_t align, clip_error *err) {
    if (align < 8 || (align & (align - 1))) return clip_fail(err, CLIP_ERR_INVALID, "%s: alignment %zu is not a power of two >= 8", path, align);
    if (dtype != ST_F32 && dtype != ST_F16 && dtype != ST_BF16)
        return clip_fail(err, CLIP_ERR_INVALID, "%s: only F32, F16 and BF16 can be written", path);
    cJSON *root = cJSON_CreateObject();
    if (!root) return clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
    if (n_meta > 0) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; m && i < n_meta; i++) cJSON_AddStringToObject(m, meta_kv[2 * i], meta_kv[2 * i + 1]);
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        cJSON *t = cJSON_AddObjectToObject(root, items[i].name);
        cJSON *sh = cJSON_CreateArray();
        for (int d = 0; d < items[i].ndim; d++) { numel *= (size_t)items[i].shape[d]; cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)items[i].shape[d])); }
        size_t es = st_dtype_size(dtype);
        cJSON_AddStringToObject(t, "dtype", st_dtype_name(dtype));
        cJSON_AddItemToObject(t, "shape", sh);
        cJSON *o = cJSON_CreateArray();
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(off + numel * es)));
        cJSON_AddItemToObject(t, "data_offsets", o);
        off += numel * es;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) return clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
    /* the data starts at a multiple of align: 8 + header length is padded up with spaces */
    size_t jl = strlen(json), padded = ((8 + jl + align - 1) & ~(align - 1)) - 8;
    atomic_file af;
    int rc = atomic_open(&af, path, err);
    if (rc) { free(json); return rc; }
    uint8_t hdr[8];
    for (int i = 0; i < 8; i++) hdr[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    fwrite(hdr, 1, 8, af.f);
    fwrite(json, 1, jl, af.f);
    for (size_t i = jl; i < padded; i++) fputc(' ', af.f);
    free(json);
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < items[i].ndim; d++) numel *= (size_t)items[i].shape[d];
        if (numel && write_data(af.f, items[i].data, numel, dtype)) break;
    }
    return atomic_commit(&af, err);
}
