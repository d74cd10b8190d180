#include "io/file.h"
#include "core/error.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read_all(const char *path, size_t max_bytes, char **data, size_t *len, clip_error *err) {
    *data = NULL; *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return clip_fail(err, CLIP_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return clip_fail(err, CLIP_ERR_IO, "%s: not a regular file", path);
    }
    if ((size_t)st.st_size > max_bytes) {
        fclose(f);
        return clip_fail(err, CLIP_ERR_INVALID, "%s: file too large (%lld bytes, limit %zu)",
                         path, (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) { fclose(f); return clip_fail(err, CLIP_ERR_NOMEM, "%s: out of memory", path); }
    size_t got = n ? fread(buf, 1, n, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) { free(buf); return clip_fail(err, CLIP_ERR_IO, "%s: read failed", path); }
    buf[n] = 0;
    *data = buf; *len = n;
    return 0;
}

int atomic_open(atomic_file *af, const char *path, clip_error *err) {
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    af->final_path = strdup(path);
    af->tmp_path = malloc(n + 32);
    if (!af->final_path || !af->tmp_path) { atomic_abort(af); return clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); }
    snprintf(af->tmp_path, n + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(af->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        free(af->tmp_path); af->tmp_path = NULL;
        atomic_abort(af);
        return clip_fail(err, CLIP_ERR_IO, "%s: cannot create: %s", path, strerror(e));
    }
    af->f = fdopen(fd, "wb");
    if (!af->f) { close(fd); atomic_abort(af); return clip_fail(err, CLIP_ERR_IO, "%s: fdopen failed", path); }
    return 0;
}

int atomic_commit(atomic_file *af, clip_error *err) {
    int ok = af->f != NULL;
    if (ok && fflush(af->f) != 0) ok = 0;
    if (ok && ferror(af->f)) ok = 0;
    if (ok && fsync(fileno(af->f)) != 0) ok = 0;
    if (af->f && fclose(af->f) != 0) ok = 0;
    af->f = NULL;
    if (ok && rename(af->tmp_path, af->final_path) != 0) ok = 0;
    if (!ok) {
        int e = errno;
        char msg[400];
        snprintf(msg, sizeof msg, "%s: write failed: %s", af->final_path ? af->final_path : "?", strerror(e));
        atomic_abort(af);
        return clip_fail(err, CLIP_ERR_IO, "%s", msg);
    }
    /* fsync the directory so the rename itself survives a crash */
    char *dir = strdup(af->final_path);
    if (dir) {
        char *slash = strrchr(dir, '/');
        const char *d = ".";
        if (slash) { if (slash == dir) slash[1] = 0; else *slash = 0; d = dir; }
        int dfd = open(d, O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) { fsync(dfd); close(dfd); }
        free(dir);
    }
    free(af->tmp_path); free(af->final_path);
    af->tmp_path = af->final_path = NULL;
    return 0;
}

void atomic_abort(atomic_file *af) {
    if (af->f) { fclose(af->f); af->f = NULL; }
    if (af->tmp_path) { unlink(af->tmp_path); free(af->tmp_path); af->tmp_path = NULL; }
    free(af->final_path); af->final_path = NULL;
}
