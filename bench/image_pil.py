#!/usr/bin/python3
"""Times PIL on the inputs of bench/bench_image.c, and makes those inputs if missing.

PIL side: Image.open + load, then the steps of OpenAI's _transform(224) written with PIL and
numpy (torchvision is not installed here): resize of the shorter side to 224 (BICUBIC), centre
crop, convert("RGB"), /255, normalise with CLIP's mean/std, HWC -> CHW float32. One core.

  /usr/bin/python3 bench/image_pil.py            # writes build/bench/{photo_1mp.jpg,icon_64.png}
"""
import os
import sys
import time

import numpy as np
from PIL import Image

OUT = "build/bench"
PHOTO = os.path.join(OUT, "photo_1mp.jpg")
ICON = os.path.join(OUT, "icon_64.png")
SRC = os.path.expanduser("~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html/embedded-book/assets/f3.jpg")
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def make_inputs():
    os.makedirs(OUT, exist_ok=True)
    r = np.random.RandomState(0)
    if not os.path.exists(PHOTO):
        if os.path.exists(SRC):   # a real photo (720x477), enlarged to 1 MP, with sensor-like noise
            im = Image.open(SRC).convert("RGB").resize((1224, 816), Image.BICUBIC)
            a = np.asarray(im).astype(np.float32) + r.normal(0, 3, (816, 1224, 3))
        else:                     # fallback: smooth synthetic scene
            y, x = np.mgrid[0:816, 0:1224].astype(np.float32)
            a = np.stack([128 + 100 * np.sin(x / 37 + y / 53), 128 + 90 * np.cos(x / 23), 100 + y / 8], -1)
            a += r.normal(0, 3, a.shape)
        Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(PHOTO, quality=90)
    if not os.path.exists(ICON):
        y, x = np.mgrid[0:64, 0:64]
        d = np.hypot(x - 31.5, y - 31.5)
        rgba = np.zeros((64, 64, 4), np.uint8)
        rgba[..., 0] = 250; rgba[..., 1] = np.clip(200 - d * 3, 0, 255); rgba[..., 2] = 40
        rgba[..., 3] = np.clip((30 - d) * 128, 0, 255)
        Image.fromarray(rgba, "RGBA").save(ICON)


def transform(path, n=224):
    im = Image.open(path)
    im.load()
    w, h = im.size
    s, l = (w, h) if w <= h else (h, w)
    nl = int(n * l / s)
    nw, nh = (n, nl) if w <= h else (nl, n)
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.BICUBIC)
    left, top = int(round((nw - n) / 2.0)), int(round((nh - n) / 2.0))
    im = im.crop((left, top, left + n, top + n)).convert("RGB")
    x = np.asarray(im, np.float32) / np.float32(255)
    return ((x - MEAN) / STD).transpose(2, 0, 1).copy()


def bench(path, secs=3.0):
    transform(path)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < secs:
        transform(path)
        n += 1
    return n / (time.perf_counter() - t0)


def main():
    make_inputs()
    for p in (PHOTO, ICON):
        im = Image.open(p)
        print(f"PIL {Image.__version__} + numpy, {p} ({im.size[0]}x{im.size[1]} {im.mode}) -> 224: "
              f"{bench(p):.1f} images/s (1 core)")


if __name__ == "__main__":
    sys.exit(main())
