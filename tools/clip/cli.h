/* Shared pieces of the clip tool: one function per verb, and small helpers for the
 * SPEC's conventions (exit 1 with one line naming the problem, 2 for usage errors). */
#ifndef CLIP_TOOL_CLI_H
#define CLIP_TOOL_CLI_H
#include "clip.h"

#define EXIT_BAD 1
#define EXIT_USAGE 2

/* Each verb: argc/argv start at the verb name. Returns the process exit status. */
int cmd_info(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_preprocess(int argc, char **argv);
int cmd_zeroshot(int argc, char **argv);
int cmd_similarity(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_search(int argc, char **argv);   /* in cmd_index.c */

/* Prints "clip VERB: message" to stderr and returns EXIT_BAD. */
int cli_fail(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a usage error and the verb's usage line; returns EXIT_USAGE. */
int cli_usage(const char *verb, const char *usage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Parses a positive int option value; returns 0 on success. */
int cli_parse_int(const char *s, int lo, int hi, int *out);
/* Parses RRGGBB (or #RRGGBB) into opts as a compositing background; returns 0 on success. */
int cli_parse_background(const char *s, clip_image_opts *opts);
/* The model path when --model is not given: $CLIP_MODEL, else the shipped default. */
const char *cli_default_model(void);
/* --precision fp32|bf16|int8 -> CLIP_PRECISION_*; returns 0 on success, -1 for another value. */
int cli_parse_precision(const char *s, int *precision);
/* clip_model_load with the verbs' options (precision: CLIP_PRECISION_*); NULL + e on failure. */
clip_model *cli_load_model(const char *path, int precision, clip_error *e);
/* The --precision line of the verbs' --help. */
#define CLI_PRECISION_HELP \
    "  --precision P          fp32 (default, exact) or bf16: bf16 weights and products, ~3x faster\n" \
    "                         where the CPU has AMX or AVX512_BF16, features within ~1e-2 (docs/performance.md);\n" \
    "                         or int8: int8 block weights and products (AMX-INT8 or AVX512_VNNI), faster still,\n" \
    "                         features within a few 1e-2 (docs/performance.md, \"int8\")\n"

#endif
