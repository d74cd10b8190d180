"""N-way zero-shot accuracy of a model on the emoji set's held-out concepts, per style, through
`clip zeroshot --json` (a stand-in until `clip eval` lands): the classes are the split's concept
labels (concepts.tsv), the prompt is the training caption template "an emoji of {}.", the
images are each style's base emoji of the split. Prints one line per style and a JSON summary.

  /usr/bin/python3 scripts/emoji/zeroshot_eval.py --model M [--data DIR] [--split test]
      [--styles google,twitter,...] [--clip build/clip] [--json OUT]
"""
import argparse, json, os, subprocess, sys, tempfile


def rows(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n").split("\t") for l in f if not l.startswith("#")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", default="datasets/emoji")
    ap.add_argument("--split", default="test")
    ap.add_argument("--styles", default="google,twitter,apple,facebook,openmoji,openmoji-black,fluent3d")
    ap.add_argument("--clip", default="build/clip")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    concepts = {r[0]: r[2] for r in rows(os.path.join(a.data, "concepts.tsv")) if r[1] == a.split}
    labels = sorted(set(concepts.values()))
    out = {"model": a.model, "split": a.split, "classes": len(labels), "chance": 1 / len(labels), "styles": {}}
    with tempfile.TemporaryDirectory() as tmp:
        lf, tf, imf = (os.path.join(tmp, n) for n in ("labels.txt", "templates.txt", "images.txt"))
        open(lf, "w", encoding="utf-8").write("\n".join(labels) + "\n")
        open(tf, "w").write("an emoji of {}.\n")
        for style in a.styles.split(","):
            p = os.path.join(a.data, style + ".tsv")
            if not os.path.exists(p):
                continue
            imgs = [(os.path.join(a.data, r[0]), concepts[r[1]]) for r in rows(p) if r[5] == a.split and r[4] == "base"]
            open(imf, "w", encoding="utf-8").write("\n".join(i for i, _ in imgs) + "\n")
            res = subprocess.run([a.clip, "zeroshot", "--model", a.model, "--labels-file", lf, "--templates", tf, "--json",
                                  "--top", "5", "--no-cache", "--images-from", imf], capture_output=True, text=True)
            if res.returncode:
                sys.exit(f"clip zeroshot failed on {style}: {res.stderr.strip()}")
            truth = dict(imgs)
            top1 = top5 = n = 0
            for line in res.stdout.splitlines():
                j = json.loads(line)
                want = truth[j["image"]]
                got = [t["label"] for t in j["top"]]
                n += 1
                top1 += got[0] == want
                top5 += want in got
            out["styles"][style] = {"images": n, "top1": top1 / n, "top5": top5 / n}
            print(f"{style:15s} {n:4d} images  top-1 {100 * top1 / n:5.1f}%  top-5 {100 * top5 / n:5.1f}%"
                  f"  (chance {100 / len(labels):.1f}% / {500 / len(labels):.1f}%)")
    if a.json:
        json.dump(out, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
