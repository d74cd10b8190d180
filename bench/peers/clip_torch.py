#!/usr/bin/env python3
"""CLIP ViT-B/32 in PyTorch, the peer for clip.c's speed comparison (bench/run_peers.sh).

The module follows the architecture of OpenAI's CLIP (model.py): a pre-LN transformer with
nn.MultiheadAttention in sequence-first layout, QuickGELU, a class token, ln_pre/ln_post and a
projection matrix on the vision side; token + positional embeddings, a causal mask, ln_final and
pooling at the highest token id (EOT) on the text side. Parameter names are OpenAI's, so a
checkpoint written by clip.c (OpenAI key layout) loads directly with --weights.

Modes (each run by the harness in its own process):
  bench  median ms/item of encode_image / encode_text at the batches of the comparison
  mem    model load time and peak resident memory of one batch-1 image + text inference
  check  encodes fixed inputs with --weights and compares with clip.c's outputs (.npy)

Threads: like the tuned setup in perf-anchors.md, torch's own pool is kept at 1 thread and the
GEMMs are threaded by OpenBLAS (OPENBLAS_NUM_THREADS, set by the harness); torch and OpenBLAS
both spinning their own pools on 2 vCPUs oversubscribes the machine.
"""
import argparse
import ctypes
import json
import os
import resource
import sys
import time
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

# ViT-B/32 hyper-parameters (OpenAI's released model)
VIT_B_32 = dict(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768, vision_patch_size=32,
                context_length=77, vocab_size=49408, transformer_width=512, transformer_heads=8,
                transformer_layers=12)
SOT, EOT = 49406, 49407


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """x + attn(ln_1(x)), then x + mlp(ln_2(x)); x is [seq, batch, width]."""

    def __init__(self, width, heads, attn_mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, width * 4)),
            ("gelu", QuickGELU()),
            ("c_proj", nn.Linear(width * 4, width)),
        ]))
        self.ln_2 = nn.LayerNorm(width)
        self.attn_mask = attn_mask

    def forward(self, x):
        h = self.ln_1(x)
        mask = None if self.attn_mask is None else self.attn_mask.to(dtype=x.dtype, device=x.device)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, attn_mask=None):
        super().__init__()
        self.resblocks = nn.Sequential(*[ResidualAttentionBlock(width, heads, attn_mask) for _ in range(layers)])

    def forward(self, x):
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    def __init__(self, resolution, patch, width, layers, heads, output_dim):
        super().__init__()
        scale = width ** -0.5
        grid = resolution // patch
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, x):                                     # x: [B, 3, S, S]
        x = self.conv1(x)                                     # [B, width, grid, grid]
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)   # [B, grid², width]
        cls = self.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x).permute(1, 0, 2)                   # sequence first, as OpenAI's code
        x = self.transformer(x).permute(1, 0, 2)
        return self.ln_post(x[:, 0, :]) @ self.proj


class CLIP(nn.Module):
    def __init__(self, embed_dim, image_resolution, vision_layers, vision_width, vision_patch_size,
                 context_length, vocab_size, transformer_width, transformer_heads, transformer_layers):
        super().__init__()
        self.context_length = context_length
        self.visual = VisionTransformer(image_resolution, vision_patch_size, vision_width, vision_layers,
                                        vision_width // 64, embed_dim)
        mask = torch.full((context_length, context_length), float("-inf")).triu_(1)   # causal
        self.transformer = Transformer(transformer_width, transformer_layers, transformer_heads, mask)
        self.token_embedding = nn.Embedding(vocab_size, transformer_width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, transformer_width))
        self.ln_final = nn.LayerNorm(transformer_width)
        self.text_projection = nn.Parameter(torch.empty(transformer_width, embed_dim))
        self.logit_scale = nn.Parameter(torch.ones([]) * np.log(1 / 0.07))
        self._init()

    def _init(self):
        # OpenAI's initialisation (the values do not matter for speed, only for sane activations)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        w, L = self.transformer.resblocks[0].ln_1.normalized_shape[0], len(self.transformer.resblocks)
        for b in self.transformer.resblocks:
            nn.init.normal_(b.attn.in_proj_weight, std=w ** -0.5)
            nn.init.normal_(b.attn.out_proj.weight, std=w ** -0.5 * (2 * L) ** -0.5)
            nn.init.normal_(b.mlp.c_fc.weight, std=(2 * w) ** -0.5)
            nn.init.normal_(b.mlp.c_proj.weight, std=w ** -0.5 * (2 * L) ** -0.5)
        nn.init.normal_(self.text_projection, std=w ** -0.5)

    def encode_image(self, image):
        return self.visual(image)

    def encode_text(self, text):                              # text: int [B, context_length]
        x = self.token_embedding(text) + self.positional_embedding
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), text.argmax(dim=-1)] @ self.text_projection


def build_model(weights=None):
    torch.manual_seed(0)
    m = CLIP(**VIT_B_32).eval()
    if weights:
        sd = read_safetensors(weights)
        sd = {k: v for k, v in sd.items() if k not in ("input_resolution", "context_length", "vocab_size")}
        missing, unexpected = m.load_state_dict(sd, strict=False)
        if missing or unexpected:
            sys.exit(f"{weights}: missing {missing[:5]} unexpected {unexpected[:5]}")
    return m


