/* clip eval: the evaluation suite on the prepared emoji data set (docs/eval.md).
 * Per emoji style, on one split's concepts: text->image and image->text recall@1/5/10 with one
 * caption per concept, N-way zero-shot accuracy with a prompt ensemble; zero-shot on the Tux
 * Paint stamps matched to an emoji label; and image->image R@1 between styles for CLIP features
 * beside the raw-pixel nearest neighbour. Each image is encoded once, each text set once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>
#include "cli.h"
#include "stream.h"
#include "eval/emojiset.h"
#include "eval/prompts.h"
#include "eval/retrieval.h"
#include "io/file.h"

static const char *USAGE =
    "clip eval [--model PATH] [--precision fp32|bf16|int8] --data DIR [--split test|val|train|flag] [--styles a,b,...]\n"
    "          [--templates NAME|FILE] [--caption TEMPLATE] [--json OUT.json] [--threads N]";

static void help(void) {
    printf("usage: %s\n\n"
           "Evaluates a model on the emoji data set made by scripts/data/prepare.sh (docs/eval.md).\n"
           "For each style, on the split's concepts (base emoji only):\n"
           "  text->image R@1/5/10   each concept's caption against the style's images; a hit is any\n"
           "                         image of the concept in the top k\n"
           "  image->text R@1/5/10   each image against every concept's caption; a hit is its concept\n"
           "                         in the top k\n"
           "  zero-shot top-1/top-5  N-way over the split's concept labels, prompt ensemble\n"
           "Tux Paint: zero-shot over the stamps whose caption is an emoji label, N-way over the labels\n"
           "of the concepts among them. Image->image R@1 between styles: CLIP features beside the\n"
           "raw-pixel nearest neighbour (and baseline.json's figure where it has the pair).\n"
           "Ties count against the model: a non-relevant item scoring >= the best relevant one ranks\n"
           "above it.\n"
           "  --data DIR             the data set directory (must hold VERSION)\n"
           "  --split NAME           concepts to evaluate on: test (default), val, train, or flag\n"
           "                         (country and subdivision flags, kept apart from the others)\n"
           "  --styles a,b,...       styles (default: every style in styles.tsv, plus the usual ones,\n"
           "                         reported as skipped when not prepared); 'tuxpaint' is the Tux\n"
           "                         Paint test\n"
           "  --templates NAME|FILE  zero-shot prompt ensemble: emoji (default, 8 templates), simple,\n"
           "                         imagenet, cifar, or a file of templates holding {}\n"
           "  --caption TEMPLATE     the caption of a concept for retrieval (default \"an emoji of {}.\")\n"
           "  --json OUT.json        write every number (atomically)\n"
           "  --threads N            threads\n"
           CLI_PRECISION_HELP
           "A style whose table is missing is reported and skipped. An image that cannot be read is\n"
           "reported and left out; the results are still written and the exit status is 1.\n", USAGE);
}

static const char *KNOWN_STYLES[] = {"apple", "google", "twitter", "facebook", "openmoji", "openmoji-black", "fluent3d", "tuxpaint"};
#define PIX 32   /* raw-pixel baseline resolution: the data set's own */

typedef struct enc_ctx { float *feat; int *ok; int D; } enc_ctx;

static int store_chunk(void *ud, int first, int n, const float *feat, const int *ok) {
    enc_ctx *c = ud;
    memcpy(c->feat + (size_t)first * c->D, feat, (size_t)n * c->D * sizeof(float));
    memcpy(c->ok + first, ok, n * sizeof(int));
    return 0;
}

/* Encodes items (image paths or texts) into feat [n, D], L2-normalised; ok[i] = 0 where one failed.
 * Returns 0 or EXIT_BAD (reported). */
static int encode_all(clip_model *m, clip_tokenizer *tok, char **items, int n, int is_text, float *feat, int *ok, int *failed) {
    cli_list l = {items, n, n};
    enc_ctx c = {feat, ok, clip_model_get_config(m)->embed_dim};
    cli_stream_opts so = {.chunk = 64, .normalize = 1, .truncate = 1, .verb = "eval"};
    return cli_encode_stream(m, tok, &l, is_text, &so, store_chunk, &c, failed);
}

/* ---- per-style results */

typedef struct style_res {
    const char *name, *role, *shippable;
    int skipped;
    char reason[600];
    eset_images im;        /* the images that loaded */
    int n_failed;
    float *feat;           /* [n, D] */
    float *pix;            /* [n, PIX*PIX*3] in [0, 1] */
    int n_queries_t2i;
    double t2i[3], i2t[3], zs[2], t2i_chance[3];
} style_res;

