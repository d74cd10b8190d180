/* OpenAI's BPE merges file (data/bpe_simple_vocab_16e6.txt.gz, MIT: data/LICENSE-openai-clip.txt)
 * embedded in the library, so the tokenizer needs no file at run time. The path is relative to
 * the repository root, where every build runs. */
#include "text/bpe.h"

__asm__(
    "  .section .rodata\n"
    "  .balign 16\n"
    "  .globl clip_bpe_vocab_gz\n"
    "  .hidden clip_bpe_vocab_gz\n"
    "  .type clip_bpe_vocab_gz, @object\n"
    "clip_bpe_vocab_gz:\n"
    "  .incbin \"data/bpe_simple_vocab_16e6.txt.gz\"\n"
    "clip_bpe_vocab_gz_end:\n"
    "  .size clip_bpe_vocab_gz, clip_bpe_vocab_gz_end - clip_bpe_vocab_gz\n"
    "  .balign 8\n"
    "  .globl clip_bpe_vocab_gz_size\n"
    "  .hidden clip_bpe_vocab_gz_size\n"
    "  .type clip_bpe_vocab_gz_size, @object\n"
    "clip_bpe_vocab_gz_size:\n"
    "  .quad clip_bpe_vocab_gz_end - clip_bpe_vocab_gz\n"
    "  .size clip_bpe_vocab_gz_size, 8\n"
    "  .previous\n");
