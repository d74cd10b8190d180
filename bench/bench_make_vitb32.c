/* Writes a randomly initialised CLIP model (default ViT-B/32) as .safetensors, for the peer
 * benchmark (bench/run_peers.sh) until `clip init` exists. Speed does not depend on the values.
 * Usage: build/bench/bench_make_vitb32 OUT.safetensors [--arch ViT-B-32] [--seed N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clip.h"

int main(int argc, char **argv) {
    const char *out = NULL, *arch = "ViT-B-32";
    unsigned long long seed = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--arch") && i + 1 < argc) arch = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (argv[i][0] != '-' && !out) out = argv[i];
        else { fprintf(stderr, "usage: bench_make_vitb32 OUT.safetensors [--arch NAME] [--seed N]\n"); return 2; }
    }
    if (!out) { fprintf(stderr, "usage: bench_make_vitb32 OUT.safetensors [--arch NAME] [--seed N]\n"); return 2; }
    clip_config cfg;
    clip_error e = {0};
    if (clip_config_from_name(arch, &cfg, &e)) { fprintf(stderr, "bench_make_vitb32: %s\n", e.msg); return 1; }
    clip_model *m = clip_model_init(&cfg, seed, &e);
    if (!m || clip_model_save(m, out, &e)) { fprintf(stderr, "bench_make_vitb32: %s\n", e.msg); clip_model_free(m); return 1; }
    fprintf(stderr, "wrote %s (%s, %zu params)\n", out, arch, clip_model_num_params(m));
    clip_model_free(m);
    return 0;
}
