/* clip similarity: the image x text matrix of cosine similarities, or with --probs each
 * image's softmax over the texts of exp(logit_scale) x cosine (OpenAI's logits_per_image). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "stream.h"
#include "io/npy.h"

static const char *USAGE =
    "clip similarity [--model PATH] [--precision fp32|bf16|int8] [--probs] [--threads N] [-o OUT.npy] --image FILE... --text TEXT...";

typedef struct { float *dst; int D; } collect;

static int collect_chunk(void *ud, int first, int n, const float *feat, const int *ok) {
    collect *c = ud;
    memcpy(c->dst + (size_t)first * c->D, feat, (size_t)n * c->D * sizeof(float));
    return 0;
}

int cmd_similarity(int argc, char **argv) {
    const char *model = NULL, *out = NULL;
    int probs = 0, threads = 0, precision = 0, mode = 0, rc = EXIT_BAD;
    cli_list imgs = {0}, txts = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: %s\n\nPrints the image x text matrix (rows: images, columns: texts) of cosine similarities;\n"
                   "with --probs, each row is a softmax over the texts of exp(logit_scale) x cosine.\n"
                   "-o OUT.npy writes the float32 [images, texts] matrix instead of printing it.\n\n" CLI_PRECISION_HELP, USAGE);
            return 0;
        } else if (!strcmp(a, "--model") && i + 1 < argc) { model = argv[++i]; mode = 0; }
        else if (!strcmp(a, "-o") && i + 1 < argc) { out = argv[++i]; mode = 0; }
        else if (!strcmp(a, "--probs")) { probs = 1; mode = 0; }
        else if (!strcmp(a, "--threads") && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 1, 1024, &threads)) { rc = cli_usage("similarity", USAGE, "--threads needs a positive integer"); goto done; }
            mode = 0;
        } else if (!strcmp(a, "--precision") && i + 1 < argc) {
            if (cli_parse_precision(argv[++i], &precision)) { rc = cli_usage("similarity", USAGE, "--precision needs fp32, bf16 or int8"); goto done; }
            mode = 0;
        } else if (!strcmp(a, "--image")) mode = 1;
        else if (!strcmp(a, "--text")) mode = 2;
        else if (mode == 1 && strncmp(a, "--", 2)) cli_list_push(&imgs, a);
        else if (mode == 2 && strncmp(a, "--", 2)) cli_list_push(&txts, a);
        else { rc = cli_usage("similarity", USAGE, "unexpected argument '%s'", a); goto done; }
    }
    if (!imgs.n || !txts.n) { rc = cli_usage("similarity", USAGE, "give at least one --image and one --text"); goto done; }
    if (!model && !(model = cli_default_model())) { rc = cli_fail("similarity", "no --model given and no default model found"); goto done; }
    if (threads) clip_set_threads(threads);
    clip_error e = {0};
    clip_model *m = cli_load_model(model, precision, &e);
    if (!m) { rc = cli_fail("similarity", "%s", e.msg); goto done; }
    clip_tokenizer *tok = clip_tokenizer_load(NULL, &e);
    int D = clip_model_get_config(m)->embed_dim, NI = imgs.n, NT = txts.n, fi = 0, ft = 0;
    float *fimg = malloc((size_t)NI * D * sizeof(float)), *ftxt = malloc((size_t)NT * D * sizeof(float));
    float *sim = malloc((size_t)NI * NT * sizeof(float));
    cli_stream_opts so = {.chunk = 64, .normalize = 1, .verb = "similarity"};
    collect ci = {fimg, D}, ct = {ftxt, D};
    if (!tok) cli_fail("similarity", "%s", e.msg);
    else if (!fimg || !ftxt || !sim) cli_fail("similarity", "out of memory");
    else if (!cli_encode_stream(m, NULL, &imgs, 0, &so, collect_chunk, &ci, &fi) && !fi &&
             !cli_encode_stream(m, tok, &txts, 1, &so, collect_chunk, &ct, &ft) && !ft) {
        float scale = fminf(expf(clip_model_logit_scale(m)), 100.0f);
        for (int i = 0; i < NI; i++) {
            float *row = sim + (size_t)i * NT, mx = -INFINITY;
            for (int j = 0; j < NT; j++) {
                float d = 0;
                for (int k = 0; k < D; k++) d += fimg[(size_t)i * D + k] * ftxt[(size_t)j * D + k];
                row[j] = probs ? scale * d : d;
                if (row[j] > mx) mx = row[j];
            }
            if (probs) {
                double s = 0;
                for (int j = 0; j < NT; j++) { row[j] = expf(row[j] - mx); s += row[j]; }
                for (int j = 0; j < NT; j++) row[j] = (float)(row[j] / s);
            }
        }
        if (out) {
            int64_t shape[2] = {NI, NT};
            if (npy_save(out, NPY_F4, 2, shape, sim, &e)) cli_fail("similarity", "%s", e.msg);
            else rc = 0;
        } else {
            printf("%-30s", probs ? "probs" : "cosine");
            for (int j = 0; j < NT; j++) printf("  %.24s", txts.s[j]);
            printf("\n");
            for (int i = 0; i < NI; i++) {
                printf("%-30.30s", imgs.s[i]);
                for (int j = 0; j < NT; j++) printf("  %*.4f", (int)(strlen(txts.s[j]) < 24 ? strlen(txts.s[j]) : 24), sim[(size_t)i * NT + j]);
                printf("\n");
            }
            rc = 0;
        }
    }
    free(fimg); free(ftxt); free(sim);
    clip_tokenizer_free(tok);
    clip_model_free(m);
done:
    cli_list_free(&imgs); cli_list_free(&txts);
    return rc;
}
