/* clip embed: features of images or texts, float32 [K, D] .npy (or JSON lines), streamed in
 * chunks so any number of inputs runs in bounded memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "stream.h"
#include "io/file.h"
#include "io/npy.h"

static const char *USAGE =
    "clip embed [--model PATH] [--precision fp32|bf16|int8] [--raw] [--threads N] [--batch N] [--truncate]\n"
    "           (--image FILE... | --text TEXT... | --images-from LIST | --texts-from FILE |\n"
    "            --pixels P.npy | --tokens T.npy) [-o OUT.npy | -o OUT.jsonl | --jsonl]";

static void help(void) {
    printf("usage: %s\n\n"
           "Encodes a batch and writes float32 [K, D] features, L2-normalised unless --raw (then exactly\n"
           "OpenAI's encode_image / encode_text).\n"
           "  --image FILE...     image files (JPEG, PNG, WebP), preprocessed as OpenAI's _transform\n"
           "  --text TEXT...      texts, tokenized as clip.tokenize\n"
           "  --images-from LIST  image paths, one per line (\"-\" = stdin)\n"
           "  --texts-from FILE   texts, one per line (\"-\" = stdin)\n"
           "  --pixels P.npy      float32 [K, 3, S, S], already preprocessed (S = the model's image size)\n"
           "  --tokens T.npy      int32 [K, N_CTX] token ids as clip.tokenize returns them\n"
           "  -o OUT.npy          write .npy (complete or absent: any failed input fails the run)\n"
           "  -o OUT.jsonl, --jsonl   JSON lines {\"input\": ..., \"embedding\": [...]} to the file or stdout;\n"
           "                      failed inputs are reported and skipped, and the exit status is 1\n"
           "  --batch N           inputs per chunk (default 64)\n"
           "  --truncate          cut texts longer than the context instead of failing\n"
           "  --background RRGGBB composite transparent images onto this colour (default: drop alpha, as PIL)\n"
           "  --model PATH        .safetensors file or model directory (default: $CLIP_MODEL or the shipped model)\n"
           "  --threads N         threads for preprocessing and the encoders\n"
           CLI_PRECISION_HELP, USAGE);
}

typedef struct sink {
    int jsonl, D;
    FILE *f;                 /* jsonl to stdout or the atomic file */
    atomic_file af;
    const cli_list *items;
} sink;

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static int write_chunk(void *ud, int first, int n, const float *feat, const int *ok) {
    sink *s = ud;
    for (int i = 0; i < n; i++) {
        if (!ok[i]) continue;
        const float *r = feat + (size_t)i * s->D;
        if (s->jsonl) {
            fputs("{\"input\": ", s->f);
            json_string(s->f, s->items->s[first + i]);
            fputs(", \"embedding\": [", s->f);
            for (int d = 0; d < s->D; d++) fprintf(s->f, d ? ", %.8g" : "%.8g", r[d]);
            fputs("]}\n", s->f);
        } else {
            fwrite(r, sizeof(float), s->D, s->f);
        }
    }
    return ferror(s->f) ? -1 : 0;
}

