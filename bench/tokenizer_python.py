#!/usr/bin/env python3
"""The Python baseline for bench/bench_tokenizer.c: OpenAI's simple_tokenizer.py algorithm,
re-implemented here from the published description (github.com/openai/CLIP), run on the same
80,000 ImageNet prompts, single-threaded, CPython.

What it includes: html.unescape twice, strip, whitespace collapsing, lower(), the split regex,
bytes_to_unicode, rank-ordered BPE merges with a per-word cache, SOT/EOT, context 77 with
truncation -- the reference's own per-token work.
What it leaves out: ftfy.fix_text (not installed here; the real tokenizer calls it on every
text, so the real Python tokenizer is slower than this); and the `regex` module (not
installed): \\p{L} / \\p{N} are approximated with stdlib `re` classes, which differ only for
non-decimal numerals (No, Nl) -- the ImageNet prompts have none, and the checksum printed
matches the C benchmark's.

Run from the repo root: python3 bench/tokenizer_python.py [passes]"""
import gzip
import html
import re
import sys
import time


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def get_pairs(word):
    return {(word[i], word[i + 1]) for i in range(len(word) - 1)}


class Tokenizer:
    def __init__(self, path="data/bpe_simple_vocab_16e6.txt.gz"):
        self.byte_encoder = bytes_to_unicode()
        merges = gzip.open(path).read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
        merges = [tuple(m.split()) for m in merges]
        vocab = list(self.byte_encoder.values())
        vocab = vocab + [v + "</w>" for v in vocab]
        vocab += ["".join(m) for m in merges]
        vocab += ["<|startoftext|>", "<|endoftext|>"]
        self.encoder = dict(zip(vocab, range(len(vocab))))
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}
        # [^\W\d_] ~ \p{L}, \d ~ \p{N}, (?:[^\s\w]|_) ~ [^\s\p{L}\p{N}]  (see the docstring)
        self.pat = re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|(?:[^\s\w]|_)+""",
                              re.IGNORECASE)

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = get_pairs(word)
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new_word.extend(word[i:])
                    break
                new_word.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        word = " ".join(word)
        self.cache[token] = word
        return word

    def encode(self, text):
        text = html.unescape(html.unescape(text)).strip()      # ftfy.fix_text left out
        text = re.sub(r"\s+", " ", text).strip().lower()
        out = []
        for token in self.pat.findall(text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            out.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        return out

    def tokenize(self, texts, ctx=77):
        sot, eot = self.encoder["<|startoftext|>"], self.encoder["<|endoftext|>"]
        rows = []
        for t in texts:
            ids = [sot] + self.encode(t) + [eot]
            if len(ids) > ctx:
                ids = ids[:ctx]
                ids[-1] = eot
            rows.append(ids + [0] * (ctx - len(ids)))
        return rows


def main():
    passes = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    classes = [l for l in open("bench/data/imagenet_classes.txt").read().split("\n") if l]
    templates = [l for l in open("bench/data/imagenet_templates.txt").read().split("\n") if l]
    texts = [t.format(c) for t in templates for c in classes]
    tok = Tokenizer()
    first, best = 0.0, 1e30
    for p in range(max(2, passes)):
        t0 = time.perf_counter()
        rows = tok.tokenize(texts)
        dt = time.perf_counter() - t0
        if p == 0:
            first = dt
        else:
            best = min(best, dt)
    ntok = sum(1 for r in rows for x in r if x not in (0, 49406, 49407))
    s = 0
    for r in rows:
        for x in r:
            s = (s * 1000003 + x) % (1 << 64)
    print("corpus: %d ImageNet prompts, %d BPE tokens" % (len(texts), ntok))
    print("first pass (cold cache): %.3f s, %.3f M tokens/s" % (first, ntok / first / 1e6))
    print("warm (best of %d): %.3f s, %.3f M tokens/s" % (max(2, passes) - 1, best, ntok / best / 1e6))
    print("checksum: %d" % s)


if __name__ == "__main__":
    main()
