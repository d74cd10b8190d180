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
  awk '/^[^ ]/ { if (line) print line; f = $0; sub(".*/", "", f); sub("\\.png$", "", f); gsub("-", " ", f);
                 line = sprintf("%-14s ->", f); next }
       { p = $1; $1 = ""; sub(/^ /, ""); line = line sprintf("  %-14s %7s", $0, p) }
       END { if (line) print line }'
ok=$($CLIP zeroshot --labels-file data/demo/labels.txt --templates emoji --top 1 --json "$IMG"/*.png |
     awk -F'"' '{f = $4; sub(".*/", "", f); sub("\\.png$", "", f); gsub("-", " ", f); if (f == $10) n++} END {print n + 0}')
echo "   right at the top: $ok of $(ls "$IMG"/*.png | wc -l) (chance: 1 in $(wc -l < data/demo/labels.txt))"
echo
echo "== text -> image search over the same folder (clip index, then clip search)"
rm -f build/demo-index.sqlite
$CLIP index --index build/demo-index.sqlite "$IMG"
$CLIP search --index build/demo-index.sqlite --top 3 "a slice of pizza" "a rainbow" "a rocket" "a ghost"
