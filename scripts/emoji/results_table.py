#!/usr/bin/python3
"""Writes the emoji results table (docs/emoji-results.md) from `clip eval --json` files of the
clip.c-trained and the PyTorch-trained model, plus the wall-clock times of both trainings.
Usage: results_table.py OUT.md META.json   (META: {"runs": [{"name", "train_s", "eval": {split: path}}], ...})"""
import json, sys

out_path, meta_path = sys.argv[1], sys.argv[2]
meta = json.load(open(meta_path))
runs = meta["runs"]
ev = {r["name"]: {s: json.load(open(p)) for s, p in r["eval"].items()} for r in runs}
names = [r["name"] for r in runs]
L = []
w = L.append
w("# Emoji benchmark: results")
w("")
w(f"Made by `{meta['command']}` on {meta['date']}: {meta['machine']}; load average at the start "
  f"{meta['load']}. Both models have the same architecture and recipe (`docs/emoji.md`), trained on "
  "the Google and Twitter styles only; every number below comes from the same evaluator "
  "(`clip eval`, `docs/eval.md`) run on both files. Ties count against the model.")
w("")
w("| | " + " | ".join(names) + " |")
w("|---|" + "---|" * len(names))
w("| training wall-clock | " + " | ".join(f"{r['train_s']:.0f} s" for r in runs) + " |")
w("| training pairs/s | " + " | ".join(f"{r['pairs_per_s']:.1f}" for r in runs) + " |")
w("| final training loss (mean of last 10 steps) | " + " | ".join(f"{r.get('final_loss', float('nan')):.3f}" for r in runs) + " |")
w("")

def cell(x):
    return "–" if x is None else f"{x:.3f}"

for split in meta["splits"]:
    e0 = ev[names[0]][split]
    w(f"## Split `{split}`: {e0['n_concepts']} concepts" + (" (never trained on)" if split == "test" else " (trained on, in the Google and Twitter styles)"))
    w("")
    w("| style | role | metric | " + " | ".join(names) + " | chance |")
    w("|---|---|---|" + "---|" * len(names) + "---|")
    for st in e0["styles"]:
        s0 = e0["styles"][st]
        rows = [("text→image R@1", "text_to_image", "r1"), ("text→image R@5", "text_to_image", "r5"),
                ("text→image R@10", "text_to_image", "r10"), ("image→text R@1", "image_to_text", "r1"),
                ("image→text R@5", "image_to_text", "r5"), ("zero-shot top-1", "zeroshot", "top1"),
                ("zero-shot top-5", "zeroshot", "top5")]
        for label, k, m in rows:
            vals = [ev[n][split]["styles"][st][k][m] for n in names]
            ch = s0[k]["chance"][m]
            w(f"| {st} | {s0['role']} | {label} | " + " | ".join(cell(v) for v in vals) + f" | {ch:.3f} |")
    tp = [ev[n][split]["tuxpaint"] for n in names]
    w(f"| Tux Paint photos and clip-art ({tp[0]['all']['n_images']}, {tp[0]['n_classes']}-way) | eval | zero-shot top-1 | "
      + " | ".join(cell(t["all"]["top1"]) for t in tp) + f" | {tp[0]['chance']['top1']:.3f} |")
    w(f"| Tux Paint | eval | zero-shot top-5 | " + " | ".join(cell(t["all"]["top5"]) for t in tp) + f" | {tp[0]['chance']['top5']:.3f} |")
    w("")
    w("Image→image R@1 across styles (same emoji), CLIP features of each model vs the raw-pixel "
      "nearest-neighbour baseline:")
    w("")
    w("| query → gallery | " + " | ".join(names) + " | raw pixels | chance |")
    w("|---|" + "---|" * len(names) + "---|---|")
    pairs = {(p["query"], p["gallery"]): p for p in e0["image_to_image"]}
    for q, g in [("google", "twitter"), ("twitter", "google"), ("google", "apple"), ("google", "facebook"),
                 ("google", "fluent3d"), ("google", "openmoji"), ("google", "openmoji-black")]:
        if (q, g) not in pairs:
            continue
        vals = []
        for n in names:
            pp = {(p["query"], p["gallery"]): p for p in ev[n][split]["image_to_image"]}
            vals.append(pp[(q, g)]["clip_r1"])
        p = pairs[(q, g)]
        w(f"| {q} → {g} | " + " | ".join(cell(v) for v in vals) + f" | {p['pixel_r1']:.3f} | {p['chance']:.3f} |")
    w("")
open(out_path + ".tmp", "w").write("\n".join(L) + "\n")
import os
os.replace(out_path + ".tmp", out_path)
