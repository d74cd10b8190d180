/* clip zeroshot against values computed independently of its code:
 * (1) labels = the six golden captions with the template "{}": the probabilities must be the
 *     softmax of OpenAI's own logits_per_image (golden);
 * (2) a real two-template ensemble, recomputed here in double precision from golden image
 *     features and the (golden-checked) text encoder;
 * plus bad input and the class-embedding cache. */
#include "testutil.h"
#include <cjson/cJSON.h>
#include <sys/wait.h>
#include <unistd.h>

#define G "tests/data/golden/"
#define I "tests/data/image/golden/"
#define MODEL G "tiny-vit/model.safetensors"
#define IMAGES I "gradient.png " I "checkerboard.png " I "noise.png " I "scene.png"

static const char *CAPTIONS[6] = {"a photo of a cat", "a smooth colour gradient", "A yellow and blue CHECKERBOARD!",
                                  "random noise, static & grain", "a house with a red roof, a tree and the sun",
                                  "It's a photo: 2 dogs playing in the snow \xf0\x9f\x90\x95"};

static int run(const char *args, const char *out) {
    char cmd[4096];
    const char *bin = getenv("CLIP_BIN") ? getenv("CLIP_BIN") : "build/clip";
    snprintf(cmd, sizeof cmd, "CLIP_CACHE_DIR=build/zs-cache %s zeroshot --model " MODEL " %s >%s 2>>build/test_zeroshot.err", bin, args, out);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_lines(const char *path, const char *const *s, int n) {
    FILE *f = fopen(path, "w");
    for (int i = 0; f && i < n; i++) fprintf(f, "%s\n", s[i]);
    if (f) fclose(f);
}

/* Reads --json output: probs[image][label index] by label name. Returns the number of images. */
static int read_probs(const char *path, const char *const *labels, int C, double probs[][8]) {
    FILE *f = fopen(path, "r");
    char line[8192];
    int n = 0;
    while (f && fgets(line, sizeof line, f) && n < 8) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *top = cJSON_GetObjectItem(j, "top"), *it;
        for (int c = 0; c < C; c++) probs[n][c] = -1;
        cJSON_ArrayForEach(it, top) {
            const char *l = cJSON_GetObjectItem(it, "label")->valuestring;
            for (int c = 0; c < C; c++) if (!strcmp(l, labels[c])) probs[n][c] = cJSON_GetObjectItem(it, "prob")->valuedouble;
        }
        cJSON_Delete(j);
        n++;
    }
    if (f) fclose(f);
    return n;
}

static void softmax(double *x, int n) {
    double mx = x[0], s = 0;
    for (int i = 1; i < n; i++) if (x[i] > mx) mx = x[i];
    for (int i = 0; i < n; i++) { x[i] = exp(x[i] - mx); s += x[i]; }
    for (int i = 0; i < n; i++) x[i] /= s;
}

static void normalize_d(double *x, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i] * x[i];
    for (int i = 0; i < n; i++) x[i] /= sqrt(s);
}

