#!/usr/bin/env bash
# --activation overrides the MLP activation for any verb that loads a model (LAION checkpoints
# use exact GELU where OpenAI's use QuickGELU); bad values are usage errors.
set -u
CLIP=${CLIP_BIN:-build/clip}
M=tests/data/golden/tiny-vit/model.safetensors
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
$CLIP info --model $M | grep -q "activation: *quick_gelu" || fail "OpenAI weights default to QuickGELU"
$CLIP info --model $M --activation gelu | grep -q "activation: *gelu" || fail "override shown by info"
$CLIP embed --model $M --tokens tests/data/golden/tokens.npy -o "$t/q.npy" || fail "embed"
$CLIP --activation gelu embed --model $M --tokens tests/data/golden/tokens.npy -o "$t/g.npy" || fail "embed gelu"
cmp -s "$t/q.npy" "$t/g.npy" && fail "gelu features should differ from quickgelu ones"
$CLIP --activation quickgelu embed --model $M --tokens tests/data/golden/tokens.npy -o "$t/q2.npy" || fail "embed quickgelu"
cmp -s "$t/q.npy" "$t/q2.npy" || fail "forcing the default changes nothing"
$CLIP info --model $M --activation relu 2>/dev/null; [ $? -eq 2 ] || fail "bad value is a usage error"
echo ok
