#!/usr/bin/env bash
# End-to-end `clip zeroshot` speed: 1000 images, 1000 classes x 80 templates (OpenAI's ImageNet
# names and templates), class embeddings cached, 2 threads.
# Usage: bench/bench_zeroshot.sh [MODEL]   (default: the shipped model)
# Prints the one-time cost of building the class embeddings, then images/s of the cached runs.
set -eu
cd "$(dirname "$0")/.."
MODEL=${1:-data/models/default.safetensors}
THREADS=${THREADS:-2}
N=${N:-1000}
make -s all >/dev/null
dir=build/bench/zeroshot-images
if [ "$(ls "$dir" 2>/dev/null | wc -l)" -ne "$N" ]; then
  rm -rf "$dir"; mkdir -p "$dir"
  # N distinct files made from the test images (every decode and preprocess is real work)
  src=(tests/data/image/golden/*.png tests/data/image/fmt/*.{png,jpg,webp})
  for i in $(seq 0 $((N - 1))); do
    f=${src[$((i % ${#src[@]}))]}
    cp "$f" "$dir/$(printf %04d "$i").${f##*.}"
  done
fi
export CLIP_CACHE_DIR=build/bench/zeroshot-cache
rm -rf "$CLIP_CACHE_DIR"
ls "$dir"/* > build/bench/zeroshot-list.txt
run() { build/clip zeroshot --model "$MODEL" --labels-file builtin:imagenet --templates imagenet --threads "$THREADS" \
          --top 1 --json --images-from build/bench/zeroshot-list.txt > /dev/null; }
t0=$(date +%s.%N); run; t1=$(date +%s.%N)
best=999999
for r in 1 2 3; do
  s=$(date +%s.%N); run; e=$(date +%s.%N)
  best=$(awk -v a="$s" -v b="$e" -v c="$best" 'BEGIN{d=b-a; print (d<c)?d:c}')
done
echo "model: $MODEL ($(build/clip info --model "$MODEL" | sed -n 's/^image tower: *//p'))"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v a="$t0" -v b="$t1" -v n="$N" 'BEGIN{printf "first run (builds 1000x80 class embeddings, then classifies %d images): %.1f s\n", n, b-a}'
awk -v d="$best" -v n="$N" -v t="$THREADS" 'BEGIN{printf "cached runs: best %.2f s for %d images = %.0f images/s (1000 classes, %s threads)\n", d, n, n/d, t}'
