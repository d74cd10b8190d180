#!/usr/bin/env python3
"""Makes tests/data/rn/: one training-mode forward and backward of a tiny ModifiedResNet in
PyTorch, float64, for tests/test_rn_gradcheck.c. Run from the repo root:
    /usr/bin/python3 tests/data/rn/make_grad_golden.py
Writes model.safetensors (the tower's weights, `visual.*` names, float32), pixels.npy [2,3,64,64],
r.npy [2,8] (the loss is sum(r * features)), features.npy (train-mode forward), grads.safetensors
(d loss / d every parameter) and running.safetensors (the BN running statistics after the
forward: momentum 0.1, unbiased variance)."""
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "bench"))
from rn_pytorch import ModifiedResNet  # noqa: E402

OUT = os.path.dirname(os.path.abspath(__file__))


def save_st(path, tensors):
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def save_npy(path, t):
    t = t.detach().to(torch.float32).contiguous()
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join(f"{s}, " for s in t.shape)
    hdr = hdr.ljust(118) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + t.numpy().tobytes())


torch.manual_seed(8)
m = ModifiedResNet([2, 1, 1, 1], output_dim=8, heads=2, input_resolution=64, width=4)
with torch.no_grad():   # every branch counts: BN affines and running statistics off their defaults
    for name, mod in m.named_modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.weight.copy_(1 + 0.3 * torch.randn_like(mod.weight))
            mod.bias.copy_(0.3 * torch.randn_like(mod.bias))
            mod.running_mean.copy_(0.1 * torch.randn_like(mod.running_mean))
            mod.running_var.copy_(1 + 0.2 * torch.rand_like(mod.running_var))
state = {"visual." + k: v.clone() for k, v in m.state_dict().items() if "num_batches_tracked" not in k}
save_st(os.path.join(OUT, "model.safetensors"), state)
m = m.double().train()
px = torch.randn(2, 3, 64, 64).float()
r = torch.randn(2, 8).float()
f = m(px.double())
(f * r.double()).sum().backward()
save_npy(os.path.join(OUT, "pixels.npy"), px)
save_npy(os.path.join(OUT, "r.npy"), r)
save_npy(os.path.join(OUT, "features.npy"), f)
save_st(os.path.join(OUT, "grads.safetensors"), {"visual." + k: p.grad for k, p in m.named_parameters()})
save_st(os.path.join(OUT, "running.safetensors"),
        {"visual." + k: v for k, v in m.state_dict().items() if "running" in k})
print("wrote", OUT)
