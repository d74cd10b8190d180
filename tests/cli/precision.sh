#!/usr/bin/env bash
# --precision fp32|bf16|int8 (docs/performance.md, "bf16", "int8"): a bad value is a usage error;
# bf16 and int8 either run and agree with fp32 (cosines within 0.01 for bf16, 0.05 for int8: the
# golden text features' measured int8 error is 2.8e-2), or, on a CPU without the instructions,
# exit 1 with a message naming what is missing.
set -u
CLIP=${CLIP_BIN:-build/clip}
M=tests/data/golden/tiny-vit/model.safetensors
I=tests/data/image/golden/scene.png
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
$CLIP similarity --model $M --precision fp16 --image $I --text x 2>/dev/null; [ $? -eq 2 ] || fail "bad precision: not a usage error"
$CLIP similarity --model $M --precision fp32 --image $I --text "a tree" "noise" > "$t/fp32" || fail "fp32 similarity"
check() {   # precision, tolerance, word the refusal must name
  $CLIP similarity --model $M --precision $1 --image $I --text "a tree" "noise" > "$t/$1" 2>"$t/err"; local rc=$?
  if [ $rc -eq 1 ]; then
    grep -q "$3" "$t/err" || fail "no-$1 message: $(cat "$t/err")"
    echo "$1 not available on this CPU: refusal checked"; return
  fi
  [ $rc -eq 0 ] || fail "$1 similarity: exit $rc"
  # cosines printed with 4 decimals
  paste <(tr -s ' ' '\n' < "$t/fp32" | grep -E '^-?[0-9]+\.[0-9]+$') <(tr -s ' ' '\n' < "$t/$1" | grep -E '^-?[0-9]+\.[0-9]+$') |
    awk -v tol=$2 'BEGIN{n=0} {n++; d=$1-$2; if (d<0) d=-d; if (d>tol) bad=1} END{exit (n<2 || bad)}' ||
    fail "fp32 vs $1: $(cat "$t/fp32" "$t/$1")"
  $CLIP embed --model $M --precision $1 -o "$t/$1.npy" --text "a tree" || fail "$1 embed"
}
check bf16 0.01 AVX512_BF16
check int8 0.05 VNNI
echo ok
