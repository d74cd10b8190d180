/* clip zeroshot: zero-shot classification with prompt ensembles. Class embeddings are cached
 * per (model file, labels, templates), so later runs over new images skip the text tower. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "stream.h"
#include "eval/prompts.h"

static const char *USAGE =
    "clip zeroshot [--model PATH] [--precision fp32|bf16|int8] (--labels L1,L2,... | --labels-file FILE|builtin:NAME)\n"
    "              [--templates NAME|FILE] [--top K] [--json] [--no-cache] [--threads N] IMAGE...";

static void help(void) {
    printf("usage: %s\n\n"
           "Zero-shot classification: each label is put into every template, the prompts are encoded\n"
           "and averaged per label (normalised, mean, normalised), and each image gets a softmax over\n"
           "the labels of exp(logit_scale) x cosine similarity.\n"
           "  --labels L1,L2,...     class names\n"
           "  --labels-file FILE     one class name per line; builtin:imagenet (OpenAI's 1000), builtin:cifar10\n"
           "  --templates NAME|FILE  simple (\"a photo of a {}.\", default), imagenet (OpenAI's 80), cifar\n"
           "                         (OpenAI's 18), emoji (8, for emoji art), or a file with one template per\n"
           "                         line holding {}\n"
           "  --top K                labels shown per image (default 5)\n"
           "  --json                 one JSON object per image\n"
           "  --images-from LIST     more image paths, one per line\n"
           "  --background RRGGBB    composite transparent images onto this colour\n"
           "  --no-cache             do not read or write the class-embedding cache\n"
           "                         (cache: $CLIP_CACHE_DIR, else $XDG_CACHE_HOME/clip.c, else ~/.cache/clip.c)\n"
           "  --threads N            threads\n"
           CLI_PRECISION_HELP
           "A missing or unreadable image is reported and skipped; the others are still classified and\n"
           "the exit status is 1.\n", USAGE);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) { h ^= s[i]; h *= 1099511628211ull; }
    return h;
}

/* The cache file for (model identity, labels, templates); NULL if no cache directory. */
static char *cache_path(const char *model, int precision, const str_list *labels, const str_list *tmpl) {
    const char *dir = getenv("CLIP_CACHE_DIR");
    char base[4096];
    if (dir && *dir) snprintf(base, sizeof base, "%s", dir);
    else if (getenv("XDG_CACHE_HOME") && *getenv("XDG_CACHE_HOME")) snprintf(base, sizeof base, "%s/clip.c", getenv("XDG_CACHE_HOME"));
    else if (getenv("HOME") && *getenv("HOME")) snprintf(base, sizeof base, "%s/.cache/clip.c", getenv("HOME"));
    else return NULL;
    /* create the directory (and ~/.cache) if needed */
    for (char *p = base + 1; *p; p++) if (*p == '/') { *p = 0; mkdir(base, 0755); *p = '/'; }
    if (mkdir(base, 0755) && errno != EEXIST) return NULL;
    char real[4096];
    struct stat st;
    if (!realpath(model, real) || stat(model, &st)) return NULL;
    if (S_ISDIR(st.st_mode)) {
        char f[4200];
        snprintf(f, sizeof f, "%s/model.safetensors", model);
        if (stat(f, &st)) return NULL;
    }
    uint64_t h = 1469598103934665603ull;
    h = fnv(h, "clip.c classifier v1", 20);
    h = fnv(h, real, strlen(real) + 1);
    h = fnv(h, &st.st_size, sizeof st.st_size);
    h = fnv(h, &st.st_mtim, sizeof st.st_mtim);
    if (precision) h = fnv(h, &precision, sizeof precision); /* bf16 embeddings differ (fp32 keys unchanged) */
    for (int i = 0; i < labels->n; i++) h = fnv(h, labels->s[i], strlen(labels->s[i]) + 1);
    h = fnv(h, "\x01", 1);
    for (int i = 0; i < tmpl->n; i++) h = fnv(h, tmpl->s[i], strlen(tmpl->s[i]) + 1);
    char *out = malloc(strlen(base) + 40);
    if (out) sprintf(out, "%s/zeroshot-%016llx.safetensors", base, (unsigned long long)h);
    return out;
}

