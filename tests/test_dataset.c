/* Training sets from files: TSV manifests and tar shards (written here by the test's own tar
 * writer). Pixels must equal the image module's decode + OpenAI preprocessing of the same file
 * (the image module is itself checked against PIL), tokens must equal clip_tokenize's, groups
 * must follow the group column, and bad rows and archives must fail with messages naming the
 * file and line or member. */
#include "testutil.h"
#include "train/train.h"
#include "core/rng.h"
#include <sys/stat.h>
#include <unistd.h>

enum { S = 16, CTX = 12 };
#define FMT "tests/data/image/fmt/"

static char dir[64];
static char cwd[1024];

static void put(const char *name, const void *data, size_t n) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    CHECK(f && fwrite(data, 1, n, f) == n, "write %s", p);
    if (f) fclose(f);
}

static void put_text(const char *name, const char *text) { put(name, text, strlen(text)); }

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); exit(1); }
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*n + 1);
    if (fread(b, 1, *n, f) != *n) exit(1);
    fclose(f);
    return b;
}

/* ---- a minimal ustar writer (independent of the reader under test) */

typedef struct { unsigned char *b; size_t n, cap; } buf;

static void bput(buf *t, const void *p, size_t n) {
    if (t->n + n > t->cap) { t->cap = (t->n + n) * 2 + 4096; t->b = realloc(t->b, t->cap); }
    memcpy(t->b + t->n, p, n);
    t->n += n;
}

static void tar_member(buf *t, const char *name, char type, const void *data, size_t n) {
    unsigned char h[512] = {0};
    snprintf((char *)h, 100, "%s", name);
    memcpy(h + 100, "0000644", 8);
    memcpy(h + 108, "0000000", 8);
    memcpy(h + 116, "0000000", 8);
    snprintf((char *)h + 124, 12, "%011o", (unsigned)n);
    memcpy(h + 136, "00000000000", 12);
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    bput(t, h, 512);
    bput(t, data, n);
    static const unsigned char zero[512];
    if (n % 512) bput(t, zero, 512 - n % 512);
}

static void tar_end(buf *t) {
    static const unsigned char zero[1024];
    bput(t, zero, 1024);
}

/* ---- expectations from the image module and the tokenizer */

static void expect_pixels(const char *path, const clip_image_opts *io, float *px) {
    clip_image im;
    clip_error e = {0};
    CHECK(clip_image_load_file(path, io, &im, &e) == 0, "%s", e.msg);
    CHECK(clip_image_preprocess(&im, S, NULL, px, &e) == 0, "%s", e.msg);
    clip_image_free(&im);
}

static void expect_tokens(const char *text, int32_t *ids) {
    clip_error e = {0};
    clip_tokenizer *tok = clip_tokenizer_load(NULL, &e);
    int n;
    memset(ids, 0, CTX * sizeof *ids);
    CHECK(tok && clip_tokenize(tok, text, strlen(text), CTX, 1, ids, &n, &e) == 0, "%s", e.msg);
    clip_tokenizer_free(tok);
}

static clip_dataset *open_ds(const char *name, int cache, clip_error *e) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    clip_dataset_opts o;
    clip_dataset_opts_defaults(&o);
    o.image_size = S;
    o.context_length = CTX;
    o.cache_images = cache;
    return clip_dataset_open_opts(p, &o, e);
}

static int load(const clip_dataset *ds, int i, clip_rng *r, float *px, int32_t *tok, clip_error *e) {
    const data_source *d = dataset_source(ds);
    static const data_augment aug = {0.9f, 0, 0};
    return d->load(d, i, r, r ? &aug : NULL, px, tok, e);
}

static void expect_fail(const char *name, int cache, const char *want1, const char *want2) {
    clip_error e = {0};
    clip_dataset *ds = open_ds(name, cache, &e);
    CHECK(ds == NULL, "%s should not open", name);
    CHECK(e.status != 0 && strstr(e.msg, want1) && (!want2 || strstr(e.msg, want2)), "%s: message '%s' should name '%s' and '%s'",
          name, e.msg, want1, want2 ? want2 : "");
    clip_dataset_free(ds);
}

