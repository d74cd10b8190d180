/* Tokenizer throughput on one core: the 80,000 ImageNet zero-shot prompts (1000 class names x
 * 80 templates, bench/data/), tokenized with clip_tokenize_batch (context 77, truncate), as in
 * zero-shot evaluation. Reports tokens per second (BPE tokens, not counting <|startoftext|> and
 * <|endoftext|>) for the first pass (empty word cache) and the best of the following passes,
 * and a checksum of all ids that bench/tokenizer_python.py prints too.
 * Run: make bench && build/bench/bench_tokenizer [passes] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clip.h"
#include "io/file.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int split_lines(char *buf, char **out, int max) {
    int n = 0;
    for (char *l = strtok(buf, "\n"); l && n < max; l = strtok(NULL, "\n")) out[n++] = l;
    return n;
}

int main(int argc, char **argv) {
    int passes = argc > 1 ? atoi(argv[1]) : 5;
    if (passes < 2) passes = 2;
    char *cb, *tb;
    size_t cl, tl;
    clip_error e = {0};
    if (file_read_all("bench/data/imagenet_classes.txt", 1 << 20, &cb, &cl, &e) ||
        file_read_all("bench/data/imagenet_templates.txt", 1 << 20, &tb, &tl, &e)) {
        fprintf(stderr, "bench_tokenizer: %s (run from the repo root)\n", e.msg);
        return 1;
    }
    char *classes[1000], *templates[80];
    int nc = split_lines(cb, classes, 1000), nt = split_lines(tb, templates, 80);
    int n = nc * nt;
    char **texts = malloc((size_t)n * sizeof *texts);
    size_t bytes = 0;
    for (int t = 0; t < nt; t++)
        for (int c = 0; c < nc; c++) {   /* template.format(classname) */
            const char *tp = templates[t], *br = strstr(tp, "{}");
            size_t a = br ? (size_t)(br - tp) : strlen(tp), cn = strlen(classes[c]);
            char *s = malloc(strlen(tp) + cn + 1);
            memcpy(s, tp, a);
            size_t k = a;
            if (br) { memcpy(s + k, classes[c], cn); k += cn; strcpy(s + k, br + 2); }
            else s[k] = 0;
            texts[t * nc + c] = s;
            bytes += strlen(s);
        }
    int32_t *out = malloc((size_t)n * 77 * sizeof *out);
    clip_tokenizer *tok = clip_tokenizer_load(NULL, &e);
    if (!tok) { fprintf(stderr, "bench_tokenizer: %s\n", e.msg); return 1; }
    double first = 0, best = 1e30;
    for (int p = 0; p < passes; p++) {
        double t0 = now();
        if (clip_tokenize_batch(tok, (const char *const *)texts, n, 77, 1, out, &e)) {
            fprintf(stderr, "bench_tokenizer: %s\n", e.msg);
            return 1;
        }
        double dt = now() - t0;
        if (p == 0) first = dt; else if (dt < best) best = dt;
    }
    long long ntok = 0;
    unsigned long long sum = 0;
    for (size_t i = 0; i < (size_t)n * 77; i++) {
        if (out[i] != 0 && out[i] != 49406 && out[i] != 49407) ntok++;
        sum = sum * 1000003ull + (unsigned long long)out[i];
    }
    printf("corpus: %d ImageNet prompts, %zu bytes, %lld BPE tokens\n", n, bytes, ntok);
    printf("first pass (cold cache): %.3f s, %.2f M tokens/s, %.0f texts/s\n", first, ntok / first / 1e6, n / first);
    printf("warm (best of %d): %.3f s, %.2f M tokens/s, %.0f texts/s\n", passes - 1, best, ntok / best / 1e6, n / best);
    printf("checksum: %llu\n", sum);
    clip_tokenizer_free(tok);
    for (int i = 0; i < n; i++) free(texts[i]);
    free(texts); free(out); free(cb); free(tb);
    return 0;
}
