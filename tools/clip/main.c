/* clip: the command-line tool. Dispatches to one function per verb (tools/clip/cmd_*.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

typedef struct { const char *name; int (*fn)(int, char **); const char *help; } verb;

static const verb VERBS[] = {
    {"info", cmd_info, "print a checkpoint's detected architecture"},
    {"embed", cmd_embed, "encode images or texts into features (.npy)"},
    {"zeroshot", cmd_zeroshot, "zero-shot classification with prompt ensembles"},
    {"similarity", cmd_similarity, "image x text cosine similarities or probabilities"},
    {"tokenize", cmd_tokenize, "CLIP BPE token ids of texts"},
    {"preprocess", cmd_preprocess, "OpenAI's image preprocessing to .npy"},
    {"init", cmd_init, "write a freshly initialised model"},
    {"convert", cmd_convert, "rewrite a model: another dtype, or packed to load by mmap"},
    {"train", cmd_train, "contrastive training and fine-tuning"},
    {"eval", cmd_eval, "retrieval and zero-shot evaluation"},
    {"index", cmd_index, "build a search index over a folder of images"},
    {"search", cmd_search, "search an image index with text"},
};
#define NVERBS (int)(sizeof VERBS / sizeof VERBS[0])

static void usage(FILE *f) {
    fprintf(f, "usage: clip VERB [options]   (clip VERB --help for a verb's options)\n\nverbs:\n");
    for (int i = 0; i < NVERBS; i++) fprintf(f, "  %-11s %s\n", VERBS[i].name, VERBS[i].help);
    fprintf(f, "\nfor every verb that loads a model:\n"
               "  --activation quickgelu|gelu   override the MLP activation the checkpoint implies (OpenAI\n"
               "                                weights: QuickGELU; Hugging Face: config.json's hidden_act;\n"
               "                                LAION / open_clip non-quickgelu models need gelu)\n"
               "  environment: CLIP_MODEL (default model), CLIP_CACHE_DIR (zero-shot class embeddings)\n");
}

int cli_fail(const char *verb, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "clip %s: ", verb);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_BAD;
}

int cli_usage(const char *verb, const char *usage_line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "clip %s: ", verb);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nusage: %s\n", usage_line);
    va_end(ap);
    return EXIT_USAGE;
}

int cli_parse_int(const char *s, int lo, int hi, int *out) {
    if (!s || !*s) return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

int cli_parse_background(const char *s, clip_image_opts *o) {
    unsigned r, g, b;
    const char *h = s[0] == '#' ? s + 1 : s;
    if (strlen(h) != 6 || strspn(h, "0123456789abcdefABCDEF") != 6 || sscanf(h, "%2x%2x%2x", &r, &g, &b) != 3) return -1;
    o->composite = 1;
    o->bg[0] = (uint8_t)r; o->bg[1] = (uint8_t)g; o->bg[2] = (uint8_t)b;
    return 0;
}

int cli_parse_precision(const char *s, int *precision) {
    int p = clip_precision_from_name(s);
    if (p < 0) return -1;
    *precision = p;
    return 0;
}

/* --activation, taken out of argv by main() for every verb: -1 keeps the checkpoint's own. */
static int g_activation = -1;

clip_model *cli_load_model(const char *path, int precision, clip_error *e) {
    clip_load_opts o = {.activation = g_activation, .precision = precision};
    return clip_model_load(path, &o, e);
}

const char *cli_default_model(void) {
    const char *env = getenv("CLIP_MODEL");
    if (env && *env) return env;
#ifdef CLIP_DATA_DIR
    static char path[4096];
    snprintf(path, sizeof path, "%s/models/default.safetensors", CLIP_DATA_DIR);
    if (access(path, R_OK) == 0) return path;
#endif
    if (access("data/models/default.safetensors", R_OK) == 0) return "data/models/default.safetensors";
    return NULL;
}

int main(int argc, char **argv) {
    /* global options, accepted anywhere on the line */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--activation")) continue;
        if (i + 1 >= argc || (strcmp(argv[i + 1], "quickgelu") && strcmp(argv[i + 1], "gelu"))) {
            fprintf(stderr, "clip: --activation needs quickgelu or gelu\n");
            return EXIT_USAGE;
        }
        g_activation = strcmp(argv[i + 1], "gelu") ? CLIP_ACT_QUICKGELU : CLIP_ACT_GELU;
        memmove(argv + i, argv + i + 2, (argc - i - 2 + 1) * sizeof *argv);
        argc -= 2;
        i--;
    }
    if (argc < 2) { usage(stderr); return EXIT_USAGE; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) { usage(stdout); return 0; }
    for (int i = 0; i < NVERBS; i++)
        if (!strcmp(argv[1], VERBS[i].name)) return VERBS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "clip: unknown verb '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