static void test_manifest(void) {
    static float px[3 * S * S], want[3 * S * S], px2[3 * S * S];
    int32_t tok[CTX], wtok[CTX];
    clip_error e = {0};
    size_t n;
    char *png = slurp(FMT "rgb8.png", &n);
    put("a.png", png, n);
    free(png);
    char m[4096], p_rgba[1200], p_jpg[1200], p_a[300];
    snprintf(p_rgba, sizeof p_rgba, "%s/" FMT "rgba8.png", cwd);
    snprintf(p_jpg, sizeof p_jpg, "%s/" FMT "baseline.jpg", cwd);
    snprintf(p_a, sizeof p_a, "%s/a.png", dir);
    const char *long_cap = "a very long caption that goes on and on well past the twelve tokens of this test context";
    snprintf(m, sizeof m,
             "# image\tcaption\tgroup\n"
             "a.png\ta red square\tg1\n"
             "\n"
             "a.png\tthe same image, another caption\tg1\r\n"
             "%s\t%s\n"
             "%s\ta photo\tg2\n",
             p_rgba, long_cap, p_jpg);
    put_text("m.tsv", m);
    clip_dataset *ds = open_ds("m.tsv", 0, &e);
    CHECK(ds != NULL, "%s", e.msg);
    if (!ds) return;
    const data_source *d = dataset_source(ds);
    CHECK(clip_dataset_size(ds) == 4 && clip_dataset_images(ds) == 3, "%d pairs, %d images", clip_dataset_size(ds), clip_dataset_images(ds));
    CHECK(d->S == S && d->ctx == CTX, "size");
    CHECK(d->group && d->group[0] == d->group[1] && d->group[2] != d->group[0] && d->group[3] != d->group[0] &&
          d->group[3] != d->group[2], "groups");
    const char *paths[4] = {p_a, p_a, p_rgba, p_jpg};
    const char *caps[4] = {"a red square", "the same image, another caption", long_cap, "a photo"};
    for (int i = 0; i < 4; i++) {
        CHECK(load(ds, i, NULL, px, tok, &e) == 0, "load %d: %s", i, e.msg);
        expect_pixels(paths[i], NULL, want);
        expect_tokens(caps[i], wtok);
        CHECK(!memcmp(px, want, sizeof px), "pair %d: pixels differ from the image module's preprocessing", i);
        CHECK(!memcmp(tok, wtok, sizeof tok), "pair %d: tokens differ from clip_tokenize", i);
    }
    CHECK(tok[0] == 49406, "start token");
    load(ds, 2, NULL, px, tok, &e);
    CHECK(tok[CTX - 1] == 49407, "a long caption is truncated with <|endoftext|> last");

    /* augmentation: a pure function of the stream; differs from the plain crop */
    clip_rng r1, r2;
    data_sample_rng(&r1, 7, 1, 5);
    data_sample_rng(&r2, 7, 1, 5);
    CHECK(load(ds, 3, &r1, px, tok, &e) == 0 && load(ds, 3, &r2, px2, tok, &e) == 0, "%s", e.msg);
    CHECK(!memcmp(px, px2, sizeof px), "same stream, different augmentation");
    expect_pixels(p_jpg, NULL, want);
    int differs = 0;
    for (int k = 0; k < 8 && !differs; k++) {
        data_sample_rng(&r1, 7, 1, 100 + k);
        load(ds, 3, &r1, px, tok, &e);
        differs = memcmp(px, want, sizeof px) != 0;
    }
    CHECK(differs, "augmentation never changed the image");

    /* colour jitter and flips: jitter 0 + flip gives the image or its exact mirror; jitter keeps
     * every value inside the normalised [0,1] range and changes the image */
    {
        enum { SS = 8 };
        static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f}, sd[3] = {0.26862954f, 0.26130258f, 0.27577711f};
        float img[3 * SS * SS], out[3 * SS * SS];
        clip_rng rr;
        rng_seed(&rr, 5);
        for (int k = 0; k < 3 * SS * SS; k++) img[k] = (float)(rng_uniform(&rr) * 3.0 - 1.5);
        int mirrored = 0, same = 0;
        for (int t = 0; t < 16; t++) {
            memcpy(out, img, sizeof img);
            data_sample_rng(&rr, 1, 0, t);
            data_color_flip(out, SS, &rr, &(data_augment){0.9f, 0, 1});
            int is_same = !memcmp(out, img, sizeof img), is_mirror = 1;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < SS; y++)
                    for (int x = 0; x < SS; x++)
                        is_mirror &= out[(c * SS + y) * SS + x] == img[(c * SS + y) * SS + SS - 1 - x];
            CHECK(is_same || is_mirror, "flip %d is neither the image nor its mirror", t);
            same += is_same; mirrored += is_mirror;
        }
        CHECK(same > 0 && mirrored > 0, "16 draws gave %d unflipped, %d flipped", same, mirrored);
        memcpy(out, img, sizeof img);
        data_sample_rng(&rr, 1, 0, 99);
        data_color_flip(out, SS, &rr, &(data_augment){0.9f, 0.4f, 0});
        int changed = 0, inside = 1;
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < SS * SS; k++) {
                float v = out[c * SS * SS + k], v01 = v * sd[c] + mean[c];
                inside &= v01 >= -1e-5f && v01 <= 1 + 1e-5f;
                changed |= v != img[c * SS * SS + k];
            }
        CHECK(inside && changed, "jitter: inside [0,1] %d, changed %d", inside, changed);
    }

    /* cached images give the same bytes, with and without augmentation */
    clip_dataset *dc = open_ds("m.tsv", 1, &e);
    CHECK(dc != NULL, "%s", e.msg);
    for (int i = 0; dc && i < 4; i++) {
        data_sample_rng(&r1, 3, 0, i);
        data_sample_rng(&r2, 3, 0, i);
        load(ds, i, &r1, px, tok, &e);
        load(dc, i, &r2, px2, tok, &e);
        CHECK(!memcmp(px, px2, sizeof px), "pair %d: cached image differs (augmented)", i);
        load(dc, i, NULL, px2, tok, &e);
        expect_pixels(paths[i], NULL, want);
        CHECK(!memcmp(want, px2, sizeof px), "pair %d: cached image differs", i);
    }
    clip_dataset_free(dc);
    clip_dataset_free(ds);

    /* compositing onto a background */
    snprintf(m, sizeof m, "%s\ttransparent\n%s\tx\n", p_rgba, p_jpg);
    put_text("c.tsv", m);
    char cp[256];
    snprintf(cp, sizeof cp, "%s/c.tsv", dir);
    clip_dataset_opts o;
    clip_dataset_opts_defaults(&o);
    o.image_size = S; o.context_length = CTX; o.composite = 1; o.bg[0] = 0; o.bg[1] = 128; o.bg[2] = 255;
    ds = clip_dataset_open_opts(cp, &o, &e);
    CHECK(ds != NULL, "%s", e.msg);
    clip_image_opts io = {0};
    io.composite = 1; io.bg[0] = 0; io.bg[1] = 128; io.bg[2] = 255;
    expect_pixels(p_rgba, &io, want);
    CHECK(ds && load(ds, 0, NULL, px, tok, &e) == 0 && !memcmp(px, want, sizeof px), "composited pixels differ");
    expect_pixels(p_rgba, NULL, want);
    CHECK(memcmp(px, want, sizeof px) != 0, "compositing changed nothing");
    CHECK(ds && !dataset_source(ds)->group, "no group column: no groups");
    clip_dataset_free(ds);

    /* bad manifests */
    put_text("missing.tsv", "a.png\tfine\n# comment\nnope.png\tmissing\n");
    expect_fail("missing.tsv", 0, "line 3", "nope.png");
    put_text("fields.tsv", "a.png\tcap\tg\textra\n");
    expect_fail("fields.tsv", 0, "line 1", "found 4");
    put_text("onefield.tsv", "a.png\tcap\na.png\n");
    expect_fail("onefield.tsv", 0, "line 2", "fields");
    put_text("empty.tsv", "a.png\t\n");
    expect_fail("empty.tsv", 0, "line 1", "empty caption");
    put_text("nothing.tsv", "# only a comment\n");
    expect_fail("nothing.tsv", 0, "nothing.tsv", "no image-caption pairs");
    put_text("badutf8.tsv", "a.png\tbad \xff byte\n");
    expect_fail("badutf8.tsv", 0, "line 1", "caption");
    expect_fail("none.tsv", 0, "none.tsv", NULL);
    /* an image that does not decode: found at load time (the line is named), or at open when cached */
    put_text("junk.png", "this is not a png");
    put_text("junk.tsv", "a.png\tok\njunk.png\tbroken\n");
    ds = open_ds("junk.tsv", 0, &e);
    CHECK(ds != NULL, "%s", e.msg);
    CHECK(ds && load(ds, 0, NULL, px, tok, &e) == 0, "%s", e.msg);
    e.msg[0] = 0;
    CHECK(ds && load(ds, 1, NULL, px, tok, &e) != 0 && strstr(e.msg, "junk.png") && strstr(e.msg, "line 2"),
          "undecodable image: '%s'", e.msg);
    clip_dataset_free(ds);
    expect_fail("junk.tsv", 1, "junk.png", "line 2");
}

