/* clip init: writes a freshly initialised model (OpenAI's initialisation), from a named
 * architecture and/or explicit shape options. */
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include "cli.h"

static const char *USAGE = "clip init [--arch NAME] [shape options] [--seed N] -o OUT.safetensors";

static void help(void) {
    printf("usage: %s\n\n"
           "Writes a freshly initialised CLIP model (OpenAI's initialisation, deterministic in --seed).\n"
           "  --arch NAME          ViT-B-32, ViT-B-16, ViT-L-14, ViT-L-14-336, RN50, ..., or the small CPU\n"
           "                       ones ViT-S-64 and ViT-T-32; shape options then override its fields\n"
           "  --image-size N  --patch-size N  --vision-width N  --vision-layers N  --vision-heads N\n"
           "  --text-width N  --text-layers N  --text-heads N  --context N  --vocab N  --embed-dim N\n"
           "  --activation quickgelu|gelu\n"
           "  --seed N             (default 0)\n"
           "Without --arch, give at least --image-size, --patch-size, --vision-width, --vision-layers,\n"
           "--text-width, --text-layers and --embed-dim (a ViT model).\n", USAGE);
}

int cmd_init(int argc, char **argv) {
    const char *arch = NULL, *out = NULL;
    clip_config c = {0};
    int seed = 0, act = -1;
    static const struct { const char *opt; size_t off; } SHAPE[] = {
        {"--image-size", offsetof(clip_config, image_size)}, {"--patch-size", offsetof(clip_config, patch_size)},
        {"--vision-width", offsetof(clip_config, vision_width)}, {"--vision-layers", offsetof(clip_config, vision_layers)},
        {"--vision-heads", offsetof(clip_config, vision_heads)}, {"--text-width", offsetof(clip_config, text_width)},
        {"--text-layers", offsetof(clip_config, text_layers)}, {"--text-heads", offsetof(clip_config, text_heads)},
        {"--context", offsetof(clip_config, context_length)}, {"--vocab", offsetof(clip_config, vocab_size)},
        {"--embed-dim", offsetof(clip_config, embed_dim)},
    };
    enum { NS = sizeof SHAPE / sizeof SHAPE[0] };
    int given[NS] = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc, k;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 0; }
        if (!strcmp(a, "--arch") && more) { arch = argv[++i]; continue; }
        if (!strcmp(a, "-o") && more) { out = argv[++i]; continue; }
        if (!strcmp(a, "--seed") && more) {
            if (cli_parse_int(argv[++i], 0, 2147483647, &seed)) return cli_usage("init", USAGE, "--seed needs a non-negative integer");
            continue;
        }
        if (!strcmp(a, "--activation") && more) {
            const char *v = argv[++i];
            if (!strcmp(v, "gelu")) act = CLIP_ACT_GELU;
            else if (!strcmp(v, "quickgelu") || !strcmp(v, "quick_gelu")) act = CLIP_ACT_QUICKGELU;
            else return cli_usage("init", USAGE, "--activation is quickgelu or gelu, not '%s'", v);
            continue;
        }
        for (k = 0; k < NS; k++) if (!strcmp(a, SHAPE[k].opt)) break;
        if (k == NS || !more) return cli_usage("init", USAGE, "unexpected argument '%s'", a);
        if (cli_parse_int(argv[++i], 1, 1 << 20, &given[k])) return cli_usage("init", USAGE, "%s needs a positive integer", a);
    }
    if (!out) return cli_usage("init", USAGE, "-o OUT.safetensors is required");
    clip_error e = {0};
    if (arch && clip_config_from_name(arch, &c, &e)) return cli_fail("init", "--arch: %s", e.msg);
    if (!arch) {
        c.vision_kind = CLIP_VISION_VIT;
        static const int need[] = {0, 1, 2, 3, 5, 6, 10};
        for (size_t j = 0; j < sizeof need / sizeof need[0]; j++)
            if (!given[need[j]]) return cli_usage("init", USAGE, "without --arch, %s is required", SHAPE[need[j]].opt);
    }
    for (int k = 0; k < NS; k++)
        if (given[k]) *(int *)((char *)&c + SHAPE[k].off) = given[k];
    /* heads follow the width (width/64) unless given */
    if (given[2] && !given[4]) c.vision_heads = 0;
    if (given[5] && !given[7]) c.text_heads = 0;
    if (act >= 0) c.activation = act;
    if (c.vision_kind == CLIP_VISION_VIT && (c.image_size % c.patch_size || c.vision_width % (c.vision_heads ? c.vision_heads : 1)))
        return cli_fail("init", "image size %d must be a multiple of patch size %d, and the vision width of its heads",
                        c.image_size, c.patch_size);
    if (c.text_heads && c.text_width % c.text_heads)
        return cli_fail("init", "text width %d is not divisible by %d heads", c.text_width, c.text_heads);
    clip_model *m = clip_model_init(&c, (uint64_t)seed, &e);
    if (!m) return cli_fail("init", "%s", e.msg);
    int rc = clip_model_save(m, out, &e);
    if (!rc) fprintf(stderr, "clip init: wrote %s (%zu parameters)\n", out, clip_model_num_params(m));
    clip_model_free(m);
    return rc ? cli_fail("init", "%s", e.msg) : 0;
}
