/* clip train: contrastive training from scratch or from a checkpoint, with progress on the
 * terminal, a JSON-lines log, periodic held-out loss and atomic, resumable checkpoints. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "mpi_glue.h"

static const char *USAGE =
    "clip train (--init ARCH | --model PATH | --resume CKPT) (--pixels P.npy --tokens T.npy [--groups G.npy] | --data PATH)\n"
    "           [--val-pixels P.npy --val-tokens T.npy | --val-data PATH] [options] [-o OUT.safetensors]";

static void help(void) {
    printf("usage: %s\n\n"
           "Model:\n"
           "  --init ARCH          start from a freshly initialised ARCH (see clip init; --seed applies)\n"
           "  --model PATH         fine-tune a checkpoint\n"
           "  --resume CKPT        continue a run from its checkpoint (model, optimizer, step, data position)\n"
           "  --lock-image, --lock-text   freeze a tower\n"
           "Data:\n"
           "  --pixels P.npy       float32 [N,3,S,S] preprocessed, or uint8 [N,S,S,3]\n"
           "  --tokens T.npy       int32 [N,context]\n"
           "  --groups G.npy       int32 [N]: at most one pair per group in a batch\n"
           "  --data PATH          manifest TSV (image, caption[, group]) or a folder of tar shards\n"
           "  --val-pixels, --val-tokens, --val-data   held-out set for the evaluation loss\n"
           "  --no-augment         no augmentation (default: random resized crop, scale 0.9-1.0)\n"
           "  --crop-scale S       the random crop's smallest share of the image area (default 0.9)\n"
           "  --color-jitter F     brightness, contrast and saturation factors in 1 +- F, F in [0, 1] (default 0)\n"
           "  --hflip              random horizontal flips\n"
           "  --cache-images       (--data) decode every image once and keep it in memory (small sets)\n"
           "  --background RRGGBB  (--data) composite transparent images onto this colour (default: drop alpha, as PIL)\n"
           "  --workers N (2)      data threads;  --prefetch N (2) batches ahead\n"
           "Optimisation (open_clip's defaults):\n"
           "  --steps N (1000)  --batch-size N (64)  --accum N (1)  --lr X (5e-4)  --warmup N (100)\n"
           "  --wd X (0.2)  --beta1 X (0.9)  --beta2 X (0.98; ResNet 0.999)  --eps X (1e-6; ResNet 1e-8)  --grad-clip X (0: off)  --seed N (0)\n"
           "Output:\n"
           "  --checkpoint FILE    checkpoint (atomic; default: OUT with .ckpt appended when -o is given)\n"
           "  --checkpoint-every N (100)  --eval-every N (100)  --log FILE.jsonl  --print-every N (1)\n"
           "  --stop-after N       stop (with a checkpoint) once step N is reached\n"
           "  --threads N          compute threads\n"
           "  -o OUT.safetensors   the final model (without optimizer state)\n"
           "  --mpi                data-parallel over MPI ranks (the MPI build: make mpi; then\n"
           "                       mpirun -np N build-mpi/clip train --mpi ...): each rank computes\n"
           "                       batch/N pairs, features are all-gathered so the loss sees the\n"
           "                       whole batch, gradients are summed; rank 0 logs and saves\n", USAGE);
}

typedef struct { FILE *log; int print_every, tty, quiet; } progress_ctx;

static int on_progress(void *ud, const clip_train_progress *p) {
    progress_ctx *c = ud;
    if (p->event == 0) {
        if (c->log)
            fprintf(c->log, "{\"step\":%ld,\"epoch\":%d,\"loss\":%.6g,\"lr\":%.6g,\"logit_scale\":%.6g,\"temperature\":%.6g,"
                            "\"grad_norm\":%.6g,\"samples_per_s\":%.4g}\n",
                    p->step, p->epoch, p->loss, p->lr, p->logit_scale, expf(p->logit_scale), p->grad_norm, p->samples_per_s);
        if (c->print_every > 0 && (p->step % c->print_every == 0 || p->step == p->steps)) {
            long eta = (long)p->eta_s;
            fprintf(stderr, "step %ld/%ld  loss %.4f  lr %.3e  scale %.2f  %.1f samples/s  ETA %ld:%02ld:%02ld\n", p->step,
                    p->steps, p->loss, p->lr, expf(p->logit_scale), p->samples_per_s, eta / 3600, eta / 60 % 60, eta % 60);
        }
    } else if (p->event == 1) {
        if (c->log) fprintf(c->log, "{\"step\":%ld,\"eval_loss\":%.6g}\n", p->step, p->eval_loss);
        if (!c->quiet) fprintf(stderr, "step %ld  held-out loss %.4f\n", p->step, p->eval_loss);
    } else if (p->event == 2) {
        if (c->log) fprintf(c->log, "{\"step\":%ld,\"checkpoint\":true}\n", p->step);
    }
    if (c->log) fflush(c->log);
    return 0;
}

static int parse_float(const char *s, float *out) {
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !isfinite(v)) return -1;
    *out = (float)v;
    return 0;
}

static int train_run(const char *init, const char *model, const char *resume, const char *data, const char *pixels,
                     const char *tokens, const char *groups, const char *vdata, const char *vpixels, const char *vtokens,
                     const char *log, const char *out, int seed, int print_every, clip_train_opts *op, clip_dataset_opts *dp);

int cmd_train(int argc, char **argv) {
    const char *init = NULL, *model = NULL, *resume = NULL, *pixels = NULL, *tokens = NULL, *groups = NULL, *data = NULL;
    const char *vpixels = NULL, *vtokens = NULL, *vdata = NULL, *ckpt = NULL, *log = NULL, *out = NULL;
    int threads = 0, seed = 0, print_every = 1, ival;
    clip_train_opts o;
    clip_train_opts_defaults(&o);
    int use_mpi = 0;
    clip_dist dist = {0, 1, NULL, NULL, NULL};
    o.beta2 = o.eps = -1;   /* unset: chosen by the image tower below */
    clip_dataset_opts dopt;
    clip_dataset_opts_defaults(&dopt);
    o.workers = 2;
    o.ckpt_every = 100;
    o.eval_every = 100;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        float fv;
