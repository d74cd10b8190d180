#!/usr/bin/python3
"""Makes the image test data in tests/data/image/ with Debian's Pillow 9.4 + numpy.

Run with /usr/bin/python3 (python3-pil, python3-numpy). It writes small test images in every
format and mode clip.c decodes, and what PIL makes of them (uint8 arrays, .npy):
  - the full image converted to RGB (decoding check),
  - OpenAI's preprocessing (torchvision 0.14's Resize(n, BICUBIC) + CenterCrop(n) on the PIL
    image, then convert("RGB"); torchvision is not needed: the same steps are written here),
  - optionally after compositing onto a background (Image.alpha_composite),
  - Image.resize(size, BICUBIC, box) and torchvision's resized_crop (crop, then resize).
tests/data/image/refs.txt lists every case for tests/test_image.c. PNG variants that Pillow
cannot write (2/4/16-bit, interlaced, ...) are written by a small PNG encoder below.

  /usr/bin/python3 scripts/gen_image_refs.py [--golden /work/shared/golden/images]
"""
import argparse
import os
import shutil
import struct
import sys
import zlib

import numpy as np
from PIL import Image

OUT = "tests/data/image"
BG = (30, 144, 255)


# ---------------------------------------------------------------- a minimal PNG encoder
def _chunk(t, data):
    c = struct.pack(">I", len(data)) + t + data
    return c + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)


def _rows(a, depth):
    """Serialises rows of samples (h, w*channels) at a bit depth, each with filter byte 0."""
    out = b""
    for row in a:
        if depth == 16:
            raw = row.astype(">u2").tobytes()
        elif depth == 8:
            raw = row.astype(np.uint8).tobytes()
        else:
            per = 8 // depth
            vals = list(row) + [0] * ((-len(row)) % per)
            raw = bytes(
                sum(int(vals[i + j]) << (8 - depth * (j + 1)) for j in range(per))
                for i in range(0, len(vals), per))
        out += b"\0" + raw
    return out


def write_png(path, arr, ctype, depth, palette=None, trns=None, interlace=False):
    arr = np.asarray(arr)
    h, w = arr.shape[:2]
    flat = arr.reshape(h, -1)
    ch = flat.shape[1] // w
    if interlace:
        raw = b""
        for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                               (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
            sub = arr[y0::dy, x0::dx]
            if sub.size:
                raw += _rows(sub.reshape(sub.shape[0], -1), depth)
    else:
        raw = _rows(flat, depth)
    assert ch in (1, 2, 3, 4)
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, int(interlace)))
    if palette is not None:
        png += _chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        png += _chunk(b"tRNS", trns)
    png += _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


# ---------------------------------------------------------------- PIL's pipeline
def openai_crop(im, n):
    """torchvision Resize(n) (PIL bicubic) + CenterCrop(n), then convert('RGB')."""
    w, h = im.size
    short, long_ = (w, h) if w <= h else (h, w)
    new_long = int(n * long_ / short)
    nw, nh = (n, new_long) if w <= h else (new_long, n)
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.BICUBIC)
    if (nw, nh) != (n, n):
        top, left = int(round((nh - n) / 2.0)), int(round((nw - n) / 2.0))
        im = im.crop((left, top, left + n, top + n))
    return np.asarray(im.convert("RGB"))


def composite(im, bg):
    back = Image.new("RGBA", im.size, tuple(bg) + (255,))
    return Image.alpha_composite(back, im.convert("RGBA")).convert("RGB")


