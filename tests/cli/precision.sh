#!/usr/bin/env bash
# --precision fp32|bf16 (docs/performance.md, "bf16"): a bad value is a usage error; bf16 either
# runs and agrees with fp32 to about 1e-2, or (a CPU without AMX-BF16 / AVX512_BF16) exits 1
# with a message naming what is missing.
set -u
CLIP=${CLIP_BIN:-build/clip}
M=tests/data/golden/tiny-vit/model.safetensors
I=tests/data/image/golden/scene.png
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
$CLIP similarity --model $M --precision fp16 --image $I --text x 2>/dev/null; [ $? -eq 2 ] || fail "bad precision: not a usage error"
$CLIP similarity --model $M --precision fp32 --image $I --text "a tree" "noise" > "$t/fp32" || fail "fp32 similarity"
$CLIP similarity --model $M --precision bf16 --image $I --text "a tree" "noise" > "$t/bf16" 2>"$t/err"; rc=$?
if [ $rc -eq 1 ]; then
  grep -q "AVX512_BF16" "$t/err" || fail "no-bf16 message: $(cat "$t/err")"
  echo "ok (bf16 not available on this CPU: refusal checked)"; exit 0
fi
[ $rc -eq 0 ] || fail "bf16 similarity: exit $rc"
# cosines printed with 4 decimals: the two runs agree to within 0.01
paste <(tr -s ' ' '\n' < "$t/fp32" | grep -E '^-?[0-9]+\.[0-9]+$') <(tr -s ' ' '\n' < "$t/bf16" | grep -E '^-?[0-9]+\.[0-9]+$') |
  awk 'BEGIN{n=0} {n++; d=$1-$2; if (d<0) d=-d; if (d>0.01) bad=1} END{exit (n<2 || bad)}' || fail "fp32 vs bf16: $(cat "$t/fp32" "$t/bf16")"
$CLIP embed --model $M --precision bf16 -o "$t/b.npy" --text "a tree" || fail "bf16 embed"
echo ok