typedef struct zs_ctx {
    const clip_classifier *clf;
    const cli_list *items;
    int top, json, C;
    float *probs;
    int *order;
} zs_ctx;

static void json_str(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

static int print_chunk(void *ud, int first, int n, const float *feat, const int *ok) {
    zs_ctx *z = ud;
    int D = clip_classifier_dim(z->clf);
    for (int i = 0; i < n; i++) {
        if (!ok[i]) continue;
        clip_classify(z->clf, feat + (size_t)i * D, 1, z->probs, NULL);
        /* partial selection of the top K */
        int k = z->top < z->C ? z->top : z->C;
        for (int c = 0; c < z->C; c++) z->order[c] = c;
        for (int a = 0; a < k; a++) {
            int best = a;
            for (int b = a + 1; b < z->C; b++) if (z->probs[z->order[b]] > z->probs[z->order[best]]) best = b;
            int t = z->order[a]; z->order[a] = z->order[best]; z->order[best] = t;
        }
        const char *path = z->items->s[first + i];
        if (z->json) {
            printf("{\"image\": "); json_str(path); printf(", \"top\": [");
            for (int a = 0; a < k; a++) {
                printf("%s{\"label\": ", a ? ", " : "");
                json_str(clip_classifier_label(z->clf, z->order[a]));
                printf(", \"prob\": %.6g}", z->probs[z->order[a]]);
            }
            printf("]}\n");
        } else {
            printf("%s\n", path);
            for (int a = 0; a < k; a++) printf("  %6.2f%%  %s\n", 100 * z->probs[z->order[a]], clip_classifier_label(z->clf, z->order[a]));
        }
    }
    fflush(stdout);
    return 0;
}

int cmd_zeroshot(int argc, char **argv) {
    const char *model = NULL, *labels_arg = NULL, *labels_file = NULL, *templates = "simple";
    int top = 5, json = 0, threads = 0, precision = 0, use_cache = 1, rc = EXIT_BAD;
    cli_list items = {0};
    clip_image_opts iopt = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); cli_list_free(&items); return 0; }
        else if (!strcmp(a, "--model") && more) model = argv[++i];
        else if (!strcmp(a, "--labels") && more) labels_arg = argv[++i];
        else if (!strcmp(a, "--labels-file") && more) labels_file = argv[++i];
        else if (!strcmp(a, "--templates") && more) templates = argv[++i];
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--no-cache")) use_cache = 0;
        else if (!strcmp(a, "--images-from") && more) { if (cli_list_read(&items, argv[++i], "zeroshot")) { cli_list_free(&items); return EXIT_BAD; } }
        else if (!strcmp(a, "--background") && more) {
            if (cli_parse_background(argv[++i], &iopt)) { cli_list_free(&items); return cli_usage("zeroshot", USAGE, "--background needs RRGGBB hex"); }
        } else if (!strcmp(a, "--top") && more) {
            if (cli_parse_int(argv[++i], 1, 1 << 20, &top)) { cli_list_free(&items); return cli_usage("zeroshot", USAGE, "--top needs a positive integer"); }
        } else if (!strcmp(a, "--threads") && more) {
            if (cli_parse_int(argv[++i], 1, 1024, &threads)) { cli_list_free(&items); return cli_usage("zeroshot", USAGE, "--threads needs a positive integer"); }
        } else if (!strcmp(a, "--precision") && more) {
            if (cli_parse_precision(argv[++i], &precision)) { cli_list_free(&items); return cli_usage("zeroshot", USAGE, "--precision needs fp32, bf16 or int8"); }
        } else if (a[0] == '-' && a[1]) { cli_list_free(&items); return cli_usage("zeroshot", USAGE, "unexpected argument '%s'", a); }
        else cli_list_push(&items, a);
    }
    if (!!labels_arg + !!labels_file != 1) { cli_list_free(&items); return cli_usage("zeroshot", USAGE, "give --labels or --labels-file"); }
    if (items.n == 0) { cli_list_free(&items); return cli_usage("zeroshot", USAGE, "no images given"); }
    if (!model && !(model = cli_default_model())) { cli_list_free(&items); return cli_fail("zeroshot", "no --model given and no default model found"); }
    if (threads) clip_set_threads(threads);

    clip_error e = {0};
    str_list labels = {0}, tmpl = {0};
    clip_model *m = NULL;
    clip_tokenizer *tok = NULL;
    clip_classifier *clf = NULL;
    char *cache = NULL;
    zs_ctx z = {0};
    if (labels_arg) { if (prompts_split_commas(labels_arg, &labels, &e)) { cli_fail("zeroshot", "--labels: %s", e.msg); goto done; } }
    else if (!strncmp(labels_file, "builtin:", 8)) { if (prompts_builtin_labels(labels_file + 8, &labels, &e)) { cli_fail("zeroshot", "%s", e.msg); goto done; } }
    else if (prompts_load_lines(labels_file, &labels, &e)) { cli_fail("zeroshot", "%s", e.msg); goto done; }
    if (labels.n == 0) { cli_fail("zeroshot", "%s: no labels", labels_file ? labels_file : "--labels"); goto done; }
    struct stat ts;
    if (stat(templates, &ts) == 0) { if (prompts_load_lines(templates, &tmpl, &e)) { cli_fail("zeroshot", "%s", e.msg); goto done; } }
    else if (prompts_builtin_templates(templates, &tmpl, &e)) { cli_fail("zeroshot", "--templates: %s, and no such file", e.msg); goto done; }
    if (prompts_check_templates(&tmpl, templates, &e)) { cli_fail("zeroshot", "%s", e.msg); goto done; }

    if (!(m = cli_load_model(model, precision, &e))) { cli_fail("zeroshot", "%s", e.msg); goto done; }
    if (use_cache && (cache = cache_path(model, precision, &labels, &tmpl))) {
        clf = clip_classifier_load(cache, &e);
        if (clf && (clip_classifier_num_classes(clf) != labels.n || clip_classifier_dim(clf) != clip_model_get_config(m)->embed_dim)) {
            clip_classifier_free(clf);
            clf = NULL;
        }
        for (int i = 0; clf && i < labels.n; i++)
            if (strcmp(clip_classifier_label(clf, i), labels.s[i])) { clip_classifier_free(clf); clf = NULL; }
    }
    if (!clf) {
        if (!(tok = clip_tokenizer_load(NULL, &e))) { cli_fail("zeroshot", "%s", e.msg); goto done; }
        if (!(clf = clip_classifier_build(m, tok, (const char *const *)labels.s, labels.n, (const char *const *)tmpl.s, tmpl.n, &e))) {
            cli_fail("zeroshot", "%s", e.msg);
            goto done;
        }
        if (cache && clip_classifier_save(clf, cache, &e)) fprintf(stderr, "clip zeroshot: warning: cache not written: %s\n", e.msg);
    }
    z.clf = clf; z.items = &items; z.top = top; z.json = json; z.C = labels.n;
    z.probs = malloc(labels.n * sizeof(float));
    z.order = malloc(labels.n * sizeof(int));
    if (!z.probs || !z.order) { cli_fail("zeroshot", "out of memory"); goto done; }
    cli_stream_opts so = {.chunk = 64, .normalize = 1, .image_opts = &iopt, .verb = "zeroshot"};
    int failed = 0;
    int st = cli_encode_stream(m, NULL, &items, 0, &so, print_chunk, &z, &failed);
    if (failed) fprintf(stderr, "clip zeroshot: %d of %d images failed\n", failed, items.n);
    rc = st || failed ? EXIT_BAD : 0;
done:
    free(z.probs); free(z.order); free(cache);
    clip_classifier_free(clf);
    clip_tokenizer_free(tok);
    clip_model_free(m);
    str_list_free(&labels); str_list_free(&tmpl);
    cli_list_free(&items);
    return rc;
}
