#!/usr/bin/python3
"""Writes the tiny emoji data set under tests/data/eval/emoji (run from the repo root with
Debian's python3 + PIL; the output is committed). Layout as scripts/data/prepare.sh makes it:
4 test concepts (family has two emoji), 1 val, 1 train, 1 flag; styles vendora (distinct
images), vendorb (vendora's pixels, dog missing), same (one grey image for every emoji, family
with one of its two emoji), absent (listed, no table), tuxpaint (48 px stamps)."""
import os
from PIL import Image, ImageDraw

OUT = "tests/data/eval/emoji"
CONCEPTS = [  # id, split, label, emoji ids
    ("cat", "test", "cat face", ["1f431"]),
    ("dog", "test", "dog face", ["1f436"]),
    ("sunny", "test", "sun", ["2600-fe0f"]),
    ("family", "test", "family", ["1f46a", "1f468-200d-1f469-200d-1f466"]),
    ("deciduous_tree", "val", "deciduous tree", ["1f333"]),
    ("apple", "train", "red apple", ["1f34e"]),
    ("flag-fr", "flag", "flag: France", ["1f1eb-1f1f7"]),
]

def drawn(k, size=32):
    """A distinct picture per index: background colour, a shape, a position."""
    cols = [(230, 60, 40), (40, 160, 70), (250, 200, 20), (60, 90, 220), (20, 120, 30), (200, 20, 40), (30, 60, 160), (120, 40, 160)]
    im = Image.new("RGB", (size, size), (255, 255, 255))
    d = ImageDraw.Draw(im)
    c = cols[k % len(cols)]
    s = size // 32
    if k % 3 == 0: d.ellipse([4 * s + k, 4 * s, 26 * s + k % 3, 28 * s], fill=c)
    elif k % 3 == 1: d.rectangle([3 * s, 6 * s + k, 28 * s, 26 * s], fill=c)
    else: d.polygon([(16 * s, 2 * s + k), (30 * s, 29 * s), (2 * s, 29 * s)], fill=c)
    d.line([0, k * 3 % size, size - 1, (k * 7 + 5) % size], fill=(0, 0, 0), width=2)
    return im

def main():
    os.makedirs(OUT, exist_ok=True)
    emoji = [(e, c) for c in CONCEPTS for e in c[3]]
    def table(name, header, rows):
        with open(os.path.join(OUT, name), "w") as f:
            f.write("#" + "\t".join(header) + "\n")
            for r in rows: f.write("\t".join(r) + "\n")
    table("concepts.tsv", ["concept_id", "split", "label", "tags", "category", "subcategory", "n_emoji", "emoji_ids"],
          [(c[0], c[1], c[2], "tag", "cat", "sub", str(len(c[3])), " ".join(c[3])) for c in CONCEPTS])
    table("styles.tsv", ["style", "source", "licence", "shippable", "role", "size", "n_images"],
          [("vendora", "fixture", "CC0", "yes", "train", "32", "9"), ("vendorb", "fixture", "CC0", "yes", "eval", "32", "7"),
           ("same", "fixture", "CC0", "no", "eval", "32", "7"), ("absent", "fixture", "CC0", "yes", "eval", "32", "0"),
           ("tuxpaint", "fixture", "CC0", "yes", "eval", "48", "3")])
    hdr = ["image_path", "concept_id", "label", "emoji_id", "variant", "split"]
    for style in ("vendora", "vendorb", "same"):
        os.makedirs(os.path.join(OUT, "images", style), exist_ok=True)
        rows = []
        for k, (e, c) in enumerate(emoji):
            if style == "vendorb" and c[0] == "dog": continue
            if style == "same" and e == "1f468-200d-1f469-200d-1f466": continue
            im = Image.new("RGB", (32, 32), (128, 128, 128)) if style == "same" else drawn(k)
            path = "images/%s/%s.png" % (style, e)
            im.save(os.path.join(OUT, path))
            rows.append((path, c[0], c[2], e, "base", c[1]))
        if style == "vendora":   # a skin variant: never evaluated (its file does not exist)
            rows.append(("images/vendora/1f46a-1f3fd.png", "family", "family: medium skin tone", "1f46a-1f3fd", "skin", "test"))
        table(style + ".tsv", hdr, rows)
    os.makedirs(os.path.join(OUT, "images", "tuxpaint"), exist_ok=True)
    tux = [("cat.png", "A cat face.", "cat", "1f431", "test"), ("tree.png", "A deciduous tree.", "deciduous_tree", "1f333", "val"),
           ("boat.png", "A boat.", "", "", "")]
    for k, t in enumerate(tux): drawn(k + 3, 48).save(os.path.join(OUT, "images", "tuxpaint", t[0]))
    table("tuxpaint.tsv", ["image_path", "caption", "concept_id", "emoji_id", "split", "source"],
          [("images/tuxpaint/" + t[0], t[1], t[2], t[3], t[4], "stamps/" + t[0]) for t in tux])
    with open(os.path.join(OUT, "VERSION"), "w") as f: f.write("format=1\nfixture=clip.c tests/data/eval\n")

main()
