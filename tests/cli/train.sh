#!/usr/bin/env bash
# clip init + clip train on the golden training batch: a tiny model trains, logs JSON lines,
# and a run stopped half-way and resumed ends bitwise equal to a straight run.
set -eu
CLIP=${CLIP_BIN:-build/clip}
D=tests/data/golden/tiny-vit/train
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$CLIP" init --image-size 32 --patch-size 8 --vision-width 32 --vision-layers 1 --text-width 32 --text-layers 1 \
  --embed-dim 16 --seed 3 -o "$T/init.safetensors" 2>/dev/null || fail "clip init"
set +e
"$CLIP" init --arch nope -o "$T/x.safetensors" 2>/dev/null; [ $? -eq 1 ] || fail "unknown arch should exit 1"
"$CLIP" init --patch-size 8 2>/dev/null; [ $? -eq 2 ] || fail "missing -o should exit 2"
"$CLIP" train --model "$T/init.safetensors" 2>/dev/null; [ $? -eq 2 ] || fail "train without data should exit 2"
"$CLIP" train --model "$T/init.safetensors" --crop-scale 0 2>/dev/null; [ $? -eq 2 ] || fail "--crop-scale 0 should exit 2"
"$CLIP" train --model "$T/init.safetensors" --color-jitter -1 2>/dev/null; [ $? -eq 2 ] || fail "a negative --color-jitter should exit 2"
"$CLIP" train --model "$T/init.safetensors" --color-jitter 1.5 2>/dev/null; [ $? -eq 2 ] || fail "--color-jitter 1.5 should exit 2"
"$CLIP" train --model "$T/init.safetensors" --pixels "$T/none.npy" --tokens $D/tokens.npy 2>"$T/err"; [ $? -eq 1 ] || fail "missing pixels should exit 1"
grep -q none.npy "$T/err" || fail "the error should name the file"
set -e
COMMON=(--pixels $D/pixels.npy --tokens $D/tokens.npy --val-pixels $D/pixels.npy --val-tokens $D/tokens.npy
        --batch-size 4 --accum 2 --steps 6 --warmup 2 --lr 1e-3 --grad-clip 1 --seed 7 --threads 1 --print-every 0
        --checkpoint-every 2 --eval-every 3)
"$CLIP" train --model "$T/init.safetensors" "${COMMON[@]}" --log "$T/a.jsonl" --checkpoint "$T/a.ckpt" -o "$T/a.safetensors" 2>/dev/null \
  || fail "straight run"
[ "$(grep -c '"loss"' "$T/a.jsonl")" -eq 6 ] || fail "expected 6 step lines in the log"
grep -q '"eval_loss"' "$T/a.jsonl" || fail "no held-out loss in the log"
"$CLIP" train --model "$T/init.safetensors" "${COMMON[@]}" --checkpoint "$T/b.ckpt" --stop-after 3 2>/dev/null || fail "first half"
"$CLIP" train --resume "$T/b.ckpt" "${COMMON[@]}" -o "$T/b.safetensors" 2>/dev/null || fail "resumed half"
cmp -s "$T/a.safetensors" "$T/b.safetensors" || fail "resumed model differs from the straight run"
cmp -s "$T/a.ckpt" "$T/b.ckpt" || fail "resumed checkpoint differs from the straight run"
cmp -s "$T/init.safetensors" "$T/a.safetensors" && fail "training changed nothing"
echo ok
