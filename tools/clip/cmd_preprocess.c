/* clip preprocess: OpenAI's image preprocessing of files into one .npy (SPEC.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "io/npy.h"

static const char *USAGE =
    "clip preprocess --size N [--uint8] [--threads T] [--fast] [--background RRGGBB]\n"
    "                [--max-pixels N] IMAGE... -o OUT.npy";

static void help(void) {
    printf("usage: %s\n\n"
           "OpenAI's preprocessing, pixel-exact with PIL: shorter side resized to N (bicubic),\n"
           "centre crop N x N, RGB. Writes float32 [K, 3, N, N] normalised with CLIP's mean/std,\n"
           "or with --uint8 the cropped pixels, uint8 [K, N, N, 3]. JPEG, PNG and WebP.\n\n"
           "  --size N            output side (required)\n"
           "  --uint8             write the uint8 crops instead of normalised floats\n"
           "  --threads T         images decoded in parallel (default: all cores)\n"
           "  --fast              JPEG: DCT-domain downscale before the exact resize (not exact)\n"
           "  --background RRGGBB composite transparent images onto this colour (default: alpha\n"
           "                      dropped, as PIL's convert(\"RGB\"))\n"
           "  --max-pixels N      reject larger images (default 64000000)\n"
           "  -o OUT.npy          output file, written atomically\n", USAGE);
}

int cmd_preprocess(int argc, char **argv) {
    const char *V = "preprocess", *outp = NULL;
    int size = 0, u8 = 0, threads = 0;
    clip_image_opts o;
    memset(&o, 0, sizeof o);
    const char **paths = malloc(sizeof(char *) * (size_t)(argc > 0 ? argc : 1));
    int n = 0;
    if (!paths) return cli_fail(V, "out of memory");
    int rc = EXIT_BAD;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); free(paths); return 0; }
        else if (!strcmp(a, "--uint8")) u8 = 1;
        else if (!strcmp(a, "--fast")) o.jpeg_fast = 1;
        else if (!strcmp(a, "--size") || !strcmp(a, "--threads") || !strcmp(a, "-o") ||
                 !strcmp(a, "--background") || !strcmp(a, "--max-pixels")) {
            if (!more) { rc = cli_usage(V, USAGE, "%s needs a value", a); goto out; }
            const char *val = argv[++i];
            if (!strcmp(a, "-o")) outp = val;
            else if (!strcmp(a, "--size")) {
                if (cli_parse_int(val, 1, 4096, &size)) { rc = cli_usage(V, USAGE, "--size: '%s' is not an integer in 1..4096", val); goto out; }
            } else if (!strcmp(a, "--threads")) {
                if (cli_parse_int(val, 1, 1024, &threads)) { rc = cli_usage(V, USAGE, "--threads: '%s' is not an integer in 1..1024", val); goto out; }
            } else if (!strcmp(a, "--max-pixels")) {
                char *end;
                long long v = strtoll(val, &end, 10);
                if (*end || v < 1) { rc = cli_usage(V, USAGE, "--max-pixels: '%s' is not a positive integer", val); goto out; }
                o.max_pixels = v;
            } else {
                if (cli_parse_background(val, &o)) { rc = cli_usage(V, USAGE, "--background: '%s' is not a colour RRGGBB", val); goto out; }
            }
        } else if (a[0] == '-' && a[1]) { rc = cli_usage(V, USAGE, "unknown option '%s'", a); goto out; }
        else paths[n++] = a;
    }
    if (!size) { rc = cli_usage(V, USAGE, "--size is required"); goto out; }
    if (!outp) { rc = cli_usage(V, USAGE, "-o OUT.npy is required"); goto out; }
    if (!n) { rc = cli_usage(V, USAGE, "no IMAGE given"); goto out; }
    {
        size_t per = (size_t)size * size * 3;
        float *f = u8 ? NULL : malloc(sizeof(float) * per * n);
        uint8_t *b = u8 ? malloc(per * n) : NULL;
        int *st = malloc(sizeof(int) * n);
        clip_error *errs = malloc(sizeof(clip_error) * n);
        if ((!f && !b) || !st || !errs) { free(f); free(b); free(st); free(errs); rc = cli_fail(V, "out of memory for %d images of %d px", n, size); goto out; }
        clip_error e = {0};
        if (clip_preprocess_files(paths, n, size, &o, f, b, st, errs, threads, &e)) {
            for (int i = 0; i < n; i++)
                if (st[i]) fprintf(stderr, "clip %s: %s\n", V, errs[i].msg);
            rc = EXIT_BAD;
        } else {
            int64_t sh[4] = {n, 3, size, size};
            if (u8) { sh[1] = size; sh[2] = size; sh[3] = 3; }
            if (npy_save(outp, u8 ? NPY_U1 : NPY_F4, 4, sh, u8 ? (void *)b : (void *)f, &e))
                rc = cli_fail(V, "%s", e.msg);
            else rc = 0;
        }
        free(f); free(b); free(st); free(errs);
    }
out:
    free(paths);
    return rc;
}
