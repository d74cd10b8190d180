/* safetensors: round trip through the writer, and hostile files rejected with a clear error
 * by the library and with exit status 1 by the tool. */
#include "testutil.h"
#include "io/safetensors.h"
#include "io/file.h"
#include <unistd.h>

#define TINY "tests/data/golden/tiny-vit/model.safetensors"

/* A file image: 8-byte header length, header JSON, then data bytes. */
static size_t mk(uint8_t *buf, const char *json, size_t data_len, uint64_t hlen_override) {
    size_t h = strlen(json);
    uint64_t hl = hlen_override ? hlen_override : h;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hl >> (8 * i));
    memcpy(buf + 8, json, h);
    memset(buf + 8 + h, 0x3f, data_len);
    return 8 + h + data_len;
}

static int parse_status(const uint8_t *b, size_t n, char *msg) {
    st_file f;
    clip_error e = {0};
    int rc = st_parse(b, n, "bad.safetensors", &f, &e);
    if (!rc) st_close(&f); else if (msg) strcpy(msg, e.msg);
    return rc;
}

static int write_file(const char *path, const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fwrite(b, 1, n, f);
    return fclose(f);
}

/* Runs the tool on a checkpoint; returns its exit status and checks it printed one line. */
static int tool_status(const char *model) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s info --model %s 2>build/st_err.txt >/dev/null", getenv("CLIP_BIN") ? getenv("CLIP_BIN") : "build/clip", model);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void) {
    static uint8_t b[1 << 16];
    char msg[512];
    size_t n;
    n = mk(b, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, 0);
    CHECK(parse_status(b, n, NULL) == 0, "well-formed control case");
    CHECK(parse_status(b, n - 1, msg) == CLIP_ERR_FORMAT && strstr(msg, "outside"), "truncated data: %s", msg);
    CHECK(parse_status(b, 20, msg) == CLIP_ERR_FORMAT && strstr(msg, "truncated"), "truncated header: %s", msg);
    CHECK(parse_status(b, 5, msg) == CLIP_ERR_FORMAT, "shorter than 8 bytes");
    n = mk(b, "{}", 0, (uint64_t)1 << 40);
    CHECK(parse_status(b, n, msg) == CLIP_ERR_FORMAT && strstr(msg, "too large"), "oversized header: %s", msg);
    n = mk(b, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, 0);
    CHECK(parse_status(b, n, msg) == CLIP_ERR_FORMAT && strstr(msg, "overlap"), "overlapping ranges: %s", msg);
    n = mk(b, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, 0);
    CHECK(parse_status(b, n, msg) == CLIP_ERR_FORMAT && strstr(msg, "duplicate"), "duplicate names: %s", msg);
    n = mk(b, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, 0);
    CHECK(parse_status(b, n, msg) == CLIP_ERR_FORMAT && strstr(msg, "shape"), "shape vs bytes: %s", msg);
    n = mk(b, "{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0);
    CHECK(parse_status(b, n, msg) == CLIP_ERR_FORMAT && strstr(msg, "dtype"), "unknown dtype: %s", msg);
    n = mk(b, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", 8, 0);
    CHECK(parse_status(b, n, msg) == CLIP_ERR_FORMAT && strstr(msg, "JSON"), "invalid JSON: %s", msg);
    n = mk(b, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, 0);
    CHECK(parse_status(b, n, msg) == CLIP_ERR_FORMAT, "negative dim");
    n = mk(b, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, 0);
    CHECK(parse_status(b, n, msg) == CLIP_ERR_FORMAT, "overflowing shape");
    /* a second __metadata__ with more keys than the first once wrote past the key arrays (fuzzer) */
    n = mk(b, "{\"__metadata__\":{\"a\":\"1\"},\"__metadata__\":{\"b\":\"2\",\"c\":\"3\",\"d\":\"4\"}}", 0, 0);
    CHECK(parse_status(b, n, msg) == CLIP_ERR_FORMAT && strstr(msg, "two __metadata__"), "two __metadata__ entries: %s", msg);

    /* round trip through the writer, F16 / BF16 reading */
    clip_error e = {0};
    float v[6] = {1, -2, 0.5f, 3, 65504, -0.25f};
    st_write_item it[2] = {{"x", 2, {2, 3}, v}, {"s", 0, {0}, v + 2}};
    const char *meta[2] = {"k", "v"};
    CHECK(st_save("build/rt.safetensors", it, 2, meta, 1, &e) == 0, "%s", e.msg);
    st_file f;
    CHECK(st_open("build/rt.safetensors", &f, &e) == 0, "%s", e.msg);
    const st_tensor *t = st_find(&f, "x");
    float got[6];
    CHECK(t && t->ndim == 2 && t->shape[1] == 3 && st_read_f32(t, got, &e) == 0 && !memcmp(got, v, sizeof v), "x round trip");
    t = st_find(&f, "s");
    CHECK(t && t->ndim == 0 && t->numel == 1, "0-d tensor");
    CHECK(st_meta(&f, "k") && !strcmp(st_meta(&f, "k"), "v"), "metadata");
    st_close(&f);
    n = mk(b, "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},\"g\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[6,10]}}", 10, 0);
    size_t d0 = n - 10;
    uint8_t half[10] = {0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0x80, 0x3f, 0x40, 0xc0};   /* 1, -2, 2^-24; 1, -3 */
    memcpy(b + d0, half, 10);
    CHECK(st_parse(b, n, "h", &f, &e) == 0, "%s", e.msg);
    CHECK(st_read_f32(st_find(&f, "h"), got, &e) == 0 && got[0] == 1 && got[1] == -2 && got[2] == 5.9604644775390625e-08f, "F16 values");
    CHECK(st_read_f32(st_find(&f, "g"), got, &e) == 0 && got[0] == 1 && got[1] == -3, "BF16 values");
    st_close(&f);

    /* model level: save/load round trip is bitwise; missing tensor and wrong dtype fail clearly */
    clip_model *m = clip_model_load(TINY, NULL, &e);
    CHECK(m != NULL, "%s", e.msg);
    if (m) {
        CHECK(clip_model_save(m, "build/rt_model.safetensors", &e) == 0, "%s", e.msg);
        clip_model *m2 = clip_model_load("build/rt_model.safetensors", NULL, &e);
        CHECK(m2 && clip_model_get_config(m2)->text_heads == 4, "saved config keeps the 4 text heads: %s", e.msg);
        npy_array px = tu_load_npy("tests/data/golden/images/pixels_32.npy");
        float f1[128], f2[128];
        if (m2) {
            CHECK(clip_encode_image(m, px.data, 4, f1, &e) == 0 && clip_encode_image(m2, px.data, 4, f2, &e) == 0 && !memcmp(f1, f2, sizeof f1),
                  "reloaded model gives identical features");
            clip_model_free(m2);
        }
        npy_free(&px);
        clip_model_free(m);
    }
    /* a checkpoint without ln_final.bias, and one whose ln_final.weight is I32 */
    CHECK(st_open(TINY, &f, &e) == 0, "%s", e.msg);
    st_write_item *items = calloc(f.n, sizeof *items);
    float *tmp = malloc(16 << 20);
    int k = 0;
    size_t off = 0;
    for (int i = 0; i < f.n; i++) {
        if (!strcmp(f.tensors[i].name, "ln_final.bias")) continue;
        items[k].name = f.tensors[i].name;
        items[k].ndim = f.tensors[i].ndim;
        memcpy(items[k].shape, f.tensors[i].shape, sizeof items[k].shape);
        st_read_f32(&f.tensors[i], tmp + off, &e);
        items[k].data = tmp + off;
        off += f.tensors[i].numel;
        k++;
    }
    const char *hm[4] = {"config", st_meta(&f, "config"), "vision_heads", "1"};
    CHECK(st_save("build/missing.safetensors", items, k, hm, 2, &e) == 0, "%s", e.msg);
    m = clip_model_load("build/missing.safetensors", NULL, &e);
    CHECK(!m && e.status == CLIP_ERR_MISSING && strstr(e.msg, "ln_final.bias"), "missing tensor: %s", e.msg);
    clip_model_free(m);
    CHECK(tool_status("build/missing.safetensors") == 1, "tool exits 1 on a missing tensor");
    st_close(&f);
    free(items); free(tmp);
    /* wrong dtype: a complete checkpoint whose ln_final.weight says I32 (same byte size) */
    char *img; size_t len;
    CHECK(file_read_all("build/rt_model.safetensors", 1 << 30, &img, &len, &e) == 0, "%s", e.msg);
    char *p = strstr(img + 8, "\"ln_final.weight\":{\"dtype\":\"F32\"");
    CHECK(p != NULL, "ln_final.weight entry found");
    if (p) memcpy(strstr(p, "F32"), "I32", 3);
    write_file("build/wrongdtype.safetensors", (uint8_t *)img, len);
    free(img);
    m = clip_model_load("build/wrongdtype.safetensors", NULL, &e);
    CHECK(!m && strstr(e.msg, "ln_final.weight") && strstr(e.msg, "I32"), "wrong dtype: %s", e.msg);
    clip_model_free(m);
    CHECK(tool_status("build/wrongdtype.safetensors") == 1, "tool exits 1 on a wrong-dtype file");
    n = mk(b, "{}", 0, (uint64_t)1 << 40);
    write_file("build/oversized.safetensors", b, n);
    CHECK(tool_status("build/oversized.safetensors") == 1, "tool exits 1 on an oversized header");
    write_file("build/trunc.safetensors", b, 4);
    CHECK(tool_status("build/trunc.safetensors") == 1, "tool exits 1 on a truncated file");
    unlink("build/rt.safetensors"); unlink("build/rt_model.safetensors"); unlink("build/missing.safetensors");
    unlink("build/wrongdtype.safetensors"); unlink("build/oversized.safetensors"); unlink("build/trunc.safetensors");
    TEST_END();
}
