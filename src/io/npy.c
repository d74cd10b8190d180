#include "io/npy.h"
#include "io/file.h"
#include "core/error.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAX_FILE ((size_t)16 << 30)

size_t npy_dtype_size(npy_dtype t) {
    switch (t) { case NPY_F4: case NPY_I4: return 4; case NPY_F8: case NPY_I8: return 8; default: return 1; }
}
const char *npy_dtype_name(npy_dtype t) {
    switch (t) { case NPY_F4: return "<f4"; case NPY_F8: return "<f8"; case NPY_I4: return "<i4";
                 case NPY_I8: return "<i8"; default: return "|u1"; }
}

/* Finds 'key': in the header dict and returns a pointer just after the colon. */
static const char *dict_value(const char *h, const char *key) {
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

int npy_parse(const char *buf, size_t len, const char *name, npy_array *a, clip_error *err) {
    memset(a, 0, sizeof *a);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: not a .npy file (bad magic)", name);
    unsigned major = (unsigned char)buf[6];
    size_t hlen, hoff;
    if (major == 1) { hlen = (unsigned char)buf[8] | ((size_t)(unsigned char)buf[9] << 8); hoff = 10; }
    else if (major == 2 || major == 3) {
        if (len < 12) return clip_fail(err, CLIP_ERR_FORMAT, "%s: truncated .npy header", name);
        hlen = (unsigned char)buf[8] | ((size_t)(unsigned char)buf[9] << 8) |
               ((size_t)(unsigned char)buf[10] << 16) | ((size_t)(unsigned char)buf[11] << 24);
        hoff = 12;
    } else return clip_fail(err, CLIP_ERR_FORMAT, "%s: unsupported .npy version %u", name, major);
    if (hlen > 65536 || hoff + hlen > len)
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: truncated or oversized .npy header", name);
    char h[65537];
    memcpy(h, buf + hoff, hlen);
    h[hlen] = 0;
    const char *d = dict_value(h, "descr");
    if (!d || (*d != '\'' && *d != '"'))
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: .npy header has no 'descr'", name);
    d++;
    if (!strncmp(d, "<f4", 3)) a->dtype = NPY_F4;
    else if (!strncmp(d, "<f8", 3)) a->dtype = NPY_F8;
    else if (!strncmp(d, "<i4", 3)) a->dtype = NPY_I4;
    else if (!strncmp(d, "<i8", 3)) a->dtype = NPY_I8;
    else if (!strncmp(d, "|u1", 3) || !strncmp(d, "<u1", 3)) a->dtype = NPY_U1;
    else {
        char dt[8] = {0};
        for (int i = 0; i < 6 && d[i] && d[i] != '\'' && d[i] != '"'; i++) dt[i] = d[i];
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: unsupported dtype '%s' (want <f4, <i4 or |u1)", name, dt);
    }
    if (d[3] != '\'' && d[3] != '"')
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: malformed dtype in .npy header", name);
    const char *fo = dict_value(h, "fortran_order");
    if (!fo) return clip_fail(err, CLIP_ERR_FORMAT, "%s: .npy header has no 'fortran_order'", name);
    if (!strncmp(fo, "True", 4)) return clip_fail(err, CLIP_ERR_UNSUPPORTED, "%s: Fortran-order arrays are not supported", name);
    if (strncmp(fo, "False", 5)) return clip_fail(err, CLIP_ERR_FORMAT, "%s: malformed fortran_order", name);
    const char *s = dict_value(h, "shape");
    if (!s || *s != '(') return clip_fail(err, CLIP_ERR_FORMAT, "%s: .npy header has no 'shape'", name);
    s++;
    size_t count = 1;
    for (;;) {
        while (*s == ' ' || *s == ',') s++;
        if (*s == ')') break;
        if (!isdigit((unsigned char)*s)) return clip_fail(err, CLIP_ERR_FORMAT, "%s: malformed shape", name);
        if (a->ndim == 8) return clip_fail(err, CLIP_ERR_FORMAT, "%s: too many dimensions", name);
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (v > ((uint64_t)1 << 40)) return clip_fail(err, CLIP_ERR_FORMAT, "%s: dimension too large", name);
        a->shape[a->ndim++] = (int64_t)v;
        if (v && count > (((size_t)1 << 62) / v)) return clip_fail(err, CLIP_ERR_FORMAT, "%s: array too large", name);
        count *= v;
        s = end;
    }
    size_t es = npy_dtype_size(a->dtype);
    size_t off = hoff + hlen;
    if (count > (len - off) / es || count * es != len - off)
        return clip_fail(err, CLIP_ERR_FORMAT, "%s: data size %zu does not match shape (%zu elements of %zu bytes)",
                         name, len - off, count, es);
    a->count = count;
    a->data = malloc(count * es + 1);
    if (!a->data) return clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", name);
    memcpy(a->data, buf + off, count * es);
    return 0;
}

int npy_load(const char *path, npy_array *a, clip_error *err) {
    char *buf; size_t len;
    memset(a, 0, sizeof *a);
    int rc = file_read_all(path, NPY_MAX_FILE, &buf, &len, err);
    if (rc) return rc;
    rc = npy_parse(buf, len, path, a, err);
    free(buf);
    return rc;
}

void npy_free(npy_array *a) { free(a->data); memset(a, 0, sizeof *a); }

int npy_to_f32(npy_array *a, clip_error *err) {
    if (a->dtype == NPY_F4) return 0;
    if (a->dtype != NPY_F8) return clip_fail(err, CLIP_ERR_INVALID, "expected a float array, got %s", npy_dtype_name(a->dtype));
    double *s = a->data; float *d = a->data;
    for (size_t i = 0; i < a->count; i++) d[i] = (float)s[i];
    a->dtype = NPY_F4;
    return 0;
}

int npy_to_i32(npy_array *a, clip_error *err) {
    if (a->dtype == NPY_I4) return 0;
    if (a->dtype != NPY_I8) return clip_fail(err, CLIP_ERR_INVALID, "expected an integer array, got %s", npy_dtype_name(a->dtype));
    int64_t *s = a->data; int32_t *d = a->data;
    for (size_t i = 0; i < a->count; i++) {
        if (s[i] < INT32_MIN || s[i] > INT32_MAX) return clip_fail(err, CLIP_ERR_INVALID, "integer value out of int32 range");
        d[i] = (int32_t)s[i];
    }
    a->dtype = NPY_I4;
    return 0;
}

int npy_write_header(FILE *f, npy_dtype dtype, int ndim, const int64_t *shape) {
    char hdr[256];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (", npy_dtype_name(dtype));
    for (int i = 0; i < ndim; i++)
        n += snprintf(hdr + n, sizeof hdr - n, "%lld%s", (long long)shape[i], (ndim == 1 || i < ndim - 1) ? ", " : "");
    if (ndim == 1) n -= 1; /* "(5,)" */
    n += snprintf(hdr + n, sizeof hdr - n, "), }");
    /* pad so that magic(6)+ver(2)+len(2)+header is a multiple of 64, ending in '\n' */
    int total = 10 + n + 1;
    int pad = (64 - total % 64) % 64;
    memset(hdr + n, ' ', pad);
    n += pad;
    hdr[n++] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(n & 255), (unsigned char)(n >> 8)};
    return fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, n, f) == (size_t)n ? 0 : -1;
}

int npy_save(const char *path, npy_dtype dtype, int ndim, const int64_t *shape, const void *data, clip_error *err) {
    size_t count = 1;
    for (int i = 0; i < ndim; i++) count *= (size_t)shape[i];
    atomic_file af;
    int rc = atomic_open(&af, path, err);
    if (rc) return rc;
    npy_write_header(af.f, dtype, ndim, shape);
    if (count) fwrite(data, npy_dtype_size(dtype), count, af.f);
    return atomic_commit(&af, err);
}
