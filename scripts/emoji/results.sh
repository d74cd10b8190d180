#!/usr/bin/env bash
# The emoji results table in one command: trains the recipe with clip.c (scripts/emoji/train.sh)
# and with the PyTorch twin (bench/emoji/train_pytorch.py), one after the other, evaluates both
# files with `clip eval` on the test and train splits, and writes docs/emoji-results.md.
# usage: scripts/emoji/results.sh [--data DIR] [--out FILE.md]   (needs python3-torch: apt-get)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=datasets/emoji OUTMD=docs/emoji-results.md
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA=${2:?}; shift 2 ;;
    --out) OUTMD=${2:?}; shift 2 ;;
    *) echo "results.sh: unexpected argument '$1'" >&2; exit 2 ;;
  esac
done
[ -f "$DATA/VERSION" ] || { echo "results.sh: $DATA is not a complete data set; run make data" >&2; exit 1; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || {
  if [ "$(id -u)" = 0 ]; then apt-get install -y python3-torch >&2; else
    echo "results.sh: PyTorch is missing: apt-get install python3-torch" >&2; exit 1; fi; }
W=build/emoji/results
mkdir -p "$W"
load=$(cut -d' ' -f1-3 /proc/loadavg)
# the recipe's numbers come from train.sh, so the twin runs exactly the same schedule
eval "$(grep -m1 '^STEPS=' scripts/emoji/train.sh)"
s=$(date +%s)
scripts/emoji/train.sh --data "$DATA" --out "$W/clipc.safetensors" --work "$W/clipc" > "$W/clipc.log" 2>&1
t_clip=$(( $(date +%s) - s ))
s=$(date +%s)
env LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=2 \
  /usr/bin/python3 bench/emoji/train_pytorch.py --data "$DATA" --out "$W/pytorch.safetensors" --log "$W/pytorch.jsonl" \
  --steps "$STEPS" --batch "$BATCH" --lr "$LR" --warmup "$WARMUP" --wd "$WD" --seed "$SEED" > "$W/pytorch.log" 2>&1
t_torch=$(( $(date +%s) - s ))
for m in clipc pytorch; do
  for split in test train; do
    build/clip eval --model "$W/$m.safetensors" --data "$DATA" --split "$split" --json "$W/$m-$split.json" > "$W/$m-$split.txt"
  done
done
pairs=$(( STEPS * BATCH ))
last_loss() { /usr/bin/python3 -c "
import json,sys
rows=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows=[r for r in rows if 'loss' in r and r.get('event', 0) in (0, 'step')]
print(sum(r['loss'] for r in rows[-10:])/max(1,len(rows[-10:])))" "$1"; }
cat > "$W/meta.json" <<JSON
{"command": "scripts/emoji/results.sh", "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
 "machine": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs", "load": "$load",
 "splits": ["test", "train"],
 "runs": [
  {"name": "clip.c", "train_s": $t_clip, "pairs_per_s": $(awk -v p=$pairs -v t=$t_clip 'BEGIN{print p/t}'),
   "final_loss": $(last_loss "$W/clipc/train.jsonl"),
   "eval": {"test": "$W/clipc-test.json", "train": "$W/clipc-train.json"}},
  {"name": "PyTorch 1.13", "train_s": $t_torch, "pairs_per_s": $(awk -v p=$pairs -v t=$t_torch 'BEGIN{print p/t}'),
   "final_loss": $(last_loss "$W/pytorch.jsonl"),
   "eval": {"test": "$W/pytorch-test.json", "train": "$W/pytorch-train.json"}}]}
JSON
/usr/bin/python3 scripts/emoji/results_table.py "$OUTMD" "$W/meta.json"
echo "results.sh: wrote $OUTMD (clip.c ${t_clip} s, PyTorch ${t_torch} s)"