#define STR(name, var) if (!strcmp(a, name) && more) { var = argv[++i]; continue; }
#define INT(name, lo, dst) if (!strcmp(a, name) && more) { \
        if (cli_parse_int(argv[++i], lo, 2147483647, &ival)) return cli_usage("train", USAGE, "%s needs an integer >= %d", name, lo); \
        dst = ival; continue; }
#define FLT(name, dst) if (!strcmp(a, name) && more) { \
        if (parse_float(argv[++i], &fv) || fv < 0) return cli_usage("train", USAGE, "%s needs a non-negative number", name); \
        dst = fv; continue; }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 0; }
        STR("--init", init) STR("--model", model) STR("--resume", resume) STR("--pixels", pixels) STR("--tokens", tokens)
        STR("--groups", groups) STR("--data", data) STR("--val-pixels", vpixels) STR("--val-tokens", vtokens)
        STR("--val-data", vdata) STR("--checkpoint", ckpt) STR("--log", log) STR("-o", out)
        INT("--steps", 1, o.steps) INT("--batch-size", 2, o.batch_size) INT("--accum", 1, o.accum_steps)
        INT("--warmup", 0, o.warmup_steps) INT("--seed", 0, seed) INT("--workers", 1, o.workers) INT("--prefetch", 1, o.prefetch)
        INT("--checkpoint-every", 0, o.ckpt_every) INT("--eval-every", 0, o.eval_every) INT("--print-every", 0, print_every)
        INT("--stop-after", 0, o.stop_after) INT("--threads", 1, threads)
        FLT("--lr", o.lr) FLT("--wd", o.weight_decay) FLT("--beta1", o.beta1) FLT("--beta2", o.beta2) FLT("--eps", o.eps)
        FLT("--grad-clip", o.grad_clip)
        if (!strcmp(a, "--color-jitter") && more) {
            if (parse_float(argv[++i], &fv) || !(fv >= 0 && fv <= 1)) return cli_usage("train", USAGE, "--color-jitter needs a number in [0, 1]");
            o.color_jitter = fv;
            continue;
        }
        if (!strcmp(a, "--crop-scale") && more) {
            if (parse_float(argv[++i], &fv) || !(fv > 0 && fv <= 1)) return cli_usage("train", USAGE, "--crop-scale needs a number in (0, 1]");
            o.crop_scale_min = fv;
            continue;
        }
        if (!strcmp(a, "--hflip")) { o.hflip = 1; continue; }
        if (!strcmp(a, "--lock-image")) { o.lock_image = 1; continue; }
        if (!strcmp(a, "--lock-text")) { o.lock_text = 1; continue; }
        if (!strcmp(a, "--no-augment")) { o.augment = 0; continue; }
        if (!strcmp(a, "--mpi")) { use_mpi = 1; continue; }
        if (!strcmp(a, "--cache-images")) { dopt.cache_images = 1; continue; }
        if (!strcmp(a, "--background") && more) {
            const char *v = argv[++i];
            char *end;
            unsigned long rgb = strtoul(v, &end, 16);
            if (strlen(v) != 6 || *end) return cli_usage("train", USAGE, "--background needs a colour RRGGBB, not '%s'", v);
            dopt.composite = 1;
            dopt.bg[0] = (uint8_t)(rgb >> 16); dopt.bg[1] = (uint8_t)(rgb >> 8); dopt.bg[2] = (uint8_t)rgb;
            continue;
        }
        return cli_usage("train", USAGE, "unexpected argument '%s'", a);
