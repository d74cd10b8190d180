#!/usr/bin/env bash
# clip index / clip search: incremental indexing, image->image self match, bad input.
set -u
CLIP=${CLIP_BIN:-build/clip}
M=tests/data/golden/tiny-vit/model.safetensors
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
mkdir -p "$t/imgs/sub"
cp tests/data/image/golden/gradient.png tests/data/image/golden/noise.png "$t/imgs/"
cp tests/data/image/golden/scene.png "$t/imgs/sub/"
$CLIP index --model $M --index "$t/ix.sqlite" "$t/imgs" 2>"$t/err" || fail "index"
grep -q "3 images (3 encoded" "$t/err" || fail "first run encodes 3: $(cat "$t/err")"
$CLIP index --model $M --index "$t/ix.sqlite" "$t/imgs" 2>"$t/err" || fail "reindex"
grep -q "3 images (0 encoded" "$t/err" || fail "second run encodes nothing: $(cat "$t/err")"
# an image is its own nearest neighbour, with cosine 1
out=$($CLIP search --model $M --index "$t/ix.sqlite" --image "$t/imgs/sub/scene.png" --top 1) || fail "search"
echo "$out" | grep -q "1.0000  $t/imgs/sub/scene.png" || fail "self match: $out"
# text queries print top K lines each
n=$($CLIP search --model $M --index "$t/ix.sqlite" --top 2 "a tree" "noise" | grep -c "^  ")
[ "$n" -eq 4 ] || fail "2 queries x top 2, got $n lines"
# a removed file leaves the index
rm "$t/imgs/noise.png"
$CLIP index --model $M --index "$t/ix.sqlite" "$t/imgs" 2>"$t/err" || fail "index after delete"
grep -q "2 images" "$t/err" || fail "deleted file dropped: $(cat "$t/err")"
# a corrupt image is reported and skipped, the exit status says so
printf 'not an image' > "$t/imgs/bad.png"
$CLIP index --model $M --index "$t/ix.sqlite" "$t/imgs" 2>"$t/err"; rc=$?
[ $rc -eq 1 ] || fail "corrupt image: exit $rc"
grep -q "bad.png" "$t/err" || fail "corrupt image named: $(cat "$t/err")"
# no index, another model: exit 1 with a message
$CLIP search --model $M --index "$t/none.sqlite" "x" 2>/dev/null; [ $? -eq 1 ] || fail "missing index"
$CLIP search --model tests/data/golden/tiny-vit/hf --index "$t/ix.sqlite" "x" 2>"$t/err"; [ $? -eq 1 ] || fail "other model"
grep -q "built with" "$t/err" || fail "other model message"
$CLIP search --model $M --index "$t/ix.sqlite" 2>/dev/null; [ $? -eq 2 ] || fail "usage"
echo ok
