#!/usr/bin/env bash
# `clip train --mpi` on 2 ranks against 1 process on the same global batch: same loss curve,
# and the same final model up to float rounding (what AdamW makes of it in a few steps).
# Usage: tests/mpi/check.sh build-mpi/clip     (run by `make mpi`; data: 16 random 8x8 images and
# token rows in tests/mpi/*.npy)
set -eu
CLIP=${1:-build-mpi/clip}
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fail() { echo "mpi check: FAIL: $*"; exit 1; }
# a tiny model and a tiny synthetic data set (written by the tool itself)
$CLIP init --image-size 8 --patch-size 4 --vision-width 16 --vision-layers 2 --vision-heads 2 --text-width 16 \
  --text-layers 2 --text-heads 2 --context 8 --vocab 64 --embed-dim 8 --seed 3 -o "$t/init.safetensors" >/dev/null
common=(--model "$t/init.safetensors" --pixels tests/mpi/pixels.npy --tokens tests/mpi/tokens.npy --steps 4 --batch-size 8
        --warmup 1 --lr 1e-2 --seed 5 --workers 1 --threads 1 --print-every 1)
$CLIP train "${common[@]}" -o "$t/one.safetensors" 2>"$t/one.log" || fail "1 process: $(tail -1 "$t/one.log")"
mpirun --allow-run-as-root --oversubscribe -np 2 $CLIP train --mpi "${common[@]}" -o "$t/two.safetensors" 2>"$t/two.log" \
  || fail "2 ranks: $(tail -3 "$t/two.log")"
# the losses printed by rank 0 match the one-process run to 4 decimals
l1=$(grep -o 'loss [0-9.]*' "$t/one.log" | tr '\n' ' '); l2=$(grep -o 'loss [0-9.]*' "$t/two.log" | tr '\n' ' ')
[ -n "$l1" ] && [ "$l1" = "$l2" ] || fail "loss curves differ: [$l1] vs [$l2]"
# and the models embed the same pixels alike
$CLIP embed --model "$t/one.safetensors" --pixels tests/mpi/pixels.npy -o "$t/e1.npy"
$CLIP embed --model "$t/two.safetensors" --pixels tests/mpi/pixels.npy -o "$t/e2.npy"
cmp -s "$t/e1.npy" "$t/e2.npy" && echo "mpi check: identical features" || {
  # not bitwise: compare as floats (skip the 128-byte .npy header)
  d=$(od -An -f -v -j128 "$t/e1.npy" | tr -s ' ' '\n' | grep . > "$t/a"; od -An -f -v -j128 "$t/e2.npy" | tr -s ' ' '\n' | grep . > "$t/b";
      paste "$t/a" "$t/b" | awk '{d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d} END {print m + 0}')
  awk -v d="$d" 'BEGIN {exit !(d < 1e-3)}' || fail "features differ by $d"
  echo "mpi check: features agree within $d"
}
echo "mpi check: ok (2 ranks x 4 pairs = 1 process x 8 pairs)"
