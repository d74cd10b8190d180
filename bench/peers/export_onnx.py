#!/usr/bin/env python3
"""Exports the ViT-B/32 of clip_torch.py to ONNX for the ONNX Runtime peer (bench/run_peers.sh).

Writes OUTDIR/vitb32_image.onnx (pixels float32 [B, 3, 224, 224] -> image_embeds [B, 512]),
OUTDIR/vitb32_text.onnx (tokens int64 [B, 77] -> text_embeds [B, 512]), both with a dynamic batch
axis, and OUTDIR/vitb32_torch.pt (the state_dict, for clip_torch.py's load-time measurement).
Weights: --weights FILE.safetensors (clip.c's checkpoint, so all three systems run the same
numbers), else random. Usage: export_onnx.py [--out build/peers] [--weights F] [--opset 17]
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clip_torch  # noqa: E402


class ImageEncoder(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, pixels):
        return self.m.encode_image(pixels)


class TextEncoder(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, tokens):
        return self.m.encode_text(tokens)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="build/peers")
    p.add_argument("--weights")
    p.add_argument("--opset", type=int, default=17, help="17 is the newest torch 1.13 exports")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)
    m = clip_torch.build_model(a.weights)
    torch.save(m.state_dict(), os.path.join(a.out, "vitb32_torch.pt"))
    px, tok = clip_torch.inputs(2, 2)   # batch 2 so no size-1 batch gets baked into the graph
    jobs = [("vitb32_image.onnx", ImageEncoder(m), px, "pixels", "image_embeds"),
            ("vitb32_text.onnx", TextEncoder(m), tok, "tokens", "text_embeds")]
    for name, mod, x, iname, oname in jobs:
        path = os.path.join(a.out, name)
        with torch.no_grad():
            torch.onnx.export(mod.eval(), (x,), path + ".tmp", opset_version=a.opset, do_constant_folding=True,
                              input_names=[iname], output_names=[oname],
                              dynamic_axes={iname: {0: "batch"}, oname: {0: "batch"}})
        os.replace(path + ".tmp", path)
        print(json.dumps({"wrote": path, "bytes": os.path.getsize(path), "opset": a.opset,
                          "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
