/* clip eval on the tiny fixture data set tests/data/eval/emoji (tests/data/eval/make_fixture.py)
 * with the golden tiny model (random weights): the data-set reader, the JSON's keys and ranges,
 * and the cases whose values follow from the data alone:
 *  - style 'same' shows one grey image for every emoji, so every image has the same features:
 *    text->image ties everywhere and ties count against the model (R@1 0, R@5 1 with a gallery
 *    of 4); image->text ranks the 4 captions the same way for every image, so exactly one of the
 *    4 images (one per concept) is a hit at 1 (R@1 = zero-shot top-1 = 1/4);
 *  - vendorb holds vendora's pixels, so image->image R@1 between them is 1 (CLIP and pixels);
 *  - any gallery of 'same' is all ties: R@1 0;
 *  - 2-way Tux Paint and 1-way val split: top-5 and every recall are 1. */
#include "testutil.h"
#include "eval/emojiset.h"
#include <cjson/cJSON.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIX "tests/data/eval/emoji"
#define MODEL "tests/data/golden/tiny-vit/model.safetensors"

static char tmpdir[64];

static int run(const char *args) {
    char cmd[4096];
    const char *bin = getenv("CLIP_BIN") ? getenv("CLIP_BIN") : "build/clip";
    snprintf(cmd, sizeof cmd, "%s eval --model " MODEL " %s >%s/out.txt 2>%s/err.txt", bin, args, tmpdir, tmpdir);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static cJSON *load_json(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return cJSON_Parse(buf);
}

static double num(const cJSON *o, const char *a, const char *b) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b) x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static const cJSON *pair(const cJSON *root, const char *q, const char *g) {
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(root, "image_to_image")) {
        const cJSON *a = cJSON_GetObjectItem(p, "query"), *b = cJSON_GetObjectItem(p, "gallery");
        if (cJSON_IsString(a) && cJSON_IsString(b) && !strcmp(a->valuestring, q) && !strcmp(b->valuestring, g)) return p;
    }
    return NULL;
}

static void test_reader(void) {
    emoji_set s;
    clip_error e = {0};
    CHECK(eset_open(FIX, &s, &e) == 0, "open: %s", e.msg);
    CHECK(s.n_concepts == 7 && s.n_emoji == 8 && s.n_styles == 5, "%d concepts, %d emoji, %d styles", s.n_concepts, s.n_emoji, s.n_styles);
    int fam = eset_concept_index(&s, "family");
    CHECK(fam == 3 && !strcmp(s.concept_label[fam], "family"), "family concept %d", fam);
    int em = eset_emoji_index(&s, "1f468-200d-1f469-200d-1f466");
    CHECK(em >= 0 && s.emoji_concept[em] == fam, "second family emoji %d", em);
    CHECK(eset_emoji_index(&s, "1f46a-1f3fd") == -1, "skin variant is not a base emoji");
    eset_images im;
    CHECK(eset_style_images(&s, "vendora", "test", &im, &e) == 0, "vendora: %s", e.msg);
    CHECK(im.n == 5, "vendora test: %d base images (the skin row is left out)", im.n);
    int nfam = 0;
    for (int i = 0; i < im.n; i++) nfam += im.concept[i] == fam;
    CHECK(nfam == 2, "family has %d images", nfam);
    CHECK(im.n > 0 && !strcmp(im.path[0], FIX "/images/vendora/1f431.png"), "path %s", im.n ? im.path[0] : "");
    eset_images_free(&im);
    CHECK(eset_style_images(&s, "vendora", NULL, &im, &e) == 0 && im.n == 8, "all splits: %d", im.n);
    eset_images_free(&im);
    CHECK(eset_style_images(&s, "absent", "test", &im, &e) == CLIP_ERR_IO, "a missing table is CLIP_ERR_IO");
    CHECK(eset_tuxpaint_images(&s, &im, &e) == 0 && im.n == 2, "tuxpaint matched rows: %d", im.n);
    eset_images_free(&im);
    eset_free(&s);
    CHECK(eset_open("tests/data/eval/no-such-dir", &s, &e) == CLIP_ERR_IO && strstr(e.msg, "no such"), "missing dir: %s", e.msg);
    CHECK(eset_open("tests/data/eval", &s, &e) == CLIP_ERR_IO && strstr(e.msg, "VERSION"), "no VERSION: %s", e.msg);
}

