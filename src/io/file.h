/* Whole-file reads and atomic writes (temp file in the same directory, fsync, rename),
 * so an output is either complete or absent. */
#ifndef CLIP_IO_FILE_H
#define CLIP_IO_FILE_H
#include <stddef.h>
#include <stdio.h>
#include "clip.h"

/* Reads a whole file (up to max_bytes) into a malloc'd buffer with a NUL appended. */
int file_read_all(const char *path, size_t max_bytes, char **data, size_t *len, clip_error *err);

typedef struct atomic_file {
    FILE *f;
    char *tmp_path;
    char *final_path;
} atomic_file;

int atomic_open(atomic_file *af, const char *path, clip_error *err);
/* Flushes, fsyncs and renames into place; on failure removes the temp file. */
int atomic_commit(atomic_file *af, clip_error *err);
/* Abandons the write: removes the temp file. Safe to call after a failed commit. */
void atomic_abort(atomic_file *af);
#endif