static const int KS[3] = {1, 5, 10};

/* Chance of a hit at k for a query with r relevant items among G, the order uniformly random. */
static double chance_at(int G, int r, int k) {
    double miss = 1;
    for (int i = 0; i < k && i < G; i++) miss *= (double)(G - r - i) / (G - i);
    return 1 - (miss > 0 ? miss : 0);
}

static double kfrac(int k, int C) { return C ? (double)(k < C ? k : C) / C : 0; }

/* Top-k hits of image features [n, D] against class/caption embeddings [C, D]. */
static void image_to_class(const float *feat, int n, const float *cls, int C, int D, const int *lab, const int *ks, int nk, double *out) {
    float *sim = malloc((size_t)n * C * sizeof(float));
    int *gl = malloc(C * sizeof(int)), *rank = malloc(n * sizeof(int));
    if (!sim || !gl || !rank) { for (int j = 0; j < nk; j++) out[j] = -1; free(sim); free(gl); free(rank); return; }
    for (int c = 0; c < C; c++) gl[c] = c;
    retrieval_dot(feat, n, cls, C, D, sim);
    retrieval_ranks(sim, n, C, lab, gl, rank);
    for (int j = 0; j < nk; j++) out[j] = retrieval_recall_at(rank, n, ks[j]);
    free(sim); free(gl); free(rank);
}

/* Image->image R@1 from query rows qa to gallery rows gb (the emoji both styles have):
 * r1 by emoji, concept_r1 by concept. */
static void pair_r1(const float *qa, const int *qe, const int *qc, int nq, const float *gb, const int *ge, const int *gc, int ng,
                    int D, int pixels, double *r1, double *cr1) {
    float *sim = malloc((size_t)nq * ng * sizeof(float));
    int *rank = malloc(nq * sizeof(int));
    *r1 = *cr1 = -1;
    if (sim && rank) {
        if (pixels) retrieval_neg_sqdist(qa, nq, gb, ng, D, sim);
        else retrieval_dot(qa, nq, gb, ng, D, sim);
        retrieval_ranks(sim, nq, ng, qe, ge, rank);
        *r1 = retrieval_recall_at(rank, nq, 1);
        retrieval_ranks(sim, nq, ng, qc, gc, rank);
        *cr1 = retrieval_recall_at(rank, nq, 1);
    }
    free(sim); free(rank);
}

/* baseline.json's r1 for (split, query, gallery); -1 when it has no such pair. */
static double baseline_r1(const cJSON *bl, const char *split, const char *q, const char *g) {
    const cJSON *pairs = cJSON_GetObjectItemCaseSensitive(bl, "pairs"), *p;
    cJSON_ArrayForEach(p, pairs) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(p, "split"), *qq = cJSON_GetObjectItemCaseSensitive(p, "query");
        const cJSON *gg = cJSON_GetObjectItemCaseSensitive(p, "gallery"), *r = cJSON_GetObjectItemCaseSensitive(p, "r1");
        if (cJSON_IsString(s) && cJSON_IsString(qq) && cJSON_IsString(gg) && cJSON_IsNumber(r) &&
            !strcmp(s->valuestring, split) && !strcmp(qq->valuestring, q) && !strcmp(gg->valuestring, g))
            return r->valuedouble;
    }
    return -1;
}

static cJSON *num_obj(const char *const *names, const double *v, int n) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < n; i++) cJSON_AddNumberToObject(o, names[i], v[i]);
    return o;
}