static void test_tar(void) {
    static float px[3 * S * S], want[3 * S * S];
    int32_t tok[CTX], wtok[CTX];
    clip_error e = {0};
    size_t npng, njpg, nwebp;
    char *png = slurp(FMT "rgb8.png", &npng), *jpg = slurp(FMT "baseline.jpg", &njpg), *webp = slurp(FMT "lossy.webp", &nwebp);
    mkdir(strcat(strcpy((char[128]){0}, dir), "/shards"), 0755);
    buf a = {0}, b = {0};
    tar_member(&a, "sub/", '5', "", 0);
    tar_member(&a, "sub/000.png", '0', png, npng);
    tar_member(&a, "sub/000.txt", '0', "a red square\n", 13);
    tar_member(&a, "sub/000.group", '0', " g1\n", 4);
    tar_member(&a, "sub/000.json", '0', "{}", 2);
    tar_member(&a, "001.JPG", '0', jpg, njpg);
    tar_member(&a, "001.txt", '0', "a photo", 7);
    tar_member(&a, "001.group", '0', "g1", 2);
    tar_end(&a);
    /* a GNU long name for the second shard's first sample */
    char longkey[160];
    memset(longkey, 'k', 130);
    strcpy(longkey + 130, ".webp");
    tar_member(&b, "././@LongLink", 'L', longkey, strlen(longkey) + 1);
    tar_member(&b, "kkkk_truncated", '0', webp, nwebp);
    memcpy(longkey + 130, ".txt", 5);
    tar_member(&b, "././@LongLink", 'L', longkey, strlen(longkey) + 1);
    tar_member(&b, "kkkk_truncated_txt", '0', "webp art", 8);
    tar_end(&b);
    put("shards/b.tar", b.b, b.n);   /* written first: shards are read in name order */
    put("shards/a.tar", a.b, a.n);
    put("shards/notes.txt", "not a shard", 11);
    clip_dataset *ds = open_ds("shards", 0, &e);
    CHECK(ds != NULL, "%s", e.msg);
    if (ds) {
        const data_source *d = dataset_source(ds);
        CHECK(d->n == 3, "%d pairs", d->n);
        CHECK(d->group && d->group[0] == d->group[1] && d->group[2] != d->group[0], "groups from .group members");
        const char *paths[3] = {FMT "rgb8.png", FMT "baseline.jpg", FMT "lossy.webp"};
        const char *caps[3] = {"a red square", "a photo", "webp art"};
        for (int i = 0; i < 3 && i < d->n; i++) {
            CHECK(load(ds, i, NULL, px, tok, &e) == 0, "load %d: %s", i, e.msg);
            expect_pixels(paths[i], NULL, want);
            expect_tokens(caps[i], wtok);
            CHECK(!memcmp(px, want, sizeof px), "tar pair %d: pixels differ", i);
            CHECK(!memcmp(tok, wtok, sizeof tok), "tar pair %d: tokens differ", i);
        }
        clip_dataset_free(ds);
    }
    ds = open_ds("shards/a.tar", 1, &e);
    CHECK(ds && clip_dataset_size(ds) == 2, "a single shard: %s", e.msg);
    clip_dataset_free(ds);

    /* bad archives */
    buf c = {0};
    bput(&c, a.b, a.n);
    c.b[512 + 3] ^= 1;   /* the second header's name: checksum mismatch */
    put("badsum.tar", c.b, c.n);
    expect_fail("badsum.tar", 0, "badsum.tar", "checksum");
    put("cut.tar", a.b, 512 + 512 + 100);   /* the png member claims more than is left */
    expect_fail("cut.tar", 0, "cut.tar", "past the end");
    put("cuthdr.tar", a.b, 512 + 512 + 512 * ((npng + 511) / 512) + 200);
    expect_fail("cuthdr.tar", 0, "cuthdr.tar", "truncated tar header");
    c.n = 0;
    tar_member(&c, "x.png", '0', png, npng);
    tar_member(&c, "y.txt", '0', "orphan", 6);
    tar_end(&c);
    put("notxt.tar", c.b, c.n);
    expect_fail("notxt.tar", 0, "notxt.tar", "'x' has an image but no 'x.txt'");
    c.n = 0;
    tar_member(&c, "x.png", '0', "garbage", 7);
    tar_member(&c, "x.txt", '0', "cap", 3);
    tar_end(&c);
    put("junk.tar", c.b, c.n);
    ds = open_ds("junk.tar", 0, &e);
    CHECK(ds != NULL, "%s", e.msg);
    CHECK(ds && load(ds, 0, NULL, px, tok, &e) != 0 && strstr(e.msg, "junk.tar: x.png"), "undecodable member: '%s'", e.msg);
    clip_dataset_free(ds);
    put_text("text.tar", "this is plainly not a tar archive, but it is long enough to hold a header?");
    expect_fail("text.tar", 0, "text.tar", NULL);
    mkdir(strcat(strcpy((char[128]){0}, dir), "/empty"), 0755);
    expect_fail("empty", 0, "no .tar shards", NULL);
    free(a.b); free(b.b); free(c.b); free(png); free(jpg); free(webp);
}

int main(void) {
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    strcpy(dir, "/tmp/clip_dataset_XXXXXX");
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    test_manifest();
    test_tar();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
    TEST_END();
}
