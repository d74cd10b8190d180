#!/usr/bin/python3
"""Copies the golden checkpoints into tests/data/golden with the token-embedding rows that no
golden token uses set to zero. The features only read the used rows, so every golden value
still holds, and git stores the zero rows in a few kilobytes instead of 12 MB per model.
Usage: scripts/golden_prune.py ../shared/golden tests/data/golden   (Debian python3 + numpy)"""
import json, struct, sys, os
import numpy as np

src, dst = sys.argv[1], sys.argv[2]
used = set()
for f in ["tokens.npy", "tiny-vit/train/tokens.npy"]:
    used |= set(np.load(os.path.join(src, f)).ravel().tolist())
keep = np.array(sorted(used), dtype=np.int64)

def prune(inp, out):
    raw = open(inp, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr = json.loads(raw[8:8 + n])
    data = bytearray(raw[8 + n:])
    for name, t in hdr.items():
        if name == "__metadata__" or "token_embedding" not in name or t["shape"][0] <= int(keep.max()):
            continue
        b, e = t["data_offsets"]
        a = np.frombuffer(bytes(data[b:e]), dtype="<f4").reshape(t["shape"]).copy()
        mask = np.ones(a.shape[0], bool)
        mask[keep] = False
        a[mask] = 0
        data[b:e] = a.tobytes()
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".tmp", "wb") as f:
        f.write(raw[:8 + n]); f.write(data)
    os.replace(out + ".tmp", out)

for rel in ["tiny-vit/model.safetensors", "tiny-vit/hf/model.safetensors", "tiny-rn/model.safetensors",
            "tiny-vit/train/params_after_adamw.safetensors"]:
    prune(os.path.join(src, rel), os.path.join(dst, rel))
print("kept", len(keep), "token rows")