static int embed_npy(clip_model *m, int is_pixels, const char *in_path, int raw, const char *out) {
    clip_error e = {0};
    npy_array in;
    if (npy_load(in_path, &in, &e)) return cli_fail("embed", "%s", e.msg);
    const clip_config *c = clip_model_get_config(m);
    int rc = EXIT_BAD, K = in.ndim > 0 ? (int)in.shape[0] : 0, S = c->image_size;
    float *feat = NULL;
    if (is_pixels) {
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
    int st = is_pixels ? clip_encode_image(m, in.data, K, feat, &e) : clip_encode_text(m, in.data, K, feat, &e);
    if (st) { cli_fail("embed", "%s: %s", in_path, e.msg); goto done; }
    if (!raw) clip_normalize(feat, K, c->embed_dim);
    int64_t shape[2] = {K, c->embed_dim};
    if (npy_save(out, NPY_F4, 2, shape, feat, &e)) { cli_fail("embed", "%s", e.msg); goto done; }
    rc = 0;
done:
    free(feat);
    npy_free(&in);
    return rc;
}

int cmd_embed(int argc, char **argv) {
    const char *model = NULL, *pixels = NULL, *tokens = NULL, *out = NULL, *from = NULL;
    int raw = 0, threads = 0, precision = 0, batch = 64, jsonl = 0, truncate = 0, mode = 0; /* 1 image, 2 text */
    cli_list items = {0};
    clip_image_opts iopt = {0};
    int rc = EXIT_BAD;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); cli_list_free(&items); return 0; }
        else if (!strcmp(a, "--model") && more) model = argv[++i];
        else if (!strcmp(a, "--pixels") && more) pixels = argv[++i];
        else if (!strcmp(a, "--tokens") && more) tokens = argv[++i];
        else if (!strcmp(a, "-o") && more) out = argv[++i];
        else if (!strcmp(a, "--raw")) raw = 1;
        else if (!strcmp(a, "--jsonl")) jsonl = 1;
        else if (!strcmp(a, "--truncate")) truncate = 1;
        else if ((!strcmp(a, "--image") || !strcmp(a, "--text")) && more) {
            int m = a[2] == 'i' ? 1 : 2;
            if (mode && mode != m) { cli_list_free(&items); return cli_usage("embed", USAGE, "give images or texts, not both"); }
            mode = m;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) && strcmp(argv[i + 1], "-o")) cli_list_push(&items, argv[++i]);
        } else if ((!strcmp(a, "--images-from") || !strcmp(a, "--texts-from")) && more) {
            int m = a[2] == 'i' ? 1 : 2;
            if (mode && mode != m) { cli_list_free(&items); return cli_usage("embed", USAGE, "give images or texts, not both"); }
            mode = m;
            from = argv[++i];
            if (cli_list_read(&items, from, "embed")) { cli_list_free(&items); return EXIT_BAD; }
        } else if (!strcmp(a, "--background") && more) {
            if (cli_parse_background(argv[++i], &iopt)) { cli_list_free(&items); return cli_usage("embed", USAGE, "--background needs RRGGBB hex"); }
        } else if (!strcmp(a, "--threads") && more) {
            if (cli_parse_int(argv[++i], 1, 1024, &threads)) { cli_list_free(&items); return cli_usage("embed", USAGE, "--threads needs a positive integer"); }
        } else if (!strcmp(a, "--precision") && more) {
            if (cli_parse_precision(argv[++i], &precision)) { cli_list_free(&items); return cli_usage("embed", USAGE, "--precision needs fp32, bf16 or int8"); }
        } else if (!strcmp(a, "--batch") && more) {
            if (cli_parse_int(argv[++i], 1, 65536, &batch)) { cli_list_free(&items); return cli_usage("embed", USAGE, "--batch needs a positive integer"); }
        } else { cli_list_free(&items); return cli_usage("embed", USAGE, "unexpected argument '%s'", a); }
    }
    if (!!pixels + !!tokens + !!mode != 1) { cli_list_free(&items); return cli_usage("embed", USAGE, "give exactly one kind of input"); }
    if (mode && items.n == 0) { cli_list_free(&items); return cli_fail("embed", "no inputs given%s%s", from ? " in " : "", from ? from : ""); }
    size_t ol = out ? strlen(out) : 0;
    if (out && ol > 6 && !strcmp(out + ol - 6, ".jsonl")) jsonl = 1;
    if (!out && !jsonl) { cli_list_free(&items); return cli_usage("embed", USAGE, "-o OUT.npy (or --jsonl) is required"); }
    if ((pixels || tokens) && jsonl) { cli_list_free(&items); return cli_usage("embed", USAGE, "--pixels/--tokens write .npy only"); }
    if (!model && !(model = cli_default_model())) { cli_list_free(&items); return cli_fail("embed", "no --model given and no default model found"); }
    if (threads) clip_set_threads(threads);

    clip_error e = {0};
    clip_model *m = cli_load_model(model, precision, &e);
    if (!m) { cli_list_free(&items); return cli_fail("embed", "%s", e.msg); }
    if (pixels || tokens) {
        rc = embed_npy(m, pixels != NULL, pixels ? pixels : tokens, raw, out);
        clip_model_free(m);
        return rc;
    }
    clip_tokenizer *tok = NULL;
    if (mode == 2 && !(tok = clip_tokenizer_load(NULL, &e))) { cli_fail("embed", "%s", e.msg); goto done; }
    const clip_config *c = clip_model_get_config(m);
    sink s = {.jsonl = jsonl, .D = c->embed_dim, .items = &items};
    if (out) {
        if (atomic_open(&s.af, out, &e)) { cli_fail("embed", "%s", e.msg); goto done; }
        s.f = s.af.f;
        if (!jsonl) { int64_t shape[2] = {items.n, c->embed_dim}; npy_write_header(s.f, NPY_F4, 2, shape); }
    } else {
        s.f = stdout;
    }
    cli_stream_opts so = {.chunk = batch, .normalize = !raw, .truncate = truncate, .image_opts = &iopt, .verb = "embed"};
    int failed = 0;
    int st = cli_encode_stream(m, tok, &items, mode == 2, &so, write_chunk, &s, &failed);
    if (out) {
        if (st || (failed && !jsonl)) {
            atomic_abort(&s.af);
            if (!st) cli_fail("embed", "%d of %d inputs failed; %s not written", failed, items.n, out);
        } else if (atomic_commit(&s.af, &e)) {
            cli_fail("embed", "%s", e.msg);
            st = EXIT_BAD;
        }
    }
    rc = st || failed ? EXIT_BAD : 0;
done:
    clip_tokenizer_free(tok);
    clip_model_free(m);
    cli_list_free(&items);
    return rc;
}