/* Loads pixels (for the baseline) and CLIP features of a style's images; drops failures. */
static int load_style(clip_model *m, style_res *s, int threads) {
    int n = s->im.n, D = clip_model_get_config(m)->embed_dim, P = PIX * PIX * 3;
    uint8_t *u8 = malloc((size_t)n * P);
    int *st = malloc(n * sizeof(int)), *ok = malloc(n * sizeof(int));
    clip_error *errs = calloc(n, sizeof(clip_error));
    s->feat = malloc((size_t)n * D * sizeof(float));
    s->pix = malloc((size_t)n * P * sizeof(float));
    if (!u8 || !st || !ok || !errs || !s->feat || !s->pix) { free(u8); free(st); free(ok); free(errs); return cli_fail("eval", "out of memory"); }
    clip_error e = {0};
    clip_preprocess_files((const char *const *)s->im.path, n, PIX, NULL, NULL, u8, st, errs, threads, &e);
    int failed = 0, rc = encode_all(m, NULL, s->im.path, n, 0, s->feat, ok, &failed);
    /* keep the images both passes read; the stream already reported its failures */
    int k = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (!ok[i] || st[i]) {
            if (ok[i]) fprintf(stderr, "clip eval: %s\n", errs[i].msg);
            s->n_failed++;
            free(s->im.path[i]);
            continue;
        }
        s->im.path[k] = s->im.path[i]; s->im.concept[k] = s->im.concept[i]; s->im.emoji[k] = s->im.emoji[i]; s->im.split[k] = s->im.split[i];
        memmove(s->feat + (size_t)k * D, s->feat + (size_t)i * D, D * sizeof(float));
        for (int j = 0; j < P; j++) s->pix[(size_t)k * P + j] = u8[(size_t)i * P + j] / 255.0f;
        k++;
    }
    if (!rc) s->im.n = k;
    free(u8); free(st); free(ok); free(errs);
    return rc;
}

