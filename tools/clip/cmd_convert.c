/* clip convert: rewrites a loadable model (OpenAI or Hugging Face keys, f32/f16/bf16) as a plain
 * checkpoint in a chosen dtype, or as the packed inference layout that loads by mmap. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

static const char *USAGE = "clip convert --model IN -o OUT.safetensors [--packed [--precision fp32|bf16|int8] | --dtype f32|f16|bf16]";

static void help(void) {
    printf("usage: %s\n\n"
           "Rewrites a model as a .safetensors file, written atomically. IN is anything the other verbs\n"
           "load: a .safetensors checkpoint (OpenAI or Hugging Face key names; f32, f16 or bf16), a\n"
           "Hugging Face directory (model.safetensors + config.json), or a packed file.\n"
           "  --dtype f32|f16|bf16   a plain checkpoint with OpenAI key names, every tensor in this dtype\n"
           "                         (default f32; f16 halves the file, rounding to nearest even, and\n"
           "                         refuses weights beyond f16's range)\n"
           "  --packed               the inference layout: the fp32 weights as the GEMM kernel reads them,\n"
           "                         which the other verbs map instead of reading (a load in milliseconds;\n"
           "                         the weights' pages are read on first use and shared between\n"
           "                         processes). Needs a CPU with AVX-512, to write and to load; the file\n"
           "                         is tied to this build's kernel layout (a mismatch is refused: convert\n"
           "                         again from the original). Same size as f32; weight matrices\n"
           "                         holding only fp16 values (OpenAI's checkpoints) are kept as fp16\n"
           "                         panels, exactly as a load holds them: about half the size.\n"
           "  --precision fp32|bf16|int8\n"
           "                         with --packed: the model as loaded at this precision (default fp32):\n"
           "                         bf16 or int8 weights already in their kernel's panels, about half /\n"
           "                         a quarter of the f32 file, mapped as they lie. Such a file loads only\n"
           "                         with the same --precision, on a CPU with that kernel (bf16: AMX-BF16\n"
           "                         or AVX512_BF16; int8: AMX-INT8 or AVX512_VNNI).\n", USAGE);
}

int cmd_convert(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *dname = NULL, *pname = NULL;
    int packed = 0, precision = CLIP_PRECISION_FP32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 0; }
        else if (!strcmp(a, "--model") && more) in = argv[++i];
        else if (!strcmp(a, "-o") && more) out = argv[++i];
        else if (!strcmp(a, "--dtype") && more) dname = argv[++i];
        else if (!strcmp(a, "--packed")) packed = 1;
        else if (!strcmp(a, "--precision") && more) pname = argv[++i];
        else return cli_usage("convert", USAGE, "unexpected argument '%s'", a);
    }
    if (!in) return cli_usage("convert", USAGE, "--model IN is required");
    if (!out) return cli_usage("convert", USAGE, "-o OUT.safetensors is required");
    int dtype = dname ? clip_dtype_from_name(dname) : CLIP_DTYPE_F32;
    if (dtype < 0) return cli_usage("convert", USAGE, "--dtype is f32, f16 or bf16, not '%s'", dname);
    if (packed && dtype != CLIP_DTYPE_F32) return cli_usage("convert", USAGE, "--packed holds f32 weights: drop --dtype %s", dname);
    if (pname && (precision = clip_precision_from_name(pname)) < 0)
        return cli_usage("convert", USAGE, "--precision is fp32, bf16 or int8, not '%s'", pname);
    if (pname && !packed) return cli_usage("convert", USAGE, "--precision needs --packed (a plain checkpoint holds fp32 weights)");
    clip_error e = {0};
    clip_model *m = cli_load_model(in, precision, &e);
    if (!m) return cli_fail("convert", "%s", e.msg);
    int rc = packed ? clip_model_save_packed(m, out, &e) : clip_model_save_dtype(m, out, dtype, &e);
    int nmat = 0, nh = packed && precision == CLIP_PRECISION_FP32 ? clip_model_fp16_matrices(m, &nmat) : 0;
    char held[96] = "";
    if (nh) snprintf(held, sizeof held, "; %d of %d weight matrices as fp16 panels, exact", nh, nmat);
    if (!rc)
        fprintf(stderr, "clip convert: wrote %s (%s, %zu parameters%s)\n", out,
                packed ? (precision == CLIP_PRECISION_BF16 ? "packed bf16" : precision == CLIP_PRECISION_INT8 ? "packed int8" : "packed f32") : dtype == CLIP_DTYPE_F16 ? "f16" : dtype == CLIP_DTYPE_BF16 ? "bf16" : "f32",
                clip_model_num_params(m), held);
    clip_model_free(m);
    return rc ? cli_fail("convert", "%s", e.msg) : 0;
}
