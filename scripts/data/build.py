"""Builds the emoji data set from the unpacked inputs in OUT/raw (see docs/data.md).

    /usr/bin/python3 scripts/data/build.py --out DIR [--styles LIST] [--seed S]
                                          [--size N] [--tux-size N] [--skins] [--jobs N]

Run by prepare.sh after fetch.sh. Debian's python3 with python3-pil and python3-numpy.
Never leaves a half-written data set: OUT/VERSION (the completion mark) is removed first
and written last; each images/<style>/ is built in images/.<style>.tmp/ and renamed, with
a stamp of its inputs and settings so that a rerun keeps finished styles; every table is
written to a temporary name and renamed.
"""
import argparse
import concurrent.futures
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emoji_groups as eg  # noqa: E402

FORMAT = 1               # bump when the layout or any output changes meaning
SHEET_VENDORS = ("apple", "google", "twitter", "facebook")
RENDERED = ("openmoji", "openmoji-black", "fluent3d")
EMOJI_STYLES = SHEET_VENDORS + RENDERED
ALL_STYLES = EMOJI_STYLES + ("tuxpaint",)
TRAIN_STYLES = ("google", "twitter")   # their licences allow shipping a model trained on them
OUTPUT_FILES = ("VERSION", "SHA256SUMS", "concepts.tsv", "train.tsv", "val.tsv", "test.tsv",
                "flag.tsv", "captions.tsv", "tuxpaint.tsv", "styles.tsv", "baseline.json",
                "stats.json")
SHEET_SIZE = 32
BG = 255                 # every image is composited onto white

# style -> (source name in sources.tsv, licence, may its pixels be shipped/committed)
STYLE_INFO = {
    "apple": ("emoji-datasource", "(c) Apple Inc., not licensed for commercial use", "no"),
    "google": ("emoji-datasource", "Apache-2.0 (Noto Emoji)", "yes"),
    "twitter": ("emoji-datasource", "CC-BY-4.0 (Twemoji)", "yes"),
    "facebook": ("emoji-datasource", "(c) Facebook, no clear licence", "no"),
    "openmoji": ("openmoji", "CC-BY-SA-4.0 (OpenMoji)", "yes"),
    "openmoji-black": ("openmoji", "CC-BY-SA-4.0 (OpenMoji)", "yes"),
    "fluent3d": ("fluent-emoji-3d", "MIT (Microsoft Fluent Emoji)", "yes"),
    "tuxpaint": ("tuxpaint-stamps", "GPL-2 (Tux Paint stamps)", "yes"),
}


def log(msg):
    print("build: " + msg, file=sys.stderr, flush=True)


def die(msg):
    log(msg)
    sys.exit(1)


# ---------------------------------------------------------------- small file helpers

