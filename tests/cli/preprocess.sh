#!/usr/bin/env bash
# clip preprocess: shapes and values against PIL's, usage errors (2), bad files (1, no output).
set -u
CLIP=${CLIP_BIN:-build/clip}
D=tests/data/image
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
G="$D/golden/gradient.png $D/golden/checkerboard.png $D/golden/noise.png $D/golden/scene.png"
$CLIP preprocess --size 32 --uint8 $G -o "$T/u.npy" || fail "uint8 run"
cmp -s <(tail -c +129 "$T/u.npy") <(tail -c +129 "$D/golden/crop_u8_32.npy") || fail "uint8 crops differ from PIL's"
$CLIP preprocess --size 64 --threads 2 $G -o "$T/f.npy" || fail "float run"
cmp -s <(tail -c +129 "$T/f.npy") <(tail -c +129 "$D/golden/pixels_64.npy") || fail "pixels differ from OpenAI's"
head -c 128 "$T/f.npy" | grep -q "'shape': (4, 3, 64, 64)" || fail "float shape"
head -c 128 "$T/u.npy" | grep -q "'descr': '|u1'" || fail "uint8 dtype"
$CLIP preprocess --size 16 --background ffffff --fast $D/fmt/rgba8.png $D/fmt/baseline.jpg -o "$T/b.npy" || fail "options"
$CLIP preprocess --help | grep -q -- "--size" || fail "help"
# usage errors
$CLIP preprocess $G -o "$T/x.npy" 2>/dev/null; [ $? -eq 2 ] || fail "missing --size is a usage error"
$CLIP preprocess --size 0 $G -o "$T/x.npy" 2>/dev/null; [ $? -eq 2 ] || fail "bad --size"
$CLIP preprocess --size 8 $G 2>/dev/null; [ $? -eq 2 ] || fail "missing -o"
$CLIP preprocess --size 8 --bogus $G -o "$T/x.npy" 2>/dev/null; [ $? -eq 2 ] || fail "unknown option"
# one bad file among good ones: exit 1, its name on stderr, no output
printf 'not an image' > "$T/bad.jpg"
$CLIP preprocess --size 8 $G "$T/bad.jpg" -o "$T/x.npy" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] || fail "bad file: exit $rc"
grep -q "bad.jpg" "$T/err" || fail "stderr names the bad file: $(cat "$T/err")"
[ ! -e "$T/x.npy" ] || fail "partial output written"
ls "$T" | grep -q tmp && fail "temp file left"
: > "$T/empty.png"
$CLIP preprocess --size 8 "$T/empty.png" -o "$T/x.npy" 2>/dev/null; [ $? -eq 1 ] || fail "empty file"
$CLIP preprocess --size 8 --max-pixels 100 $D/fmt/rgb8.png -o "$T/x.npy" 2>"$T/err"; [ $? -eq 1 ] || fail "max-pixels"
grep -q "too large" "$T/err" || fail "max-pixels message"
$CLIP preprocess --size 8 "$T/missing.png" -o "$T/x.npy" 2>/dev/null; [ $? -eq 1 ] || fail "missing file"
echo ok