static void fill_str(char **out, const char *tmpl, char **labels, const int *idx, int n) {
    for (int i = 0; i < n; i++) out[i] = prompts_fill(tmpl, labels[idx[i]]);
}

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *split = "test", *styles_arg = NULL, *templates = "emoji";
    const char *caption = "an emoji of {}.", *json_out = NULL;
    int threads = 0, precision = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 0; }
        else if (!strcmp(a, "--model") && more) model = argv[++i];
        else if (!strcmp(a, "--data") && more) data = argv[++i];
        else if (!strcmp(a, "--split") && more) split = argv[++i];
        else if (!strcmp(a, "--styles") && more) styles_arg = argv[++i];
        else if (!strcmp(a, "--templates") && more) templates = argv[++i];
        else if (!strcmp(a, "--caption") && more) caption = argv[++i];
        else if (!strcmp(a, "--json") && more) json_out = argv[++i];
        else if (!strcmp(a, "--threads") && more) {
            if (cli_parse_int(argv[++i], 1, 1024, &threads)) return cli_usage("eval", USAGE, "--threads needs a positive integer");
        } else if (!strcmp(a, "--precision") && more) {
            if (cli_parse_precision(argv[++i], &precision)) return cli_usage("eval", USAGE, "--precision needs fp32, bf16 or int8");
        } else return cli_usage("eval", USAGE, "unexpected argument '%s'", a);
    }
    if (!data) return cli_usage("eval", USAGE, "give --data DIR");
    if (strcmp(split, "test") && strcmp(split, "val") && strcmp(split, "train") && strcmp(split, "flag"))
        return cli_usage("eval", USAGE, "--split must be test, val, train or flag");
    {
        const char *p = strstr(caption, "{}");
        if (!p || strstr(p + 2, "{}")) return cli_usage("eval", USAGE, "--caption must hold exactly one {}");
    }
    if (threads) clip_set_threads(threads);

    int rc = EXIT_BAD;
    clip_error e = {0};
    emoji_set set = {0};
    str_list tmpl = {0}, snames = {0};
    clip_model *m = NULL;
    clip_tokenizer *tok = NULL;
    clip_classifier *clf = NULL, *tux_clf = NULL;
    style_res *res = NULL;
    int nres = 0, any_failed = 0;
    int *sc = NULL, *loc = NULL, C = 0;
    float *capt = NULL;
    char **texts = NULL;
    cJSON *bl = NULL, *root = NULL;
    eset_images tux = {0};
    float *tux_feat = NULL;
    int *tux_ok = NULL, tux_done = 0, tux_n = 0, tux_C = 0, tux_nsplit = 0;
    double tux_all[2] = {0}, tux_sp[2] = {0};
    char tux_reason[600] = "";

    if (eset_open(data, &set, &e)) { cli_fail("eval", "%s", e.msg); goto done; }
    /* the split's concepts, in concepts.tsv order */
    sc = malloc((set.n_concepts + 1) * sizeof(int));
    loc = malloc((set.n_concepts + 1) * sizeof(int));
    if (!sc || !loc) { cli_fail("eval", "out of memory"); goto done; }
    for (int c = 0; c < set.n_concepts; c++) { loc[c] = -1; if (!strcmp(set.concept_split[c], split)) { loc[c] = C; sc[C++] = c; } }
    if (C == 0) { cli_fail("eval", "%s/concepts.tsv: no concepts in split '%s'", data, split); goto done; }

    /* styles: the list given, else styles.tsv's then the usual ones it lacks */
    if (styles_arg) { if (prompts_split_commas(styles_arg, &snames, &e)) { cli_fail("eval", "--styles: %s", e.msg); goto done; } }
    else {
        int nk = (int)(sizeof KNOWN_STYLES / sizeof *KNOWN_STYLES);
        snames.s = calloc(set.n_styles + nk, sizeof(char *));
        if (!snames.s) { cli_fail("eval", "out of memory"); goto done; }
        for (int i = 0; i < set.n_styles; i++) snames.s[snames.n++] = strdup(set.styles[i].name);
        for (int k = 0; k < nk; k++) {
            int have = 0;
            for (int i = 0; i < set.n_styles; i++) have |= !strcmp(set.styles[i].name, KNOWN_STYLES[k]);
            if (!have) snames.s[snames.n++] = strdup(KNOWN_STYLES[k]);
        }
    }
    for (int i = 0; i < snames.n; i++) {
        if (!snames.s[i]) { cli_fail("eval", "out of memory"); goto done; }
        if (strchr(snames.s[i], '/') || snames.s[i][0] == '.') { cli_fail("eval", "--styles: bad style name '%s'", snames.s[i]); goto done; }
    }

    struct stat tst;
    if (stat(templates, &tst) == 0) { if (prompts_load_lines(templates, &tmpl, &e)) { cli_fail("eval", "%s", e.msg); goto done; } }
    else if (prompts_builtin_templates(templates, &tmpl, &e)) { cli_fail("eval", "--templates: %s, and no such file", e.msg); goto done; }
    if (prompts_check_templates(&tmpl, templates, &e)) { cli_fail("eval", "%s", e.msg); goto done; }

    if (!model && !(model = cli_default_model())) { cli_fail("eval", "no --model given and no default model found"); goto done; }
    if (!(m = cli_load_model(model, precision, &e))) { cli_fail("eval", "%s", e.msg); goto done; }
    if (!(tok = clip_tokenizer_load(NULL, &e))) { cli_fail("eval", "%s", e.msg); goto done; }
    int D = clip_model_get_config(m)->embed_dim;

    /* text side, once: one caption per concept (retrieval) and the ensemble (zero-shot) */
    {
        capt = malloc((size_t)C * D * sizeof(float));
        texts = calloc(C, sizeof(char *));
        int *ok = malloc(C * sizeof(int)), failed = 0;
        if (!capt || !texts || !ok) { free(ok); cli_fail("eval", "out of memory"); goto done; }
        fill_str(texts, caption, set.concept_label, sc, C);
        for (int i = 0; i < C; i++) if (!texts[i]) { free(ok); cli_fail("eval", "out of memory"); goto done; }
        int st = encode_all(m, tok, texts, C, 1, capt, ok, &failed);
        free(ok);
        if (st || failed) { if (!st) cli_fail("eval", "%d captions could not be encoded", failed); goto done; }
        const char **labels = malloc(C * sizeof(char *));
        if (!labels) { cli_fail("eval", "out of memory"); goto done; }
        for (int i = 0; i < C; i++) labels[i] = set.concept_label[sc[i]];
        clf = clip_classifier_build(m, tok, labels, C, (const char *const *)tmpl.s, tmpl.n, &e);
        free(labels);
        if (!clf) { cli_fail("eval", "%s", e.msg); goto done; }
    }

    /* emoji styles */
    res = calloc(snames.n, sizeof *res);
    if (!res) { cli_fail("eval", "out of memory"); goto done; }
    for (int si = 0; si < snames.n; si++) {
        const char *name = snames.s[si];
        if (!strcmp(name, "tuxpaint")) { tux_done = 1; continue; }
        style_res *s = &res[nres++];
        s->name = name; s->role = "?"; s->shippable = "?";
        for (int i = 0; i < set.n_styles; i++)
            if (!strcmp(set.styles[i].name, name)) { s->role = set.styles[i].role; s->shippable = set.styles[i].shippable; }
        if (eset_style_images(&set, name, split, &s->im, &e)) {
            s->skipped = 1;
            snprintf(s->reason, sizeof s->reason, "%s", e.msg);
            fprintf(stderr, "clip eval: skipping style %s: %s\n", name, e.msg);
            if (e.status != CLIP_ERR_IO) any_failed = 1;
            continue;
        }
        if (s->im.n == 0) { s->skipped = 1; snprintf(s->reason, sizeof s->reason, "no base images of split '%s'", split); continue; }
        if (load_style(m, s, threads)) goto done;
        if (s->n_failed) any_failed = 1;
        if (s->im.n == 0) { s->skipped = 1; snprintf(s->reason, sizeof s->reason, "no image could be read"); continue; }
        int n = s->im.n;
        int *lab = malloc(n * sizeof(int)), *qc = malloc(C * sizeof(int)), *present = calloc(C, sizeof(int));
        float *tq = malloc((size_t)C * D * sizeof(float)), *sim = malloc((size_t)C * n * sizeof(float));
        int *rank = malloc(C * sizeof(int));
        if (!lab || !qc || !present || !tq || !sim || !rank) {
            free(lab); free(qc); free(present); free(tq); free(sim); free(rank);
            cli_fail("eval", "out of memory");
            goto done;
        }
        for (int i = 0; i < n; i++) { lab[i] = loc[s->im.concept[i]]; present[lab[i]]++; }
        image_to_class(s->feat, n, capt, C, D, lab, KS, 3, s->i2t);
        image_to_class(s->feat, n, clip_classifier_embeddings(clf), C, D, lab, KS, 2, s->zs);
        /* text->image: the concepts with an image in this style are the queries */
        int nq = 0;
        for (int c = 0; c < C; c++) if (present[c]) { memcpy(tq + (size_t)nq * D, capt + (size_t)c * D, D * sizeof(float)); qc[nq++] = c; }
        retrieval_dot(tq, nq, s->feat, n, D, sim);
        retrieval_ranks(sim, nq, n, qc, lab, rank);
        s->n_queries_t2i = nq;
        for (int j = 0; j < 3; j++) {
            s->t2i[j] = retrieval_recall_at(rank, nq, KS[j]);
            double ch = 0;
            for (int q = 0; q < nq; q++) ch += chance_at(n, present[qc[q]], KS[j]);
            s->t2i_chance[j] = nq ? ch / nq : 0;
        }
        free(lab); free(qc); free(present); free(tq); free(sim); free(rank);
    }

    /* Tux Paint: N-way over the concepts its matched stamps show */
    if (tux_done) {
        if (eset_tuxpaint_images(&set, &tux, &e)) {
            snprintf(tux_reason, sizeof tux_reason, "%s", e.msg);
            fprintf(stderr, "clip eval: skipping Tux Paint: %s\n", e.msg);
            if (e.status != CLIP_ERR_IO) any_failed = 1;
        } else if (tux.n == 0) {
            snprintf(tux_reason, sizeof tux_reason, "no stamp is matched to an emoji label");
        } else {
            int *tl = malloc(set.n_concepts * sizeof(int)), *lab = malloc(tux.n * sizeof(int)), *rank = malloc(tux.n * sizeof(int));
            const char **labels = malloc(tux.n * sizeof(char *));
            tux_feat = malloc((size_t)tux.n * D * sizeof(float));
            tux_ok = malloc(tux.n * sizeof(int));
            if (!tl || !lab || !rank || !labels || !tux_feat || !tux_ok) {
                free(tl); free(lab); free(rank); free(labels);
                cli_fail("eval", "out of memory");
                goto done;
            }
            for (int c = 0; c < set.n_concepts; c++) tl[c] = -1;
            for (int i = 0; i < tux.n; i++) tl[tux.concept[i]] = 0;
            for (int c = 0; c < set.n_concepts; c++) if (tl[c] == 0) { labels[tux_C] = set.concept_label[c]; tl[c] = tux_C++; }
            int failed = 0, st = encode_all(m, NULL, tux.path, tux.n, 0, tux_feat, tux_ok, &failed);
            if (!st) tux_clf = clip_classifier_build(m, tok, labels, tux_C, (const char *const *)tmpl.s, tmpl.n, &e);
            free(labels);
            if (st || !tux_clf) { if (!st) cli_fail("eval", "%s", e.msg); free(tl); free(lab); free(rank); goto done; }
            if (failed) any_failed = 1;
            /* keep the stamps that loaded; then all of them, and those of the split */
            int k = 0;
            for (int i = 0; i < tux.n; i++)
                if (tux_ok[i]) {
                    memmove(tux_feat + (size_t)k * D, tux_feat + (size_t)i * D, D * sizeof(float));
                    lab[k] = tl[tux.concept[i]];
                    tux.split[k] = tux.split[i];
                    k++;
                }
            tux_n = k;
            image_to_class(tux_feat, tux_n, clip_classifier_embeddings(tux_clf), tux_C, D, lab, KS, 2, tux_all);
            int j = 0;
            for (int i = 0; i < tux_n; i++)
                if (!strcmp(tux.split[i], split)) {
                    memmove(tux_feat + (size_t)j * D, tux_feat + (size_t)i * D, D * sizeof(float));
                    lab[j++] = lab[i];
                }
            tux_nsplit = j;
            image_to_class(tux_feat, tux_nsplit, clip_classifier_embeddings(tux_clf), tux_C, D, lab, KS, 2, tux_sp);
            free(tl); free(lab); free(rank);
        }
    }

    /* ---- image->image between styles: CLIP features and raw pixels on the emoji both have */
    {
        char *bp = malloc(strlen(data) + 16), *buf = NULL;
        size_t len;
        if (bp) { sprintf(bp, "%s/baseline.json", data); if (!file_read_all(bp, 64 << 20, &buf, &len, NULL)) bl = cJSON_Parse(buf); }
        free(bp); free(buf);
    }
    root = cJSON_CreateObject();
    cJSON *pairs = cJSON_CreateArray();
    int P = PIX * PIX * 3;
    int *inb = malloc((set.n_emoji + 1) * sizeof(int));
    if (!root || !pairs || !inb) { free(inb); cJSON_Delete(pairs); cli_fail("eval", "out of memory"); goto done; }
    for (int a = 0; a < nres; a++) for (int b = 0; b < nres; b++) {
        style_res *A = &res[a], *B = &res[b];
        if (a == b || A->skipped || B->skipped) continue;
        for (int i = 0; i < set.n_emoji; i++) inb[i] = -1;
        for (int i = 0; i < B->im.n; i++) inb[B->im.emoji[i]] = i;
        int nq = 0;
        for (int i = 0; i < A->im.n; i++) nq += inb[A->im.emoji[i]] >= 0;
        if (nq == 0) continue;
        float *qf = malloc((size_t)nq * D * sizeof(float)), *gf = malloc((size_t)nq * D * sizeof(float));
        float *qp = malloc((size_t)nq * P * sizeof(float)), *gp = malloc((size_t)nq * P * sizeof(float));
        int *qe = malloc(nq * sizeof(int)), *qcn = malloc(nq * sizeof(int)), *ge = malloc(nq * sizeof(int)), *gcn = malloc(nq * sizeof(int));
        if (!qf || !gf || !qp || !gp || !qe || !qcn || !ge || !gcn) {
            free(qf); free(gf); free(qp); free(gp); free(qe); free(qcn); free(ge); free(gcn); free(inb);
            cJSON_Delete(pairs); cli_fail("eval", "out of memory"); goto done;
        }
        /* query k and gallery k are the same emoji in the two styles */
        int k = 0;
        for (int i = 0; i < A->im.n; i++) {
            int g = inb[A->im.emoji[i]];
            if (g < 0) continue;
            memcpy(qf + (size_t)k * D, A->feat + (size_t)i * D, D * sizeof(float));
            memcpy(gf + (size_t)k * D, B->feat + (size_t)g * D, D * sizeof(float));
            memcpy(qp + (size_t)k * P, A->pix + (size_t)i * P, P * sizeof(float));
            memcpy(gp + (size_t)k * P, B->pix + (size_t)g * P, P * sizeof(float));
            qe[k] = ge[k] = A->im.emoji[i];
            qcn[k] = gcn[k] = A->im.concept[i];
            k++;
        }
        double v[5];
        pair_r1(qf, qe, qcn, nq, gf, ge, gcn, nq, D, 0, &v[0], &v[1]);
        pair_r1(qp, qe, qcn, nq, gp, ge, gcn, nq, P, 1, &v[2], &v[3]);
        v[4] = bl ? baseline_r1(bl, split, A->name, B->name) : -1;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "query", A->name);
        cJSON_AddStringToObject(o, "gallery", B->name);
        cJSON_AddNumberToObject(o, "n", nq);
        cJSON_AddNumberToObject(o, "clip_r1", v[0]);
        cJSON_AddNumberToObject(o, "clip_concept_r1", v[1]);
        cJSON_AddNumberToObject(o, "pixel_r1", v[2]);
        cJSON_AddNumberToObject(o, "pixel_concept_r1", v[3]);
        if (v[4] >= 0) cJSON_AddNumberToObject(o, "baseline_json_r1", v[4]); else cJSON_AddNullToObject(o, "baseline_json_r1");
        cJSON_AddNumberToObject(o, "chance", 1.0 / nq);
        cJSON_AddItemToArray(pairs, o);
        free(qf); free(gf); free(qp); free(gp); free(qe); free(qcn); free(ge); free(gcn);
    }
    free(inb);

    /* ---- the JSON */
    cJSON_AddStringToObject(root, "model", model);
    cJSON_AddStringToObject(root, "data", data);
    cJSON_AddStringToObject(root, "split", split);
    cJSON_AddNumberToObject(root, "n_concepts", C);
    cJSON_AddStringToObject(root, "templates", templates);
    cJSON_AddNumberToObject(root, "n_templates", tmpl.n);
    cJSON_AddStringToObject(root, "caption", caption);
    cJSON_AddStringToObject(root, "variants", "base");
    cJSON_AddStringToObject(root, "ties", "pessimistic");
    static const char *RK[3] = {"r1", "r5", "r10"}, *TK[2] = {"top1", "top5"};
    cJSON *js = cJSON_AddObjectToObject(root, "styles"), *skipped = cJSON_AddArrayToObject(root, "skipped");
    double mean[3] = {0};
    int n_eval = 0;
    for (int i = 0; i < nres; i++) {
        style_res *s = &res[i];
        if (s->skipped) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "style", s->name);
            cJSON_AddStringToObject(o, "reason", s->reason);
            cJSON_AddItemToArray(skipped, o);
            continue;
        }
        cJSON *o = cJSON_AddObjectToObject(js, s->name);
        cJSON_AddStringToObject(o, "role", s->role);
        cJSON_AddStringToObject(o, "shippable", s->shippable);
        cJSON_AddNumberToObject(o, "n_images", s->im.n);
        cJSON_AddNumberToObject(o, "n_failed", s->n_failed);
        cJSON *t = num_obj(RK, s->t2i, 3);
        cJSON_AddNumberToObject(t, "n_queries", s->n_queries_t2i);
        cJSON_AddNumberToObject(t, "n_gallery", s->im.n);
        cJSON_AddItemToObject(t, "chance", num_obj(RK, s->t2i_chance, 3));
        cJSON_AddItemToObject(o, "text_to_image", t);
        double ch[3] = {kfrac(1, C), kfrac(5, C), kfrac(10, C)};
        t = num_obj(RK, s->i2t, 3);
        cJSON_AddNumberToObject(t, "n_queries", s->im.n);
        cJSON_AddNumberToObject(t, "n_gallery", C);
        cJSON_AddItemToObject(t, "chance", num_obj(RK, ch, 3));
        cJSON_AddItemToObject(o, "image_to_text", t);
        t = num_obj(TK, s->zs, 2);
        cJSON_AddNumberToObject(t, "n_images", s->im.n);
        cJSON_AddNumberToObject(t, "n_classes", C);
        cJSON_AddItemToObject(t, "chance", num_obj(TK, ch, 2));
        cJSON_AddItemToObject(o, "zeroshot", t);
        if (!strcmp(s->role, "eval")) { mean[0] += s->t2i[0]; mean[1] += s->i2t[0]; mean[2] += s->zs[0]; n_eval++; }
    }
    if (n_eval) {
        static const char *MK[3] = {"text_to_image_r1", "image_to_text_r1", "zeroshot_top1"};
        for (int j = 0; j < 3; j++) mean[j] /= n_eval;
        cJSON *o = num_obj(MK, mean, 3);
        cJSON_AddNumberToObject(o, "n_styles", n_eval);
        cJSON_AddItemToObject(root, "mean_eval_styles", o);
    } else cJSON_AddNullToObject(root, "mean_eval_styles");
    if (tux_done && tux_n > 0) {
        cJSON *o = cJSON_AddObjectToObject(root, "tuxpaint");
        double ch[2] = {kfrac(1, tux_C), kfrac(5, tux_C)};
        cJSON_AddNumberToObject(o, "n_classes", tux_C);
        cJSON_AddItemToObject(o, "chance", num_obj(TK, ch, 2));
        cJSON *t = num_obj(TK, tux_all, 2);
        cJSON_AddNumberToObject(t, "n_images", tux_n);
        cJSON_AddItemToObject(o, "all", t);
        t = tux_nsplit ? num_obj(TK, tux_sp, 2) : cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "n_images", tux_nsplit);
        cJSON_AddItemToObject(o, "split", t);
    } else {
        cJSON_AddNullToObject(root, "tuxpaint");
        if (tux_done) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "style", "tuxpaint");
            cJSON_AddStringToObject(o, "reason", tux_reason);
            cJSON_AddItemToArray(skipped, o);
        }
    }
    cJSON_AddItemToObject(root, "image_to_image", pairs);

    /* ---- the table */
    printf("clip eval: split %s, %d concepts (base emoji); zero-shot templates '%s' (%d); retrieval caption \"%s\"\n\n",
           split, C, templates, tmpl.n, caption);
    printf("%-16s %-5s %6s | %-20s | %-20s | %s\n", "style", "role", "images", "text->image R@1/5/10", "image->text R@1/5/10", "zero-shot top1/top5");
    for (int i = 0; i < nres; i++) {
        style_res *s = &res[i];
        if (s->skipped) { printf("%-16s skipped: %s\n", s->name, s->reason); continue; }
        printf("%-16s %-5s %6d | %.3f %.3f %.3f    | %.3f %.3f %.3f    | %.3f %.3f\n", s->name, s->role, s->im.n,
               s->t2i[0], s->t2i[1], s->t2i[2], s->i2t[0], s->i2t[1], s->i2t[2], s->zs[0], s->zs[1]);
    }
    printf("%-16s %-5s %6s | %-20s | %.3f %.3f %.3f    | %.3f %.3f\n", "chance", "", "", "(per style: JSON)", kfrac(1, C), kfrac(5, C), kfrac(10, C), kfrac(1, C), kfrac(5, C));
    if (n_eval) printf("%-16s %-5s %6s | %.3f                | %.3f                | %.3f\n", "mean (eval)", "", "", mean[0], mean[1], mean[2]);
    if (tux_done && tux_n > 0)
        printf("\nTux Paint stamps captioned with an emoji label, %d-way zero-shot: all %d: top1 %.3f top5 %.3f; "
               "split %s (%d): top1 %.3f top5 %.3f; chance %.3f / %.3f\n",
               tux_C, tux_n, tux_all[0], tux_all[1], split, tux_nsplit, tux_sp[0], tux_sp[1], kfrac(1, tux_C), kfrac(5, tux_C));
    else if (tux_done) printf("\nTux Paint: skipped: %s\n", tux_reason);
    if (cJSON_GetArraySize(pairs) > 0) {
        printf("\nimage->image R@1 (same emoji), query row -> gallery column: CLIP / raw pixels\n%-16s", "");
        for (int b = 0; b < nres; b++) if (!res[b].skipped) printf(" %14.14s", res[b].name);
        printf("\n");
        for (int a = 0; a < nres; a++) {
            if (res[a].skipped) continue;
            printf("%-16s", res[a].name);
            for (int b = 0; b < nres; b++) {
                if (res[b].skipped) continue;
                const cJSON *p, *hit = NULL;
                cJSON_ArrayForEach(p, pairs)
                    if (!strcmp(cJSON_GetObjectItem(p, "query")->valuestring, res[a].name) && !strcmp(cJSON_GetObjectItem(p, "gallery")->valuestring, res[b].name)) hit = p;
                if (hit) printf("    %.3f/%.3f", cJSON_GetObjectItem(hit, "clip_r1")->valuedouble, cJSON_GetObjectItem(hit, "pixel_r1")->valuedouble);
                else printf(" %14s", "-");
            }
            printf("\n");
        }
    }
    fflush(stdout);

    if (json_out) {
        char *text = cJSON_Print(root);
        atomic_file af;
        if (!text) { cli_fail("eval", "out of memory"); goto done; }
        if (atomic_open(&af, json_out, &e)) { free(text); cli_fail("eval", "%s", e.msg); goto done; }
        fputs(text, af.f);
        fputc('\n', af.f);
        free(text);
        if (atomic_commit(&af, &e)) { cli_fail("eval", "%s", e.msg); goto done; }
    }
    rc = any_failed ? EXIT_BAD : 0;
done:
    for (int i = 0; i < nres; i++) { eset_images_free(&res[i].im); free(res[i].feat); free(res[i].pix); }
    free(res);
    for (int i = 0; texts && i < C; i++) free(texts[i]);
    free(texts); free(capt); free(sc); free(loc);
    eset_images_free(&tux); free(tux_feat); free(tux_ok);
    cJSON_Delete(bl); cJSON_Delete(root);
    clip_classifier_free(clf); clip_classifier_free(tux_clf);
    clip_tokenizer_free(tok); clip_model_free(m);
    str_list_free(&tmpl); str_list_free(&snames);
    eset_free(&set);
    return rc;
}