def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def write_tsv(path, header, rows):
    for r in rows:
        for v in r:
            if "\t" in str(v) or "\n" in str(v):
                die("%s: a field holds a tab or newline: %r" % (path, v))
    lines = ["#" + "\t".join(header)] + ["\t".join(str(v) for v in r) for r in rows]
    write_text(path, "\n".join(lines) + "\n")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_sources(here):
    rows = {}
    with open(os.path.join(here, "sources.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, kind, spec, fname, sha, nbytes, lic = line.rstrip("\n").split("\t")
            rows[name] = dict(kind=kind, spec=spec, file=fname, sha256=sha, bytes=int(nbytes),
                              licence=lic)
    return rows


# ---------------------------------------------------------------- pixels

def composite(rgba):
    """uint8 [H, W, 4] straight alpha -> uint8 [H, W, 3] on white. Integer arithmetic, so
    identical everywhere. The RGB under alpha 0 is optimiser garbage in the sheets; this
    weighs it by 0."""
    rgb = rgba[..., :3].astype(np.uint32)
    a = rgba[..., 3:4].astype(np.uint32)
    out = (rgb * a + BG * (255 - a) + 127) // 255
    return out.astype(np.uint8)


def to_rgba_array(img):
    """Any PIL image -> uint8 RGBA array (palette transparency and LA included)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        img = Image.fromarray(np.clip(arr / 257.0, 0, 255).astype(np.uint8), "L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("PA")
    return np.asarray(img.convert("RGBA"))


def save_png(arr, path):
    Image.fromarray(arr, "RGB").save(path, format="PNG", optimize=False, compress_level=6)


def rsvg(svg_path, w, h=None, keep_aspect=False):
    """Renders an SVG with rsvg-convert; returns an RGBA array (clean 0 under alpha 0)."""
    cmd = ["rsvg-convert", "-w", str(w), "-h", str(h or w)]
    if keep_aspect:
        cmd.append("-a")
    cmd.append(svg_path)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0 or not p.stdout:
        raise RuntimeError("rsvg-convert failed on %s: %s" %
                           (svg_path, p.stderr.decode("utf-8", "replace").strip()))
    return to_rgba_array(Image.open(io.BytesIO(p.stdout)))


def resize_rgb(arr, size):
    """Shrinks a composited RGB image so its longer side is at most `size` (never enlarges)."""
    h, w = arr.shape[:2]
    if max(h, w) <= size:
        return arr
    s = size / max(h, w)
    nw, nh = max(1, int(round(w * s))), max(1, int(round(h * s)))
    return np.asarray(Image.fromarray(arr, "RGB").resize((nw, nh), Image.LANCZOS))


def pad_square(arr):
    h, w = arr.shape[:2]
    n = max(h, w)
    out = np.full((n, n, 3), BG, np.uint8)
    y, x = (n - h) // 2, (n - w) // 2
    out[y:y + h, x:x + w] = arr
    return out


# ---------------------------------------------------------------- metadata

class Emoji:
    __slots__ = ("eid", "cps", "label", "tags", "category", "subcategory", "concept",
                 "variant", "sort", "sheet", "has")


def load_metadata(raw):
    """All emoji (base and skin variants) of emoji.json except the Component swatches, with
    CLDR labels and tags from openmoji.json, grouped into concepts."""
    with open(os.path.join(raw, "emoji-datasource", "emoji.json"), encoding="utf-8") as f:
        ej = json.load(f)
    with open(os.path.join(raw, "openmoji", "data", "openmoji.json"), encoding="utf-8") as f:
        om = {eg.match_key(tuple(ord(c) for c in o["emoji"])): o for o in json.load(f)}
    base = [e for e in ej if e["category"] != "Component"]
    groups = eg.group_emoji(base)
    concept_of = {}
    for cid, members in groups.items():
        for m in members:
            concept_of[m["unified"]] = cid

    emoji, missing = [], []
    for e in base:
        variants = [("base", e)] + [("skin", s) for _, s in sorted((e.get("skin_variations") or {}).items())]
        o_base = om.get(eg.match_key(eg.codepoints(e["unified"])))
        for i, (variant, v) in enumerate(variants):
            o = om.get(eg.match_key(eg.codepoints(v["unified"])))
            if o is None:
                missing.append(v["unified"])
                continue
            tags_src = o["tags"] or (o_base["tags"] if o_base else "")
            r = Emoji()
            r.eid = v["image"][:-4]                       # '1f468-200d-1f393'
            r.cps = eg.codepoints(v["unified"])
            r.label = o["annotation"]
            r.tags = [t.strip() for t in tags_src.split(",") if t.strip()]
            r.category, r.subcategory = e["category"], e["subcategory"]
            r.concept = concept_of[e["unified"]]
            r.variant = variant
            r.sort = (e["sort_order"], i)
            r.sheet = (v["sheet_x"], v["sheet_y"])
            r.has = {vd: bool(v.get("has_img_" + vd)) for vd in SHEET_VENDORS}
            emoji.append(r)
    if missing:
        die("openmoji.json has no CLDR label for %d emoji (e.g. %s): wrong openmoji pin?" %
            (len(missing), missing[0]))
    emoji.sort(key=lambda r: r.sort)
    return emoji, groups


# ---------------------------------------------------------------- styles

def style_stamp(style, sources, args):
    src = sources[STYLE_INFO[style][0]]
    size = {"tuxpaint": args.tux_size}.get(style, args.size if style in RENDERED else SHEET_SIZE)
    return json.dumps({"format": FORMAT, "style": style, "sha256": src["sha256"],
                       "emoji-datasource": sources["emoji-datasource"]["sha256"],
                       "openmoji": sources["openmoji"]["sha256"],
                       "size": size, "code": code_hash()}, sort_keys=True)


_code_hash = None


def code_hash():
    """Hash of the prep code: a changed script rebuilds every style."""
    global _code_hash
    if _code_hash is None:
        h = hashlib.sha256()
        here = os.path.dirname(os.path.abspath(__file__))
        for n in ("build.py", "emoji_groups.py"):
            with open(os.path.join(here, n), "rb") as f:
                h.update(f.read())
        _code_hash = h.hexdigest()[:16]
    return _code_hash


def build_sheet_style(vendor, emoji, raw, tmpdir, jobs):
    path = os.path.join(raw, "emoji-datasource", "img", vendor, "sheets", "%d.png" % SHEET_SIZE)
    sheet = to_rgba_array(Image.open(path))
    cell = SHEET_SIZE + 2              # 1 px gutter on each side of every cell
    n = 0
    for r in emoji:
        # The non-clean sheets fill missing cells with another vendor's art: use has_img_*.
        if not r.has[vendor]:
            continue
        x, y = r.sheet[0] * cell + 1, r.sheet[1] * cell + 1
        save_png(composite(sheet[y:y + SHEET_SIZE, x:x + SHEET_SIZE]),
                 os.path.join(tmpdir, r.eid + ".png"))
        n += 1
    return n


def build_openmoji_style(style, emoji, raw, tmpdir, size, jobs):
    folder = "black" if style == "openmoji-black" else "color"
    with open(os.path.join(raw, "openmoji", "data", "openmoji.json"), encoding="utf-8") as f:
        hexcode = {eg.match_key(tuple(ord(c) for c in o["emoji"])): o["hexcode"] for o in json.load(f)}
    todo = []
    for r in emoji:
        if r.variant != "base":
            continue
        svg = os.path.join(raw, "openmoji", folder, "svg", hexcode[eg.match_key(r.cps)] + ".svg")
        if os.path.exists(svg):
            todo.append((r, svg))

    def one(item):
        r, svg = item
        save_png(composite(rsvg(svg, size)), os.path.join(tmpdir, r.eid + ".png"))

    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        list(ex.map(one, todo))
    return len(todo)


def build_fluent_style(emoji, raw, tmpdir, size, jobs):
    folder = os.path.join(raw, "fluent-emoji-3d", "assets")
    files = {}
    for fn in os.listdir(folder):
        if fn.endswith(".webp"):
            files[eg.match_key(eg.codepoints(fn[:-5]))] = os.path.join(folder, fn)
    todo = [(r, files[eg.match_key(r.cps)]) for r in emoji
            if r.variant == "base" and eg.match_key(r.cps) in files]

    def one(item):
        r, path = item
        # Composite at full size first, then shrink: same as a premultiplied resize.
        rgb = composite(to_rgba_array(Image.open(path)))
        out = np.asarray(Image.fromarray(rgb, "RGB").resize((size, size), Image.LANCZOS))
        save_png(out, os.path.join(tmpdir, r.eid + ".png"))

    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        list(ex.map(one, todo))
    return len(todo)


def tux_stamps(raw):
    """(relative stamp path without extension, image path, caption) for every Tux Paint
    stamp with an English description and a PNG (preferred: the photos) or SVG."""
    root = os.path.join(raw, "tuxpaint-stamps", "usr", "share", "tuxpaint", "stamps")
    out = []
    for d, _, fns in os.walk(root):
        for fn in fns:
            if not fn.endswith(".txt"):
                continue
            stem = os.path.join(d, fn[:-4])
            img = next((stem + e for e in (".png", ".svg") if os.path.exists(stem + e)), None)
            if img is None:
                continue
            with open(stem + ".txt", encoding="utf-8", errors="replace") as f:
                caption = f.readline().strip()
            caption = " ".join(caption.split())
            if caption:
                out.append((os.path.relpath(stem, root), img, caption))
    out.sort()
    return out


def tux_name(rel):
    return rel.replace(os.sep, "__")


def build_tux_style(raw, tmpdir, size, jobs):
    stamps = tux_stamps(raw)

    def one(item):
        rel, img, _ = item
        if img.endswith(".svg"):
            rgb = composite(rsvg(img, size, size, keep_aspect=True))
        else:
            rgb = resize_rgb(composite(to_rgba_array(Image.open(img))), size)
        save_png(pad_square(rgb), os.path.join(tmpdir, tux_name(rel) + ".png"))

    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        list(ex.map(one, stamps))
    return len(stamps)


def build_style(style, emoji, raw, out, sources, args):
    """images/<style>/ built in images/.<style>.tmp/ and renamed; kept if its stamp matches."""
    final = os.path.join(out, "images", style)
    stamp = style_stamp(style, sources, args)
    stamp_path = os.path.join(final, ".stamp")
    if os.path.exists(stamp_path):
        with open(stamp_path, encoding="utf-8") as f:
            if f.read() == stamp:
                log("%s: up to date" % style)
                return
    t0 = time.time()
    tmpdir = os.path.join(out, "images", "." + style + ".tmp")
    shutil.rmtree(tmpdir, ignore_errors=True)
    os.makedirs(tmpdir)
    if style in SHEET_VENDORS:
        n = build_sheet_style(style, emoji, raw, tmpdir, args.jobs)
    elif style in ("openmoji", "openmoji-black"):
        n = build_openmoji_style(style, emoji, raw, tmpdir, args.size, args.jobs)
    elif style == "fluent3d":
        n = build_fluent_style(emoji, raw, tmpdir, args.size, args.jobs)
    else:
        n = build_tux_style(raw, tmpdir, args.tux_size, args.jobs)
    write_text(os.path.join(tmpdir, ".stamp"), stamp)
    old = os.path.join(out, "images", "." + style + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(final):
        os.rename(final, old)
    os.rename(tmpdir, final)
    shutil.rmtree(old, ignore_errors=True)
    log("%s: %d images in %.1f s" % (style, n, time.time() - t0))


# ---------------------------------------------------------------- tables

def present(out, style, eid):
    return os.path.exists(os.path.join(out, "images", style, eid + ".png"))


def build_tables(out, emoji, groups, split, styles, args):
    """concepts.tsv, <style>.tsv, train/val/test/flag.tsv, captions.tsv. Returns stats."""
    stats = {"concepts": {}, "images": {}, "manifest_rows": {}}
    by_concept = {}
    for r in emoji:
        by_concept.setdefault(r.concept, []).append(r)

    rows = []
    for cid in sorted(groups, key=lambda c: groups[c][0]["sort_order"]):
        base = [r for r in by_concept[cid] if r.variant == "base"]
        rep_eid = groups[cid][0]["image"][:-4]          # the member the concept is named after
        base.sort(key=lambda r: r.eid != rep_eid)
        rep = base[0]
        rows.append((cid, split[cid], rep.label, ", ".join(rep.tags), rep.category,
                     rep.subcategory, len(base), " ".join(r.eid for r in base)))
        stats["concepts"][split[cid]] = stats["concepts"].get(split[cid], 0) + 1
    write_tsv(os.path.join(out, "concepts.tsv"),
              ("concept_id", "split", "label", "tags", "category", "subcategory", "n_emoji",
               "emoji_ids"), rows)

    for style in styles:
        if style == "tuxpaint":
            continue
        rows = [("images/%s/%s.png" % (style, r.eid), r.concept, r.label, r.eid, r.variant,
                 split[r.concept]) for r in emoji if present(out, style, r.eid)]
        write_tsv(os.path.join(out, style + ".tsv"),
                  ("image_path", "concept_id", "label", "emoji_id", "variant", "split"), rows)
        stats["images"][style] = {
            "base": sum(1 for r in rows if r[4] == "base"),
            "skin": sum(1 for r in rows if r[4] == "skin"),
            "base_non_flag_test": sum(1 for r in rows if r[4] == "base" and r[5] == "test"),
        }

    train_styles = [s for s in TRAIN_STYLES if s in styles]
    caps = []
    for part in ("train", "val", "test", "flag"):
        rows = []
        for style in train_styles:
            for r in emoji:
                if split[r.concept] != part or (r.variant == "skin" and not args.skins):
                    continue
                if not present(out, style, r.eid):
                    continue
                path = "images/%s/%s.png" % (style, r.eid)
                cs = eg.captions(r.label, r.tags, r.subcategory)
                rows.append((path, cs[eg.DEFAULT_TEMPLATE], r.concept))
                caps.extend((path, c, r.concept, part) for c in cs)
        write_tsv(os.path.join(out, part + ".tsv"), ("image_path", "caption", "group"), rows)
        stats["manifest_rows"][part] = len(rows)
    write_tsv(os.path.join(out, "captions.tsv"), ("image_path", "caption", "group", "split"), caps)
    stats["caption_rows"] = len(caps)
    return stats


def build_tux_table(out, raw, emoji, split):
    """tuxpaint.tsv: a stamp matches an emoji concept when its caption, without the
    article and the full stop, is exactly the (lower-cased) CLDR label of a base emoji."""
    by_label = {}
    for r in emoji:
        if r.variant == "base" and split[r.concept] != "flag":
            by_label.setdefault(r.label.lower(), r)
    rows = []
    for rel, img, caption in tux_stamps(raw):
        m = by_label.get(eg.tux_caption_key(caption))
        rows.append(("images/tuxpaint/%s.png" % tux_name(rel), caption,
                     m.concept if m else "", m.eid if m else "",
                     split[m.concept] if m else "", os.path.relpath(img, raw)))
    write_tsv(os.path.join(out, "tuxpaint.tsv"),
              ("image_path", "caption", "concept_id", "emoji_id", "split", "source"), rows)
    matched = [r for r in rows if r[2]]
    return {"stamps": len(rows), "matched": len(matched),
            "matched_concepts": len(set(r[2] for r in matched)),
            "matched_from_svg": sum(1 for r in matched if r[5].endswith(".svg")),
            "matched_by_split": {s: sum(1 for r in matched if r[4] == s)
                                 for s in ("train", "val", "test")}}


# ---------------------------------------------------------------- raw-pixel baseline

def load_pixels(out, style, names, size=32):
    """float32 [N, size*size*3] in [0, 1]; images of another size are box-resized."""
    arr = np.empty((len(names), size * size * 3), np.float32)
    for i, n in enumerate(names):
        img = Image.open(os.path.join(out, "images", style, n + ".png")).convert("RGB")
        if img.size != (size, size):
            img = img.resize((size, size), Image.BOX)
        arr[i] = np.asarray(img, np.float32).reshape(-1) / 255.0
    return arr


def nn_index(q, g):
    """Index of each query's nearest gallery row in Euclidean distance (ties: lowest)."""
    d = (g * g).sum(1)[None, :] - 2.0 * q @ g.T
    return d.argmin(1)


def baseline(out, emoji, split, styles, tux_rows):
    """Image -> image R@1 on raw pixels between styles: each query's nearest neighbour in
    another style's gallery of the same emoji; a hit when it is the same emoji (R@1) or
    an emoji of the same concept (concept R@1). Base emoji of non-flag concepts only."""
    emoji_styles = [s for s in EMOJI_STYLES if s in styles]
    res = {"metric": "L2 nearest neighbour on raw RGB pixels in [0,1], 32x32, "
                     "composited on white; base emoji; gallery = the emoji of the split "
                     "present in both styles; split 'all' = train+val+test (no flags)",
           "pairs": []}
    base = [r for r in emoji if r.variant == "base"]
    concept = {r.eid: r.concept for r in base}
    pix = {}
    for s in emoji_styles:
        have = [r.eid for r in base if present(out, s, r.eid)]
        pix[s] = dict(zip(have, load_pixels(out, s, have)))
    for part in ("test", "all", "flag"):
        sel = [r.eid for r in base if split[r.concept] == part
               or part == "all" and split[r.concept] != "flag"]
        for qs in emoji_styles:
            for gs in emoji_styles:
                if qs == gs:
                    continue
                common = [e for e in sel if e in pix[qs] and e in pix[gs]]
                if not common:
                    continue
                idx = nn_index(np.stack([pix[qs][e] for e in common]),
                               np.stack([pix[gs][e] for e in common]))
                hit = sum(1 for i, j in enumerate(idx) if i == j)
                chit = sum(1 for i, j in enumerate(idx) if concept[common[i]] == concept[common[j]])
                res["pairs"].append({"split": part, "query": qs, "gallery": gs, "n": len(common),
                                     "r1": round(hit / len(common), 4),
                                     "concept_r1": round(chit / len(common), 4),
                                     "chance": round(1.0 / len(common), 4)})
    # Tux Paint stamps matched to a concept -> that concept's emoji, one per matched concept.
    base = [r for r in base if split[r.concept] != "flag"]
    if "tuxpaint" in styles and tux_rows:
        for gs in [s for s in ("google", "twitter") if s in styles]:
            q = [(t[0], t[2]) for t in tux_rows if t[2]]
            gal = sorted(set(c for _, c in q))
            rep = {}
            for r in base:
                if r.concept in gal and r.concept not in rep and present(out, gs, r.eid):
                    rep[r.concept] = r.eid
            gal = [c for c in gal if c in rep]
            q = [(p, c) for p, c in q if c in rep]
            Q = load_pixels(out, "tuxpaint", [os.path.basename(p)[:-4] for p, _ in q])
            G = load_pixels(out, gs, [rep[c] for c in gal])
            idx = nn_index(Q, G)
            hit = sum(1 for (p, c), j in zip(q, idx) if gal[j] == c)
            res["pairs"].append({"split": "tuxpaint-matched", "query": "tuxpaint", "gallery": gs,
                                 "n": len(q), "gallery_size": len(gal),
                                 "concept_r1": round(hit / len(q), 4),
                                 "chance": round(1.0 / len(gal), 4)})
    return res


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--styles", default=",".join(ALL_STYLES))
    ap.add_argument("--seed", default="clip.c-emoji-v1")
    ap.add_argument("--size", type=int, default=32, help="openmoji/fluent3d render size")
    ap.add_argument("--tux-size", type=int, default=128, help="Tux Paint longest side")
    ap.add_argument("--skins", action="store_true", help="skin-tone variants in the manifests")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    styles = [s for s in args.styles.split(",") if s]
    for s in styles:
        if s not in ALL_STYLES:
            die("unknown style '%s' (known: %s)" % (s, ", ".join(ALL_STYLES)))
    if not any(s in styles for s in TRAIN_STYLES):
        die("--styles needs google or twitter: the training manifests use them")
    styles = [s for s in ALL_STYLES if s in styles]

    here = os.path.dirname(os.path.abspath(__file__))
    out, raw = args.out, os.path.join(args.out, "raw")
    sources = read_sources(here)
    t0 = time.time()
    # Not complete until VERSION is written again at the very end; the old tables go too,
    # so that no table outlives the images it names while a style is rebuilt.
    os.makedirs(out, exist_ok=True)
    names = os.listdir(out)
    for n in ["VERSION"] + sorted(n for n in names if n != "VERSION"):
        if n in names and (n in OUTPUT_FILES or n.endswith(".tsv") and n[:-4] in ALL_STYLES):
            os.remove(os.path.join(out, n))
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    for n in os.listdir(os.path.join(out, "images")):
        if n.startswith("."):
            shutil.rmtree(os.path.join(out, "images", n), ignore_errors=True)
    for n in os.listdir(out):
        if n.endswith(".tmp"):
            os.remove(os.path.join(out, n))

    emoji, groups = load_metadata(raw)
    split = eg.split_concepts({c: (m[0]["category"], m[0]["subcategory"] in eg.FLAG_SUBCATEGORIES)
                               for c, m in groups.items()}, args.seed)
    log("%d emoji (%d base) in %d concepts" % (len(emoji),
        sum(1 for r in emoji if r.variant == "base"), len(groups)))

    for style in styles:
        build_style(style, emoji, raw, out, sources, args)

    stats = build_tables(out, emoji, groups, split, styles, args)
    tux_stats, tux_rows = None, []
    if "tuxpaint" in styles:
        tux_stats = build_tux_table(out, raw, emoji, split)
        with open(os.path.join(out, "tuxpaint.tsv"), encoding="utf-8") as f:
            tux_rows = [l.rstrip("\n").split("\t") for l in f if not l.startswith("#")]
        stats["tuxpaint"] = tux_stats

    write_tsv(os.path.join(out, "styles.tsv"),
              ("style", "source", "licence", "shippable", "role", "size", "n_images"),
              [(s, sources[STYLE_INFO[s][0]]["spec"], STYLE_INFO[s][1], STYLE_INFO[s][2],
                "train" if s in TRAIN_STYLES else "eval",
                args.tux_size if s == "tuxpaint" else args.size if s in RENDERED else SHEET_SIZE,
                len([n for n in os.listdir(os.path.join(out, "images", s)) if n.endswith(".png")]))
               for s in styles])

    t1 = time.time()
    base = baseline(out, emoji, split, styles, tux_rows)
    log("baseline in %.1f s" % (time.time() - t1))
    write_text(os.path.join(out, "baseline.json"), json.dumps(base, indent=1) + "\n")
    write_text(os.path.join(out, "stats.json"), json.dumps(stats, indent=1, sort_keys=True) + "\n")

    used = sorted(set(["emoji-datasource", "openmoji"] + [STYLE_INFO[s][0] for s in styles]))
    write_text(os.path.join(out, "SHA256SUMS"),
               "".join("%s  raw/%s\n" % (sources[n]["sha256"], sources[n]["file"]) for n in used))
    version = ["format=%d" % FORMAT, "seed=%s" % args.seed, "styles=%s" % ",".join(styles),
               "sheet_size=%d" % SHEET_SIZE, "render_size=%d" % args.size,
               "tux_size=%d" % args.tux_size, "skins_in_manifests=%d" % int(args.skins),
               "background=white", "code=%s" % code_hash()]
    version += ["source=%s %s sha256:%s" % (n, sources[n]["spec"], sources[n]["sha256"]) for n in used]
    write_text(os.path.join(out, "VERSION"), "\n".join(version) + "\n")   # last: the data set is complete
    log("done in %.1f s: %s" % (time.time() - t0, json.dumps(stats["concepts"], sort_keys=True)))


if __name__ == "__main__":
    main()
