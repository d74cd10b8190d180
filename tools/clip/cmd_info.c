/* clip info: prints the architecture detected from a checkpoint's names and shapes. */
#include <stdio.h>
#include <math.h>
#include <string.h>
#include "cli.h"

static const char *USAGE = "clip info [--model PATH] [--json]";

int cmd_info(int argc, char **argv) {
    const char *model = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s\n\nPrints the architecture read from a checkpoint (.safetensors file, or a directory with\n"
                   "model.safetensors and config.json). Without --model: $CLIP_MODEL, else the shipped model.\n", USAGE);
            return 0;
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--json")) json = 1;
        else return cli_usage("info", USAGE, "unexpected argument '%s'", argv[i]);
    }
    if (!model && !(model = cli_default_model())) return cli_fail("info", "no --model given and no default model found");
    clip_error e = {0};
    clip_model *m = cli_load_model(model, CLIP_PRECISION_FP32, &e);
    if (!m) return cli_fail("info", "%s", e.msg);
    const clip_config *c = clip_model_get_config(m);
    const char *act = c->activation == CLIP_ACT_GELU ? "gelu" : "quick_gelu";
    const char *layout = c->layout == CLIP_LAYOUT_HF ? "huggingface" : "openai";
    size_t np = clip_model_num_params(m);
    int nmat = 0, nh = clip_model_fp16_matrices(m, &nmat);
    if (json) {
        printf("{\"model\": \"%s\", \"layout\": \"%s\", \"params\": %zu, \"embed_dim\": %d, \"image_size\": %d, "
               "\"vision\": \"%s\", \"vision_width\": %d, \"vision_layers\": %d, \"vision_heads\": %d, \"patch_size\": %d, "
               "\"rn_layers\": [%d, %d, %d, %d], \"text_width\": %d, \"text_layers\": %d, \"text_heads\": %d, "
               "\"context_length\": %d, \"vocab_size\": %d, \"activation\": \"%s\", \"logit_scale\": %.7g, "
               "\"weight_matrices\": %d, \"fp16_matrices\": %d}\n",
               model, layout, np, c->embed_dim, c->image_size, c->vision_kind == CLIP_VISION_RESNET ? "resnet" : "vit",
               c->vision_width, c->vision_layers, c->vision_heads, c->patch_size, c->rn_layers[0], c->rn_layers[1],
               c->rn_layers[2], c->rn_layers[3], c->text_width, c->text_layers, c->text_heads, c->context_length,
               c->vocab_size, act, clip_model_logit_scale(m), nmat, nh);
    } else {
        printf("model:        %s (%s key names)\n", model, layout);
        printf("parameters:   %zu (%.1f MB as float32)\n", np, np * 4.0 / 1e6);
        printf("embed dim:    %d\n", c->embed_dim);
        if (c->vision_kind == CLIP_VISION_RESNET)
            printf("image tower:  ModifiedResNet, layers [%d, %d, %d, %d], width %d, attention-pool heads %d, %d px\n",
                   c->rn_layers[0], c->rn_layers[1], c->rn_layers[2], c->rn_layers[3], c->vision_width, c->vision_heads, c->image_size);
        else
            printf("image tower:  ViT, %d px, patch %d, width %d, %d layers, %d heads\n", c->image_size, c->patch_size,
                   c->vision_width, c->vision_layers, c->vision_heads);
        if (c->text_width)
            printf("text tower:   width %d, %d layers, %d heads, context %d, vocab %d\n", c->text_width, c->text_layers,
                   c->text_heads, c->context_length, c->vocab_size);
        else
            printf("text tower:   none (image tower only)\n");
        printf("activation:   %s\n", act);
        if (nh) printf("weights:      fp32; %d of %d weight matrices hold only fp16 values and are kept as fp16 (exact, half the bytes)\n", nh, nmat);
        else printf("weights:      fp32\n");
        if (c->text_width) printf("logit scale:  %.6g (exp: %.6g)\n", clip_model_logit_scale(m), exp((double)clip_model_logit_scale(m)));
    }
    clip_model_free(m);
    return 0;
}
