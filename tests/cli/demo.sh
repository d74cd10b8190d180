#!/usr/bin/env bash
# The README's first command runs on the shipped model and the bundled images, and the model
# does better than chance on the style it never saw.
set -u
out=$(CLIP_CACHE_DIR=$(mktemp -d) bash scripts/demo.sh 2>&1) || { echo "$out"; echo "FAIL: demo exited non-zero"; exit 1; }
echo "$out" | grep -q "text -> image search" || { echo "FAIL: no search section"; exit 1; }
n=$(echo "$out" | sed -n 's/.*right at the top: \([0-9]*\) of 16.*/\1/p')
[ -n "$n" ] && [ "$n" -ge 3 ] || { echo "$out"; echo "FAIL: $n of 16 right (chance is under 1)"; exit 1; }
echo "demo: $n of 16 right"