def read_safetensors(path):
    """Minimal reader (8-byte little-endian header size, JSON header, raw little-endian data)."""
    dt = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        hdr = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=dt[v["dtype"]]).reshape(v["shape"]).astype(np.float32)
        out[k] = torch.from_numpy(arr.copy())
    return out


def inputs(n_images, n_texts):
    """Deterministic inputs, the same formulas as bench/bench_vit.c."""
    S, ctx = VIT_B_32["image_resolution"], VIT_B_32["context_length"]
    i = np.arange(n_images * 3 * S * S, dtype=np.uint64)
    px = (((i * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)) % np.uint64(1000)).astype(np.float32) / 500 - 1
    tok = np.zeros((n_texts, ctx), dtype=np.int64)
    for b in range(n_texts):
        tok[b] = 320 + (b * 7 + np.arange(ctx)) % 40000
        tok[b, 0], tok[b, ctx - 1] = SOT, EOT
    return torch.from_numpy(px.reshape(n_images, 3, S, S)), torch.from_numpy(tok)


def blas_info():
    """Which BLAS library this process really loaded, and OpenBLAS's core if it is OpenBLAS."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if "blas" in os.path.basename(p).lower() or "lapack" in os.path.basename(p).lower():
                libs.add(os.path.realpath(p))
    core = "n/a"
    for p in sorted(libs):
        try:
            fn = ctypes.CDLL(p).openblas_get_corename
            fn.restype = ctypes.c_char_p
            core = fn().decode()
            break
        except (OSError, AttributeError):
            pass
    return sorted(libs), core


def median_ms(fn, reps, warmup):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return 1e3 * sorted(ts)[len(ts) // 2]


def cmd_bench(a):
    m = build_model(a.weights)
    libs, core = blas_info()
    print(json.dumps({"system": "pytorch", "version": torch.__version__, "threads": a.threads,
                      "torch_threads": torch.get_num_threads(), "blas": libs, "openblas_core": core,
                      "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS")}), flush=True)
    px, tok = inputs(max(a.image_batches), max(a.text_batches))
    with torch.inference_mode():
        for b in a.image_batches:
            ms = median_ms(lambda: m.encode_image(px[:b]), a.reps, a.warmup)
            print(json.dumps({"what": "image", "batch": b, "ms_per_item": ms / b}), flush=True)
        for b in a.text_batches:
            ms = median_ms(lambda: m.encode_text(tok[:b]), a.reps, a.warmup)
            print(json.dumps({"what": "text", "batch": b, "ms_per_item": ms / b}), flush=True)


def cmd_mem(a):
    t0 = time.perf_counter()
    m = build_model()
    if a.state_dict:                    # torch's own format, as export_onnx.py saved it
        t0 = time.perf_counter()
        m.load_state_dict(torch.load(a.state_dict))
    load = time.perf_counter() - t0
    px, tok = inputs(1, 1)
    with torch.inference_mode():
        m.encode_image(px)
        m.encode_text(tok)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"system": "pytorch", "load_ms": load * 1e3, "load_what": "torch.load + load_state_dict"
                      if a.state_dict else "build module (random init)", "maxrss_mb": rss}), flush=True)


def cmd_check(a):
    m = build_model(a.weights)
    px, tok = inputs(2, 2)
    if a.save_pixels:
        np.save(a.save_pixels, px.numpy())
    if a.save_tokens:                   # clip embed --tokens takes int32
        np.save(a.save_tokens, tok.numpy().astype(np.int32))
    if not (a.ref_image and a.ref_text):
        return
    with torch.inference_mode():
        fi, ft = m.encode_image(px).numpy(), m.encode_text(tok).numpy()
    ok = True
    for name, got, ref in (("image", fi, np.load(a.ref_image)), ("text", ft, np.load(a.ref_text))):
        err = float(np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-30))
        print(f"check {name}: max |torch - clip.c| / max |clip.c| = {err:.2e}")
        ok &= err < 1e-3
    sys.exit(0 if ok else 1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["bench", "mem", "check"])
    p.add_argument("--threads", type=int, default=1, help="recorded only; set OPENBLAS_NUM_THREADS")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--image-batches", type=lambda s: [int(x) for x in s.split(",")], default=[1, 16])
    p.add_argument("--text-batches", type=lambda s: [int(x) for x in s.split(",")], default=[1, 16, 64])
    p.add_argument("--weights", help="clip.c / OpenAI-layout .safetensors to load (default: random)")
    p.add_argument("--state-dict", help="mem: a torch.save'd state_dict to time loading")
    p.add_argument("--save-pixels"), p.add_argument("--save-tokens")
    p.add_argument("--ref-image"), p.add_argument("--ref-text")
    a = p.parse_args()
    torch.set_num_threads(1)
    {"bench": cmd_bench, "mem": cmd_mem, "check": cmd_check}[a.mode](a)


if __name__ == "__main__":
    main()
