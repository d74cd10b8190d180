/* clip embed end to end: image files and texts through the tool give OpenAI's features (golden,
 * 1e-5); bad inputs give exit status 1 and no output file. */
#include "testutil.h"
#include <sys/wait.h>
#include <unistd.h>

#define G "tests/data/golden/"
#define I "tests/data/image/golden/"
#define MODEL G "tiny-vit/model.safetensors"

static int run(const char *args) {
    char cmd[2048];
    const char *bin = getenv("CLIP_BIN") ? getenv("CLIP_BIN") : "build/clip";
    snprintf(cmd, sizeof cmd, "%s embed --model " MODEL " %s 2>>build/test_cli_embed.err", bin, args);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

int main(void) {
    const char *out = "build/test_embed.npy";
    unlink(out);
    CHECK(run("--raw --image " I "gradient.png " I "checkerboard.png " I "noise.png " I "scene.png -o build/test_embed.npy") == 0, "images");
    npy_array a;
    clip_error e = {0};
    if (npy_load(out, &a, &e) == 0) {
        CHECK(a.ndim == 2 && a.shape[0] == 4 && a.shape[1] == 32, "image features shape");
        CHECK_CLOSE_NPY((float *)a.data, a.count, G "tiny-vit/image_features.npy", 1e-5);
        npy_free(&a);
    } else CHECK(0, "%s", e.msg);
    /* the six golden captions (manifest.json) through the tokenizer and the text tower */
    CHECK(run("--raw --text 'a photo of a cat' 'a smooth colour gradient' 'A yellow and blue CHECKERBOARD!' "
              "'random noise, static & grain' 'a house with a red roof, a tree and the sun' "
              "\"It's a photo: 2 dogs playing in the snow \xf0\x9f\x90\x95\" -o build/test_embed.npy") == 0, "texts");
    if (npy_load(out, &a, &e) == 0) {
        CHECK_CLOSE_NPY((float *)a.data, a.count, G "tiny-vit/text_features.npy", 1e-5);
        npy_free(&a);
    } else CHECK(0, "%s", e.msg);
    /* normalised by default */
    CHECK(run("--image " I "gradient.png -o build/test_embed.npy") == 0, "normalised");
    if (npy_load(out, &a, &e) == 0) {
        double s = 0;
        for (size_t i = 0; i < a.count; i++) s += ((float *)a.data)[i] * ((float *)a.data)[i];
        CHECK(fabs(s - 1) < 1e-5, "unit norm, got %g", s);
        npy_free(&a);
    }
    /* bad inputs: exit 1, the old output untouched or absent */
    unlink(out);
    CHECK(run("--image " I "gradient.png tests/data/does-not-exist.png -o build/test_embed.npy") == 1, "missing image");
    CHECK(!exists(out), "no output after a failed image");
    CHECK(run("--pixels " G "tokens.npy -o build/test_embed.npy") == 1, "tokens given as pixels");
    CHECK(run("--pixels " G "images/pixels_64.npy -o build/test_embed.npy") == 1, "pixels of the wrong size");
    CHECK(run("--tokens " G "images/pixels_32.npy -o build/test_embed.npy") == 1, "pixels given as tokens");
    CHECK(run("--tokens tests/data/does-not-exist.npy -o build/test_embed.npy") == 1, "missing npy");
    CHECK(!exists(out), "no output after bad npy inputs");
    CHECK(run("--image") == 2, "usage error");
    /* JSON lines skip the bad file and still fail the run */
    CHECK(run("--jsonl --image " I "gradient.png tests/data/nope.png > build/test_embed.jsonl") == 1, "jsonl with a bad file");
    FILE *f = fopen("build/test_embed.jsonl", "r");
    int lines = 0;
    char buf[4096];
    while (f && fgets(buf, sizeof buf, f)) lines++;
    if (f) fclose(f);
    CHECK(lines == 1, "one JSON line for the good image, got %d", lines);
    unlink("build/test_embed.jsonl");
    TEST_END();
}
