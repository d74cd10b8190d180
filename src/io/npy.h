/* NumPy .npy files (version 1.0/2.0, little-endian, C order): read with full validation,
 * write atomically as version 1.0. */
#ifndef CLIP_IO_NPY_H
#define CLIP_IO_NPY_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "clip.h"

typedef enum { NPY_F4, NPY_F8, NPY_I4, NPY_I8, NPY_U1 } npy_dtype;

typedef struct npy_array {
    npy_dtype dtype;
    int ndim;
    int64_t shape[8];
    size_t count;     /* product of shape */
    void *data;       /* malloc'd, count elements of dtype */
} npy_array;

int npy_load(const char *path, npy_array *a, clip_error *err);
/* Parses an in-memory .npy image (used by npy_load and the fuzzer). Copies the data. */
int npy_parse(const char *buf, size_t len, const char *name, npy_array *a, clip_error *err);
void npy_free(npy_array *a);
size_t npy_dtype_size(npy_dtype t);
const char *npy_dtype_name(npy_dtype t);   /* "<f4", ... */
/* Converts in place to float32 / int32 (from f8 / i8); fails on lossy i8 values. */
int npy_to_f32(npy_array *a, clip_error *err);
int npy_to_i32(npy_array *a, clip_error *err);

/* Writes a v1.0 header; the caller streams count elements after it (e.g. into an atomic_file). */
int npy_write_header(FILE *f, npy_dtype dtype, int ndim, const int64_t *shape);
int npy_save(const char *path, npy_dtype dtype, int ndim, const int64_t *shape,
             const void *data, clip_error *err);
#endif