# ---------------------------------------------------------------- test content
def content(w, h, seed):
    """Smooth gradients, hard edges and noise: every resampling path sees structure."""
    r = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    a = np.stack([255 * x / (w - 1), 255 * y / (h - 1), 127 + 127 * np.sin((x + 2 * y) / 5.0)], -1)
    a[(x // 8 + y // 8) % 2 == 1] *= 0.4
    a[h // 3:h // 3 + 5, :, :] = [250, 10, 10]
    a += r.normal(0, 12, a.shape)
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def alpha_plane(w, h):
    y, x = np.mgrid[0:h, 0:w]
    a = np.clip(255 * x / (w - 1) * 1.2 - 20, 0, 255)
    a[: h // 4] = 0              # fully transparent band
    a[-h // 5:] = 255            # opaque band
    return a.astype(np.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden", default="/work/shared/golden/images")
    args = ap.parse_args()
    os.makedirs(OUT + "/fmt", exist_ok=True)
    os.makedirs(OUT + "/ref", exist_ok=True)
    os.makedirs(OUT + "/golden", exist_ok=True)
    if os.path.isdir(args.golden):
        for f in ["gradient.png", "checkerboard.png", "noise.png", "scene.png"] + [
                f"{k}_{n}.npy" for k in ("crop_u8", "pixels") for n in (32, 64, 224)]:
            shutil.copy(os.path.join(args.golden, f), OUT + "/golden/" + f)

    W, H = 67, 48
    rgb = content(W, H, 1)
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    alpha = alpha_plane(W, H)
    files = {}   # name -> path

    def p(name):
        files[name] = f"{OUT}/fmt/{name}"
        return files[name]

    # JPEG (Pillow's encoder; the decoder is what is tested)
    im = Image.fromarray(rgb)
    im.save(p("baseline.jpg"), quality=90)
    im.save(p("q75_444.jpg"), quality=75, subsampling=0)
    im.save(p("q85_422.jpg"), quality=85, subsampling=1)
    im.save(p("progressive.jpg"), quality=90, progressive=True)
    Image.fromarray(gray).save(p("gray.jpg"), quality=90)
    im.convert("CMYK").save(p("cmyk.jpg"), quality=90)
    # PNG via Pillow
    im.save(p("rgb8.png"))
    Image.fromarray(gray).save(p("gray8.png"))
    Image.fromarray(np.dstack([gray, alpha]), "LA").save(p("gray_alpha8.png"))
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(p("rgba8.png"))
    Image.fromarray(gray).convert("1").save(p("gray1.png"))
    pim = im.quantize(colors=40, dither=Image.Dither.NONE)
    pim.save(p("pal8.png"))
    # PNG via the encoder above
    g16 = (gray.astype(np.uint32) * 2 + np.arange(W)[None, :] % 3).astype(np.uint16)   # 0..512: PIL's "I" clips at 255
    write_png(p("gray16.png"), g16, 0, 16)
    write_png(p("gray2.png"), gray >> 6, 0, 2)
    write_png(p("gray4.png"), gray >> 4, 0, 4)
    write_png(p("gray8_trns.png"), gray, 0, 8, trns=struct.pack(">H", int(gray[10, 10])))
    write_png(p("gray_alpha16.png"), np.dstack([gray.astype(np.uint16) * 257 + 3, alpha.astype(np.uint16) * 257]), 4, 16)
    rgb16 = rgb.astype(np.uint16) * 256 + (np.arange(W)[None, :, None] * 37) % 256
    write_png(p("rgb16.png"), rgb16, 2, 16)
    write_png(p("rgba16.png"), np.dstack([rgb16, alpha.astype(np.uint16) * 257]), 6, 16)
    key = rgb[20, 20]
    rgbk = rgb.copy()
    rgbk[20:30, 20:40] = key
    write_png(p("rgb8_trns.png"), rgbk, 2, 8, trns=struct.pack(">HHH", *[int(v) for v in key]))
    idx = np.asarray(pim)
    pal = np.asarray(pim.getpalette()[:3 * 40], np.uint8).reshape(40, 3)
    talpha = bytes([0, 64, 128, 200] + [255] * 4)   # first 4 entries translucent, 8 listed
    write_png(p("pal8_trns.png"), idx, 3, 8, palette=pal, trns=talpha)
    write_png(p("pal4.png"), idx % 16, 3, 4, palette=pal[:16])
    write_png(p("pal2.png"), idx % 4, 3, 2, palette=pal[:4])
    write_png(p("pal1.png"), idx % 2, 3, 1, palette=pal[:2])
    write_png(p("interlaced_rgb8.png"), rgb, 2, 8, interlace=True)
    write_png(p("interlaced_pal4_trns.png"), idx % 16, 3, 4, palette=pal[:16], trns=talpha, interlace=True)
    write_png(p("interlaced_rgba16.png"), np.dstack([rgb16, alpha.astype(np.uint16) * 257]), 6, 16, interlace=True)
    write_png(p("interlaced_gray1.png"), (gray > 128).astype(np.uint8), 0, 1, interlace=True)
    # WebP
    im.save(p("lossy.webp"), quality=80)
    im.save(p("lossless.webp"), lossless=True)
    rgba = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    rgba.save(p("lossy_alpha.webp"), quality=80)
    rgba.save(p("lossless_alpha.webp"), lossless=True)

    lines = []

    def ref(name, arr):
        np.save(f"{OUT}/ref/{name}.npy", np.ascontiguousarray(arr, np.uint8))
        return f"ref/{name}.npy"

    for name, path in sorted(files.items()):
        im = Image.open(path)
        rel = os.path.relpath(path, OUT)
        lines.append(f"image {rel} {im.mode} {im.size[0]} {im.size[1]}")
        lines.append(f"rgb {rel} {ref(name + '_rgb', np.asarray(im.convert('RGB')))}")
        for n in (24, 56):
            lines.append(f"pre {rel} {n} - {ref(f'{name}_{n}', openai_crop(im, n))}")
        has_alpha = im.mode in ("RGBA", "LA") or "transparency" in im.info
        if has_alpha:
            bgs = "%02x%02x%02x" % BG
            lines.append(f"pre {rel} 24 {bgs} {ref(f'{name}_bg_24', openai_crop(composite(im, BG), 24))}")
    # crop offsets that round half to even both ways, and size 1
    base = "fmt/rgb8.png"
    for n in (1, 8, 33):
        lines.append(f"pre {base} {n} - {ref(f'rgb8.png_{n}', openai_crop(Image.open(files['rgb8.png']), n))}")
    # Image.resize with boxes, per mode
    r = np.random.RandomState(7)
    for name in ["rgb8.png", "gray8.png", "gray_alpha8.png", "rgba8.png", "pal8.png", "gray1.png",
                 "gray16.png", "cmyk.jpg"]:
        im = Image.open(files[name])
        cases = [(20, 15, None), (67, 30, None), (40, 48, None), (75, 52, None), (67, 48, (0, 0, 67, 48)),
                 (10, 12, (5, 7, 15, 19)), (30, 20, (0.5, 1.25, 60.75, 40.5)), (9, 31, (3.3, 0, 60.1, 48))]
        for k in range(3):
            x0, y0 = r.uniform(0, 30), r.uniform(0, 20)
            cases.append((int(r.randint(1, 40)), int(r.randint(1, 40)),
                          (round(x0, 3), round(y0, 3), round(r.uniform(x0 + 0.1, 67), 3), round(r.uniform(y0 + 0.1, 48), 3))))
        for i, (ow, oh, box) in enumerate(cases):
            out = im.resize((ow, oh), Image.BICUBIC, box=box).convert("RGB")
            b = "- - - -" if box is None else " ".join(repr(float(v)) for v in box)
            lines.append(f"resize fmt/{name} {ow} {oh} {b} {ref(f'{name}_resize{i}', np.asarray(out))}")
        for i, (x, y, w, h, n) in enumerate([(3, 5, 50, 40, 24), (0, 0, 67, 48, 30), (10, 2, 20, 44, 16)]):
            out = im.crop((x, y, x + w, y + h)).resize((n, n), Image.BICUBIC).convert("RGB")
            lines.append(f"rcrop fmt/{name} {x} {y} {w} {h} {n} {ref(f'{name}_rcrop{i}', np.asarray(out))}")
    with open(f"{OUT}/refs.txt", "w") as f:
        f.write("# made by scripts/gen_image_refs.py with Pillow %s: see its docstring\n" % Image.__version__)
        f.write("\n".join(lines) + "\n")
    print(f"{len(files)} images, {len(lines)} cases in {OUT}/refs.txt")


if __name__ == "__main__":
    sys.exit(main())