#undef STR
#undef INT
#undef FLT
    }
    if (!!init + !!model + !!resume != 1) return cli_usage("train", USAGE, "give exactly one of --init, --model, --resume");
    if (!data == !(pixels && tokens) || (!!pixels != !!tokens))
        return cli_usage("train", USAGE, "give the training data: --pixels with --tokens, or --data");
    if ((vpixels || vtokens) && (vdata || !vpixels || !vtokens))
        return cli_usage("train", USAGE, "the held-out set is --val-pixels with --val-tokens, or --val-data");
    if (o.beta1 >= 1 || o.beta2 >= 1) return cli_usage("train", USAGE, "--beta1 and --beta2 must be below 1");
    if (o.batch_size % o.accum_steps) return cli_usage("train", USAGE, "--batch-size must be a multiple of --accum");
    if (o.warmup_steps > o.steps) o.warmup_steps = o.steps;
    o.seed = (uint64_t)seed;
    char ckpt_buf[4096];
    if (!ckpt && resume) ckpt = resume;
    if (!ckpt && out) { snprintf(ckpt_buf, sizeof ckpt_buf, "%s.ckpt", out); ckpt = ckpt_buf; }
    o.ckpt_path = ckpt;
    o.resume_path = resume;
    if (threads) clip_set_threads(threads);

    if (use_mpi) {
        int st = cli_mpi_start(&argc, &argv, &dist);
        if (st) return st;
        o.dist = &dist;
        /* one writer: rank 0 prints, logs and saves (the library checkpoints from rank 0 only) */
        if (dist.rank != 0) { print_every = 0; log = NULL; out = NULL; }
    }
    int rc_mpi = train_run(init, model, resume, data, pixels, tokens, groups, vdata, vpixels, vtokens, log, out, seed,
                           print_every, &o, &dopt);
    if (use_mpi) cli_mpi_stop(rc_mpi != 0);
    return rc_mpi;
}

/* Loads or creates the model, opens the data, trains, saves. */
static int train_run(const char *init, const char *model, const char *resume, const char *data, const char *pixels,
                     const char *tokens, const char *groups, const char *vdata, const char *vpixels, const char *vtokens,
                     const char *log, const char *out, int seed, int print_every, clip_train_opts *op, clip_dataset_opts *dp) {
    clip_train_opts o = *op;
    clip_dataset_opts dopt = *dp;
    clip_error e = {0};
    clip_model *m = NULL;
    if (init) {
        clip_config c;
        if (clip_config_from_name(init, &c, &e)) return cli_fail("train", "--init: %s", e.msg);
        m = clip_model_init(&c, (uint64_t)seed, &e);
    } else {
        m = cli_load_model(model ? model : resume, CLIP_PRECISION_FP32, &e);
    }
    if (!m) return cli_fail("train", "%s", e.msg);
    const clip_config *c = clip_model_get_config(m);
    /* the paper's AdamW settings: (0.9, 0.98, 1e-6) for ViTs, (0.9, 0.999, 1e-8) for ResNets */
    if (o.beta2 < 0) o.beta2 = c->vision_kind == CLIP_VISION_RESNET ? 0.999f : 0.98f;
    if (o.eps < 0) o.eps = c->vision_kind == CLIP_VISION_RESNET ? 1e-8f : 1e-6f;
    dopt.image_size = c->image_size;
    dopt.context_length = c->context_length;
    clip_dataset *tr = data ? clip_dataset_open_opts(data, &dopt, &e) : clip_dataset_from_npy(pixels, tokens, groups, &e);
    clip_dataset *va = NULL;
    int rc = EXIT_BAD;
    if (!tr) { cli_fail("train", "%s", e.msg); goto done; }
    if (vdata || vpixels) {
        va = vdata ? clip_dataset_open_opts(vdata, &dopt, &e) : clip_dataset_from_npy(vpixels, vtokens, NULL, &e);
        if (!va) { cli_fail("train", "%s", e.msg); goto done; }
    }
    int quiet = o.dist && o.dist->rank != 0;   /* data-parallel: rank 0 speaks for all */
    progress_ctx pc = {.print_every = print_every, .tty = isatty(2), .quiet = quiet};
    if (log && !(pc.log = fopen(log, resume ? "a" : "w"))) { cli_fail("train", "%s: cannot open the log for writing", log); goto done; }
    if (!quiet)
        fprintf(stderr, "clip train: %zu parameters, %d pairs, batch %d (%d micro-batches%s), %ld steps\n", clip_model_num_params(m),
                clip_dataset_size(tr), o.batch_size, o.accum_steps, o.dist ? ", data-parallel" : "", o.steps);
    if (clip_train(m, &o, tr, va, on_progress, &pc, &e)) { cli_fail("train", "%s", e.msg); goto done_log; }
    if (out && clip_model_save(m, out, &e)) { cli_fail("train", "%s", e.msg); goto done_log; }
    if (out) fprintf(stderr, "clip train: wrote %s\n", out);
    rc = 0;
done_log:
    if (pc.log) fclose(pc.log);
done:
    clip_dataset_free(tr);
    clip_dataset_free(va);
    clip_model_free(m);
    return rc;
}
