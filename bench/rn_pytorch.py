#!/usr/bin/env python3
"""OpenAI's ModifiedResNet image tower in PyTorch (written from a reading of openai/CLIP's
clip/model.py), timed on random weights like bench/bench_rn.c.

Run with OpenBLAS rather than Debian's reference BLAS (docs/resnet.md, notes/perf-anchors.md):
  LD_LIBRARY_PATH=<extracted libopenblas0-pthread>/usr/lib/x86_64-linux-gnu/openblas-pthread \
  OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=T MALLOC_MMAP_THRESHOLD_=4000000000 \
  MALLOC_TRIM_THRESHOLD_=4000000000 python3 bench/rn_pytorch.py --threads T
"""
import argparse
import time
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        # anti-aliased stride: average pool before the expanding 1x1 conv
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = None
        if stride > 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(OrderedDict([
                ("-1", nn.AvgPool2d(stride)),
                ("0", nn.Conv2d(inplanes, planes * 4, 1, stride=1, bias=False)),
                ("1", nn.BatchNorm2d(planes * 4)),
            ]))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(self.avgpool(out)))
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + identity)


class AttentionPool2d(nn.Module):
    def __init__(self, spacial_dim, embed_dim, num_heads, output_dim):
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.randn(spacial_dim ** 2 + 1, embed_dim) / embed_dim ** 0.5)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim)
        self.num_heads = num_heads

    def forward(self, x):
        x = x.flatten(start_dim=2).permute(2, 0, 1)                 # NCHW -> (HW)NC
        x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)      # (HW+1)NC
        x = x + self.positional_embedding[:, None, :].to(x.dtype)
        x, _ = F.multi_head_attention_forward(
            query=x[:1], key=x, value=x, embed_dim_to_check=x.shape[-1], num_heads=self.num_heads,
            q_proj_weight=self.q_proj.weight, k_proj_weight=self.k_proj.weight, v_proj_weight=self.v_proj.weight,
            in_proj_weight=None, in_proj_bias=torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]),
            bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0,
            out_proj_weight=self.c_proj.weight, out_proj_bias=self.c_proj.bias,
            use_separate_proj_weight=True, training=self.training, need_weights=False)
        return x.squeeze(0)


class ModifiedResNet(nn.Module):
    def __init__(self, layers, output_dim, heads, input_resolution=224, width=64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.conv2 = nn.Conv2d(width // 2, width // 2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.conv3 = nn.Conv2d(width // 2, width, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.avgpool = nn.AvgPool2d(2)
        self._inplanes = width
        self.layer1 = self._make_layer(width, layers[0])
        self.layer2 = self._make_layer(width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(width * 8, layers[3], stride=2)
        self.attnpool = AttentionPool2d(input_resolution // 32, width * 32, heads, output_dim)

    def _make_layer(self, planes, blocks, stride=1):
        layers = [Bottleneck(self._inplanes, planes, stride)]
        self._inplanes = planes * 4
        layers += [Bottleneck(self._inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        x = self.avgpool(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.attnpool(x)


ARCHS = {  # layers, width, resolution, embed dim (OpenAI's released RN models)
    "RN50": ([3, 4, 6, 3], 64, 224, 1024),
    "RN101": ([3, 4, 23, 3], 64, 224, 512),
    "RN50x4": ([4, 6, 10, 6], 80, 288, 640),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="RN50")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    layers, width, res, embed = ARCHS[a.arch]
    m = ModifiedResNet(layers, embed, width * 32 // 64, res, width).eval()
    for B in [int(b) for b in a.batches.split(",")]:
        x = torch.randn(B, 3, res, res)
        with torch.no_grad():
            m(x)  # warm-up
            ts, cs = [], []
            for _ in range(a.reps):
                t, c = time.perf_counter(), time.process_time()
                m(x)
                ts.append(time.perf_counter() - t)
                cs.append(time.process_time() - c)
        ts.sort()
        cs.sort()
        print(f"pytorch {torch.__version__} {a.arch} threads {a.threads} batch {B:2d}: "
              f"{1000 * ts[len(ts) // 2] / B:7.1f} ms/image wall (median of {a.reps}, min {1000 * ts[0] / B:.1f}); "
              f"cpu {1000 * cs[0] / B:.1f} ms/image (min)", flush=True)


if __name__ == "__main__":
    main()