int main(void) {
    test_reader();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/clip_test_eval.XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    char args[1024], json[256];
    snprintf(json, sizeof json, "%s/r.json", tmpdir);

    /* the whole suite on the test split */
    snprintf(args, sizeof args, "--data " FIX " --threads 2 --json %s", json);
    CHECK(run(args) == 0, "eval exit status");
    cJSON *r = load_json(json);
    CHECK(r != NULL, "JSON written and parsable");
    if (r) {
        const cJSON *st = cJSON_GetObjectItem(r, "styles");
        CHECK(num(r, "n_concepts", NULL) == 4, "4 test concepts");
        CHECK(num(r, "n_templates", NULL) == 8, "emoji templates: %g", num(r, "n_templates", NULL));
        const char *names[3] = {"vendora", "vendorb", "same"};
        const int nimg[3] = {5, 4, 4};
        for (int i = 0; i < 3; i++) {
            const cJSON *s = cJSON_GetObjectItem(st, names[i]);
            CHECK(s != NULL, "style %s present", names[i]);
            CHECK(num(s, "n_images", NULL) == nimg[i], "%s: %g images", names[i], num(s, "n_images", NULL));
            const char *blocks[3] = {"text_to_image", "image_to_text", "zeroshot"};
            const char *keys[3][3] = {{"r1", "r5", "r10"}, {"r1", "r5", "r10"}, {"top1", "top5", NULL}};
            for (int b = 0; b < 3; b++)
                for (int k = 0; k < 3 && keys[b][k]; k++) {
                    double v = num(cJSON_GetObjectItem(s, blocks[b]), keys[b][k], NULL);
                    CHECK(v >= 0 && v <= 1, "%s %s %s = %g", names[i], blocks[b], keys[b][k], v);
                    if (k) CHECK(v >= num(cJSON_GetObjectItem(s, blocks[b]), keys[b][k - 1], NULL), "%s %s: recall grows with k", names[i], blocks[b]);
                }
            /* 4 classes: top-5 and R@5 are certain */
            CHECK(num(cJSON_GetObjectItem(s, "image_to_text"), "r5", NULL) == 1, "%s i2t R@5", names[i]);
            CHECK(num(cJSON_GetObjectItem(s, "zeroshot"), "top5", NULL) == 1, "%s top5", names[i]);
        }
        const cJSON *same = cJSON_GetObjectItem(st, "same");
        CHECK(num(cJSON_GetObjectItem(same, "text_to_image"), "r1", NULL) == 0, "same: t2i R@1 (all tied) = 0");
        CHECK(num(cJSON_GetObjectItem(same, "text_to_image"), "r5", NULL) == 1, "same: t2i R@5 = 1");
        CHECK(num(cJSON_GetObjectItem(same, "image_to_text"), "r1", NULL) == 0.25, "same: i2t R@1 = 1/4, got %g", num(cJSON_GetObjectItem(same, "image_to_text"), "r1", NULL));
        CHECK(num(cJSON_GetObjectItem(same, "zeroshot"), "top1", NULL) == 0.25, "same: zero-shot top1 = 1/4");
        CHECK(num(cJSON_GetObjectItem(cJSON_GetObjectItem(same, "zeroshot"), "chance"), "top1", NULL) == 0.25, "chance 1/4");
        CHECK(num(cJSON_GetObjectItem(same, "text_to_image"), "n_queries", NULL) == 4, "t2i queries");
        CHECK(num(cJSON_GetObjectItem(cJSON_GetObjectItem(st, "vendorb"), "text_to_image"), "n_queries", NULL) == 3, "vendorb has no dog: 3 queries");
        /* skipped styles: 'absent' (listed) and the usual ones the fixture lacks */
        int absent = 0, apple = 0;
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItem(r, "skipped")) {
            const cJSON *n = cJSON_GetObjectItem(p, "style");
            absent += cJSON_IsString(n) && !strcmp(n->valuestring, "absent");
            apple += cJSON_IsString(n) && !strcmp(n->valuestring, "apple");
        }
        CHECK(absent == 1 && apple == 1, "skipped: absent %d, apple %d", absent, apple);
        /* image->image */
        const cJSON *ab = pair(r, "vendora", "vendorb"), *ba = pair(r, "vendorb", "vendora");
        const cJSON *as = pair(r, "vendora", "same"), *sa = pair(r, "same", "vendora");
        CHECK(ab && ba && as && sa, "pairs present");
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(r, "image_to_image")) == 6, "3 styles: 6 ordered pairs");
        if (ab && ba && as && sa) {
            CHECK(num(ab, "n", NULL) == 4 && num(ab, "pixel_r1", NULL) == 1 && num(ab, "clip_r1", NULL) == 1, "identical pixels: R@1 1 (%g, %g)", num(ab, "pixel_r1", NULL), num(ab, "clip_r1", NULL));
            CHECK(num(ba, "pixel_r1", NULL) == 1 && num(ba, "clip_r1", NULL) == 1, "identical pixels, other way");
            CHECK(num(as, "pixel_r1", NULL) == 0 && num(as, "clip_r1", NULL) == 0 && num(as, "clip_concept_r1", NULL) == 0, "tied gallery: R@1 0");
            CHECK(num(sa, "pixel_r1", NULL) == 0.25 && num(sa, "clip_r1", NULL) == 0.25, "identical queries: one of 4 is a hit");
            CHECK(cJSON_IsNull(cJSON_GetObjectItem(ab, "baseline_json_r1")), "no baseline.json: null");
        }
        /* Tux Paint: cat and deciduous tree (the boat has no concept): 2-way */
        const cJSON *tx = cJSON_GetObjectItem(r, "tuxpaint");
        CHECK(num(tx, "n_classes", NULL) == 2, "tux classes %g", num(tx, "n_classes", NULL));
        CHECK(num(cJSON_GetObjectItem(tx, "all"), "n_images", NULL) == 2 && num(cJSON_GetObjectItem(tx, "split"), "n_images", NULL) == 1, "tux images");
        CHECK(num(cJSON_GetObjectItem(tx, "all"), "top5", NULL) == 1, "2-way top5");
        double t1 = num(cJSON_GetObjectItem(tx, "all"), "top1", NULL);
        CHECK(t1 == 0 || t1 == 0.5 || t1 == 1, "tux top1 %g", t1);
        CHECK(num(cJSON_GetObjectItem(tx, "chance"), "top1", NULL) == 0.5, "tux chance");
        cJSON_Delete(r);
    }

    /* a one-concept split: everything is a hit; --styles picks styles; a template file */
    FILE *tf;
    char tfile[256];
    snprintf(tfile, sizeof tfile, "%s/t.txt", tmpdir);
    if ((tf = fopen(tfile, "w"))) { fputs("a photo of {}.\n{}\n", tf); fclose(tf); }
    snprintf(args, sizeof args, "--data " FIX " --split val --styles vendora,tuxpaint --templates %s --json %s", tfile, json);
    CHECK(run(args) == 0, "val split");
    if ((r = load_json(json))) {
        const cJSON *s = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "styles"), "vendora");
        CHECK(num(r, "n_templates", NULL) == 2, "template file");
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(r, "styles")) == 1, "one style");
        CHECK(num(cJSON_GetObjectItem(s, "text_to_image"), "r1", NULL) == 1 && num(cJSON_GetObjectItem(s, "image_to_text"), "r1", NULL) == 1 &&
              num(cJSON_GetObjectItem(s, "zeroshot"), "top1", NULL) == 1, "1-way: all 1");
        CHECK(num(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "tuxpaint"), "split"), "n_images", NULL) == 1, "val stamp");
        cJSON_Delete(r);
    }

    /* errors: missing directory (1, no JSON), bad split (2), help (0) */
    unlink(json);
    snprintf(args, sizeof args, "--data tests/data/eval/no-such-dir --json %s", json);
    CHECK(run(args) == 1, "missing dir exit 1");
    CHECK(access(json, F_OK) != 0, "no JSON on failure");
    CHECK(run("--data " FIX " --split nope") == 2, "bad split exit 2");
    CHECK(run("--split test") == 2, "no --data exit 2");
    CHECK(run("--help") == 0, "help");

    /* an unreadable image: reported, left out, results written, exit 1 */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp -r " FIX " %s/set && printf garbage > %s/set/images/vendorb/1f431.png", tmpdir, tmpdir);
    CHECK(system(cmd) == 0, "copy fixture");
    snprintf(args, sizeof args, "--data %s/set --styles vendorb --json %s", tmpdir, json);
    CHECK(run(args) == 1, "bad image exit 1");
    if ((r = load_json(json))) {
        const cJSON *s = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "styles"), "vendorb");
        CHECK(num(s, "n_images", NULL) == 3 && num(s, "n_failed", NULL) == 1, "bad image left out");
        cJSON_Delete(r);
    } else CHECK(0, "JSON written despite a bad image");

    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
    TEST_END();
}
