/* clip embed: features of images or texts, written as float32 [K, D] .npy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "io/npy.h"

static const char *USAGE =
    "clip embed [--model PATH] [--raw] [--threads N] (--pixels P.npy | --tokens T.npy) -o OUT.npy";

static void help(void) {
    printf("usage: %s\n\n"
           "Encodes a batch and writes float32 [K, D] features, L2-normalised unless --raw (then exactly\n"
           "OpenAI's encode_image / encode_text).\n"
           "  --pixels P.npy   float32 [K, 3, S, S], already preprocessed (S = the model's image size)\n"
           "  --tokens T.npy   int32 [K, N_CTX] token ids as clip.tokenize returns them\n"
           "  --model PATH     .safetensors file or model directory (default: $CLIP_MODEL or the shipped model)\n"
           "  --threads N      threads for the encoders (default: all cores)\n", USAGE);
}

int cmd_embed(int argc, char **argv) {
    const char *model = NULL, *pixels = NULL, *tokens = NULL, *out = NULL;
    int raw = 0, threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 0; }
        else if (!strcmp(a, "--model") && more) model = argv[++i];
        else if (!strcmp(a, "--pixels") && more) pixels = argv[++i];
        else if (!strcmp(a, "--tokens") && more) tokens = argv[++i];
        else if (!strcmp(a, "-o") && more) out = argv[++i];
        else if (!strcmp(a, "--raw")) raw = 1;
        else if (!strcmp(a, "--threads") && more) {
            if (cli_parse_int(argv[++i], 1, 1024, &threads)) return cli_usage("embed", USAGE, "--threads needs a positive integer");
        } else return cli_usage("embed", USAGE, "unexpected argument '%s'", a);
    }
    if (!!pixels + !!tokens != 1) return cli_usage("embed", USAGE, "give exactly one input: --pixels or --tokens");
    if (!out) return cli_usage("embed", USAGE, "-o OUT.npy is required");
    if (!model && !(model = cli_default_model())) return cli_fail("embed", "no --model given and no default model found");
    if (threads) clip_set_threads(threads);

    clip_error e = {0};
    npy_array in;
    const char *in_path = pixels ? pixels : tokens;
    if (npy_load(in_path, &in, &e)) return cli_fail("embed", "%s", e.msg);
    clip_model *m = clip_model_load(model, NULL, &e);
    if (!m) { npy_free(&in); return cli_fail("embed", "%s", e.msg); }
    const clip_config *c = clip_model_get_config(m);
    int rc = EXIT_BAD, K = in.ndim > 0 ? (int)in.shape[0] : 0;
    float *feat = NULL;
    if (pixels) {
        int S = c->image_size;
        if (npy_to_f32(&in, &e)) { cli_fail("embed", "%s: %s", in_path, e.msg); goto done; }
        if (in.ndim != 4 || in.shape[1] != 3 || in.shape[2] != S || in.shape[3] != S) {
            cli_fail("embed", "%s: expected float32 [K, 3, %d, %d] pixels for this model", in_path, S, S);
            goto done;
        }
    } else {
        if (npy_to_i32(&in, &e)) { cli_fail("embed", "%s: %s", in_path, e.msg); goto done; }
        if (in.ndim != 2 || in.shape[1] != c->context_length) {
            cli_fail("embed", "%s: expected int32 [K, %d] token ids for this model", in_path, c->context_length);
            goto done;
        }
    }
    feat = malloc(((size_t)K * c->embed_dim + 1) * sizeof(float));
    if (!feat) { cli_fail("embed", "out of memory"); goto done; }
    int st = pixels ? clip_encode_image(m, in.data, K, feat, &e) : clip_encode_text(m, in.data, K, feat, &e);
    if (st) { cli_fail("embed", "%s: %s", in_path, e.msg); goto done; }
    if (!raw) clip_normalize(feat, K, c->embed_dim);
    int64_t shape[2] = {K, c->embed_dim};
    if (npy_save(out, NPY_F4, 2, shape, feat, &e)) { cli_fail("embed", "%s", e.msg); goto done; }
    rc = 0;
done:
    free(feat);
    npy_free(&in);
    clip_model_free(m);
    return rc;
}
