/* safetensors: a memory-mapped reader that validates the whole header before any tensor is
 * touched (hostile files get an error, never an out-of-bounds read), and an atomic writer. */
#ifndef CLIP_IO_SAFETENSORS_H
#define CLIP_IO_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include "clip.h"

typedef enum { ST_F32, ST_F16, ST_BF16, ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL } st_dtype;

typedef struct st_tensor {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[8];
    size_t numel;
    const uint8_t *data;   /* inside the mapping */
    size_t nbytes;
} st_tensor;

typedef struct st_file {
    void *map;
    size_t map_len;
    int n;
    st_tensor *tensors;    /* sorted by name */
    int n_meta;
    char **meta_keys, **meta_vals;
} st_file;

int st_open(const char *path, st_file *f, clip_error *err);
/* Validates a whole in-memory file image (header + data); used by st_open and the fuzzer.
 * The tensors point into buf, which must outlive f. */
int st_parse(const uint8_t *buf, size_t len, const char *name, st_file *f, clip_error *err);
void st_close(st_file *f);
const st_tensor *st_find(const st_file *f, const char *name);
const char *st_meta(const st_file *f, const char *key);
const char *st_dtype_name(st_dtype t);
size_t st_dtype_size(st_dtype t);
/* Converts a F32/F16/BF16 tensor to float32 into dst (numel floats). */
int st_read_f32(const st_tensor *t, float *dst, clip_error *err);

/* Writer: float32 data, stored as F32, plus string metadata. */
typedef struct st_write_item {
    const char *name;
    int ndim;
    int64_t shape[8];
    const float *data;
} st_write_item;
int st_save(const char *path, const st_write_item *items, int n, const char *const *meta_kv, int n_meta,
            clip_error *err);
/* The same with every tensor stored as dtype (ST_F32, or ST_F16 / ST_BF16 rounded to nearest
 * even) and the data starting at a multiple of align bytes from the file's start (a power of two
 * >= 8; the JSON header is padded with spaces, as the format allows), so that a mapping of the
 * file can be used in place (model/native.c uses 4096). */
int st_save_ex(const char *path, const st_write_item *items, int n, const char *const *meta_kv, int n_meta,
               st_dtype dtype, size_t align, clip_error *err);
/* float -> IEEE half / bfloat16, rounded to nearest even (half: overflow gives infinity). */
uint16_t st_float_to_f16(float f);
uint16_t st_float_to_bf16(float f);
#endif