int main(void) {
    double got[8][8];
    system("rm -rf build/zs-cache");
    /* (1) the golden logits */
    write_lines("build/zs_labels.txt", CAPTIONS, 6);
    const char *brace[1] = {"{}"};
    write_lines("build/zs_tmpl.txt", brace, 1);
    CHECK(run("--labels-file build/zs_labels.txt --templates build/zs_tmpl.txt --top 6 --json " IMAGES, "build/zs1.jsonl") == 0, "run 1");
    npy_array lg = tu_load_npy(G "tiny-vit/logits_per_image.npy");
    int n = read_probs("build/zs1.jsonl", CAPTIONS, 6, got);
    CHECK(n == 4, "4 images classified, got %d", n);
    for (int i = 0; i < 4 && n == 4; i++) {
        double want[6];
        for (int c = 0; c < 6; c++) want[c] = ((float *)lg.data)[i * 6 + c];
        softmax(want, 6);
        for (int c = 0; c < 6; c++) CHECK(fabs(got[i][c] - want[c]) < 2e-5, "image %d label %d: %g vs golden %g", i, c, got[i][c], want[c]);
    }
    npy_free(&lg);

    /* (2) a two-template ensemble recomputed here */
    const char *labels[2] = {"cat", "gradient"};
    const char *tmpl[2] = {"a photo of a {}.", "a blurry drawing of the {}!"};
    write_lines("build/zs_tmpl2.txt", tmpl, 2);
    CHECK(run("--labels cat,gradient --templates build/zs_tmpl2.txt --json " IMAGES, "build/zs2.jsonl") == 0, "run 2");
    n = read_probs("build/zs2.jsonl", labels, 2, got);
    clip_error e = {0};
    clip_model *m = clip_model_load(MODEL, NULL, &e);
    clip_tokenizer *tok = clip_tokenizer_load(NULL, &e);
    CHECK(m && tok, "%s", e.msg);
    const char *prompts[4] = {"a photo of a cat.", "a blurry drawing of the cat!", "a photo of a gradient.", "a blurry drawing of the gradient!"};
    int32_t ids[4 * 77];
    float tf[4 * 32];
    CHECK(clip_tokenize_batch(tok, prompts, 4, 77, 0, ids, &e) == 0 && clip_encode_text(m, ids, 4, tf, &e) == 0, "%s", e.msg);
    double cls[2][32];
    for (int c = 0; c < 2; c++) {
        double acc[32] = {0};
        for (int t = 0; t < 2; t++) {
            double v[32];
            for (int d = 0; d < 32; d++) v[d] = tf[(c * 2 + t) * 32 + d];
            normalize_d(v, 32);
            for (int d = 0; d < 32; d++) acc[d] += v[d] / 2;
        }
        normalize_d(acc, 32);
        memcpy(cls[c], acc, sizeof acc);
    }
    npy_array imf = tu_load_npy(G "tiny-vit/image_features.npy");
    double scale = exp((double)clip_model_logit_scale(m));
    CHECK(n == 4, "4 images, got %d", n);
    for (int i = 0; i < 4 && n == 4; i++) {
        double v[32], lo[2];
        for (int d = 0; d < 32; d++) v[d] = ((float *)imf.data)[i * 32 + d];
        normalize_d(v, 32);
        for (int c = 0; c < 2; c++) { lo[c] = 0; for (int d = 0; d < 32; d++) lo[c] += scale * v[d] * cls[c][d]; }
        softmax(lo, 2);
        for (int c = 0; c < 2; c++) CHECK(fabs(got[i][c] - lo[c]) < 2e-5, "ensemble image %d class %d: %g vs %g", i, c, got[i][c], lo[c]);
    }
    npy_free(&imf);
    clip_tokenizer_free(tok);
    clip_model_free(m);

    /* the cache: a second run reads it and prints the same */
    CHECK(system("ls build/zs-cache/zeroshot-*.safetensors >/dev/null 2>&1") == 0, "cache file written");
    CHECK(run("--labels cat,gradient --templates build/zs_tmpl2.txt --json " IMAGES, "build/zs3.jsonl") == 0, "cached run");
    CHECK(system("cmp -s build/zs2.jsonl build/zs3.jsonl") == 0, "cached run prints the same");

    /* bad input */
    const char *bad[1] = {"a photo without a slot"};
    write_lines("build/zs_bad.txt", bad, 1);
    CHECK(run("--labels cat --templates build/zs_bad.txt " IMAGES, "/dev/null") == 1, "template without {}");
    write_lines("build/zs_empty.txt", bad, 0);
    CHECK(run("--labels-file build/zs_empty.txt " IMAGES, "/dev/null") == 1, "empty label list");
    CHECK(run("--labels-file build/does-not-exist.txt " IMAGES, "/dev/null") == 1, "unreadable labels file");
    CHECK(run("--labels cat,,dog " IMAGES, "/dev/null") == 1, "empty label in --labels");
    CHECK(run("--labels cat,dog --templates nosuchset " IMAGES, "/dev/null") == 1, "unknown template set");
    CHECK(run("--labels cat,dog --json " I "gradient.png build/missing.png " I "scene.png", "build/zs4.jsonl") == 1, "missing image");
    n = read_probs("build/zs4.jsonl", labels, 2, got);
    CHECK(n == 2, "the two good images are still classified, got %d", n);
    CHECK(run("--labels cat " IMAGES " --bogus", "/dev/null") == 2, "usage error");
    TEST_END();
}
