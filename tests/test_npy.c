/* .npy reader/writer: round trip, and malformed headers rejected with an error. */
#include "testutil.h"
#include <unistd.h>

/* Builds a v1.0 .npy image from a header dict and raw data bytes. */
static size_t mk(char *out, const char *dict, const char *data, size_t dn) {
    size_t h = strlen(dict);
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (char)(h & 255); out[9] = (char)(h >> 8);
    memcpy(out + 10, dict, h);
    memcpy(out + 10 + h, data, dn);
    return 10 + h + dn;
}

static int parse(const char *s, size_t n) {
    npy_array a; clip_error e = {0};
    int rc = npy_parse(s, n, "x.npy", &a, &e);
    if (!rc) npy_free(&a);
    return rc;
}

int main(void) {
    float v[6] = {1, 2, 3, 4, 5, 6.5f};
    int64_t shape[2] = {2, 3};
    clip_error e = {0};
    const char *p = "build/test_npy_tmp.npy";
    CHECK(npy_save(p, NPY_F4, 2, shape, v, &e) == 0, "%s", e.msg);
    npy_array a;
    CHECK(npy_load(p, &a, &e) == 0, "%s", e.msg);
    CHECK(a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3 && a.dtype == NPY_F4, "shape");
    CHECK(a.count == 6 && memcmp(a.data, v, sizeof v) == 0, "data");
    npy_free(&a);
    int32_t iv[3] = {49406, 7, 49407};
    int64_t s1[1] = {3};
    CHECK(npy_save(p, NPY_I4, 1, s1, iv, &e) == 0, "%s", e.msg);
    CHECK(npy_load(p, &a, &e) == 0 && a.ndim == 1 && a.shape[0] == 3 && ((int32_t *)a.data)[2] == 49407, "1-d");
    npy_free(&a);
    unlink(p);
    /* golden file made by numpy */
    CHECK(npy_load("tests/data/golden/tokens.npy", &a, &e) == 0, "%s", e.msg);
    CHECK(a.dtype == NPY_I4 && a.ndim == 2 && a.shape[1] == 77, "golden tokens shape");
    npy_free(&a);
    /* malformed */
    CHECK(parse("", 0) == CLIP_ERR_FORMAT, "empty");
    CHECK(parse("\x93NUMPY\x01\x00\xff\xff", 10) == CLIP_ERR_FORMAT, "header past end");
    char buf[256];
    size_t n = mk(buf, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }\n", "abcdefgh", 8);
    CHECK(parse(buf, n) == CLIP_ERR_FORMAT, "complex dtype rejected");
    n = mk(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", "abcd", 4);
    CHECK(parse(buf, n) == CLIP_ERR_FORMAT, "data shorter than shape");
    n = mk(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", "abcdefgh", 8);
    CHECK(parse(buf, n) == 0, "well-formed control case parses");
    n = mk(buf, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n", "abcdefgh", 8);
    CHECK(parse(buf, n) == CLIP_ERR_UNSUPPORTED, "fortran order rejected");
    CHECK(npy_load("tests/data/does-not-exist.npy", &a, &e) == CLIP_ERR_IO, "missing file");
    TEST_END();
}
