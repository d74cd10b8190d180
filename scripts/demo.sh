#!/usr/bin/env bash
# The README's first command: zero-shot classification and text->image search with the shipped
# model (trained here on Google and Twitter emoji) on Microsoft's Fluent 3D emoji, a style it
# never saw. Runs in seconds once built.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIP=build/clip
IMG=data/demo/fluent3d
export CLIP_CACHE_DIR=${CLIP_CACHE_DIR:-build/demo-cache}
echo "== clip info: the shipped model"
$CLIP info
echo
echo "== zero-shot: each image against $(wc -l < data/demo/labels.txt) labels, 8 prompt templates each"
echo "   clip zeroshot --labels-file data/demo/labels.txt --templates emoji --top 2 $IMG/*.png"
$CLIP zeroshot --labels-file data/demo/labels.txt --templates emoji --top 2 "$IMG"/*.png |
  awk '/^[^ ]/ {f=$0; sub(".*/", "", f); sub("\\.png$", "", f); next}
       { n++; line = line sprintf("  %-28s", $2 " " substr($0, index($0, $3))) }
       n == 2 { truth = f; gsub("-", " ", truth); printf "%-16s ->%s\n", truth, line; n = 0; line = "" }'
echo
echo "== text -> image search over the same folder (clip index, then clip search)"
rm -f build/demo-index.sqlite
$CLIP index --index build/demo-index.sqlite "$IMG"
$CLIP search --index build/demo-index.sqlite --top 3 "a slice of pizza" "a red heart" "a rocket" "an animal"
