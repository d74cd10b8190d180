#!/usr/bin/env bash
# clip convert: usage errors exit 2, bad input exits 1 leaving no output behind, and the files it
# writes load in the other verbs with the original's results (packed and f32 exactly, f16 to its
# rounding); --packed --precision bf16|int8 files load at that precision only, with bitwise the
# features of the original loaded at that precision.
set -u
CLIP=${CLIP_BIN:-build/clip}
M=tests/data/golden/tiny-vit/model.safetensors
I=tests/data/image/golden/scene.png
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
code() { "$@" >/dev/null 2>"$t/err"; echo $?; }

[ "$(code $CLIP convert --help)" = 0 ] || fail "--help"
[ "$(code $CLIP convert -o "$t/x.safetensors")" = 2 ] || fail "no --model: not a usage error"
[ "$(code $CLIP convert --model $M)" = 2 ] || fail "no -o: not a usage error"
[ "$(code $CLIP convert --model $M -o "$t/x.safetensors" --dtype f8)" = 2 ] || fail "bad dtype: not a usage error"
[ "$(code $CLIP convert --model $M -o "$t/x.safetensors" --packed --dtype f16)" = 2 ] || fail "--packed --dtype f16: not a usage error"
[ "$(code $CLIP convert --model $M -o "$t/x.safetensors" --bogus)" = 2 ] || fail "unknown option: not a usage error"
[ "$(code $CLIP convert --model "$t/none.safetensors" -o "$t/x.safetensors")" = 1 ] || fail "missing input: not exit 1"
grep -q "none.safetensors" "$t/err" || fail "missing input: message does not name the file: $(cat "$t/err")"
head -c 1000 $M > "$t/cut.safetensors"
[ "$(code $CLIP convert --model "$t/cut.safetensors" -o "$t/x.safetensors")" = 1 ] || fail "truncated input: not exit 1"
[ "$(code $CLIP convert --model $M -o "$t/nodir/x.safetensors")" = 1 ] || fail "unwritable output: not exit 1"
[ -e "$t/x.safetensors" ] && fail "a failed convert left an output"

$CLIP convert --model $M -o "$t/p.safetensors" --packed 2>/dev/null || fail "convert --packed"
$CLIP convert --model $M -o "$t/f32.safetensors" 2>/dev/null || fail "convert f32"
$CLIP convert --model $M -o "$t/f16.safetensors" --dtype f16 2>/dev/null || fail "convert f16"
$CLIP convert --model tests/data/golden/tiny-vit/hf -o "$t/hf.safetensors" --dtype bf16 2>/dev/null || fail "convert HF -> bf16"
$CLIP convert --model "$t/p.safetensors" -o "$t/back.safetensors" 2>/dev/null || fail "convert packed -> f32"
ls "$t" | grep -q '\.tmp\.' && fail "a temporary file was left behind"
cmp -s "$t/f32.safetensors" "$t/back.safetensors" || fail "packed -> f32 is not the f32 file byte for byte"
[ "$(stat -c %s "$t/f16.safetensors")" -lt "$(( $(stat -c %s "$t/f32.safetensors") / 2 + 100000 ))" ] || fail "f16 file not half the size"

for f in ref p f32; do
  mf="$t/$f.safetensors"; [ $f = ref ] && mf=$M
  $CLIP embed --model "$mf" -o "$t/$f.i.npy" --image $I || fail "embed image $f"
  $CLIP embed --model "$mf" -o "$t/$f.t.npy" --text "a tree" || fail "embed text $f"
done
for f in p f32; do
  cmp -s "$t/ref.i.npy" "$t/$f.i.npy" && cmp -s "$t/ref.t.npy" "$t/$f.t.npy" || fail "$f: features differ from the original's"
done
$CLIP similarity --model $M --image $I --text "a tree" "noise" > "$t/s_ref" || fail "similarity original"
$CLIP similarity --model "$t/f16.safetensors" --image $I --text "a tree" "noise" > "$t/s_f16" || fail "similarity f16"
paste <(tr -s ' ' '\n' < "$t/s_ref" | grep -E '^-?[0-9]+\.[0-9]+$') <(tr -s ' ' '\n' < "$t/s_f16" | grep -E '^-?[0-9]+\.[0-9]+$') |
  awk '{n++; d=$1-$2; if (d<0) d=-d; if (d>0.002) bad=1} END{exit (n<2 || bad)}' || fail "f16 similarities: $(cat "$t/s_ref" "$t/s_f16")"
$CLIP info --model "$t/p.safetensors" > "$t/info" || fail "info on a packed file"
grep -q "width 64, 2 layers" "$t/info" || fail "info: $(cat "$t/info")"
for f in $M "$t/p.safetensors"; do
  $CLIP zeroshot --model "$f" --labels tree,dog,car --no-cache --json $I > "$t/z.$(basename "$f")" || fail "zeroshot on $f"
done
cmp -s "$t/z.model.safetensors" "$t/z.p.safetensors" || fail "zeroshot on the packed file differs"

# an f16 checkpoint (every weight an fp16 value, as OpenAI ships them): held as fp16 panels,
# exactly; its packed file keeps them so (smaller than the fp32 one) with the same features
# (fp16 panels are the AVX-512 kernel's, like packed files)
if grep -qw avx512f /proc/cpuinfo; then
  $CLIP convert --model "$t/f16.safetensors" -o "$t/p16.safetensors" --packed 2>"$t/err" || fail "convert f16 --packed"
  grep -q "as fp16 panels" "$t/err" || fail "convert f16 --packed: $(cat "$t/err")"
  $CLIP info --model "$t/f16.safetensors" | grep -q "kept as fp16" || fail "info on an f16 checkpoint: no fp16 matrices"
  $CLIP info --model $M | grep -q "kept as fp16" && fail "info: the golden fp32 model reports fp16 matrices"
  for f in f16 p16; do
    $CLIP embed --model "$t/$f.safetensors" -o "$t/$f.i.npy" --image $I || fail "embed image $f"
    $CLIP embed --model "$t/$f.safetensors" -o "$t/$f.t.npy" --text "a tree" || fail "embed text $f"
  done
  cmp -s "$t/f16.i.npy" "$t/p16.i.npy" && cmp -s "$t/f16.t.npy" "$t/p16.t.npy" || fail "the fp16-panel packed file: features differ"
  $CLIP convert --model "$t/p16.safetensors" -o "$t/back16.safetensors" --dtype f16 2>/dev/null || fail "convert p16 -> f16"
  cmp -s "$t/f16.safetensors" "$t/back16.safetensors" || fail "p16 -> f16 is not the f16 file byte for byte"
fi

# training starts from a packed file as from its checkpoint (copy-on-write: the file stays as it was);
# an embed dim of 16 leaves one matrix plain in the packed file
D=tests/data/golden/tiny-vit/train
$CLIP init --image-size 32 --patch-size 8 --vision-width 32 --vision-layers 1 --text-width 32 --text-layers 1 \
  --embed-dim 16 --seed 3 -o "$t/init.safetensors" 2>/dev/null || fail "clip init"
$CLIP convert --model "$t/init.safetensors" -o "$t/initp.safetensors" --packed 2>/dev/null || fail "convert init --packed"
cp "$t/initp.safetensors" "$t/initp.copy"
TR=(--pixels $D/pixels.npy --tokens $D/tokens.npy --batch-size 4 --steps 2 --lr 1e-3 --seed 7 --threads 1 --print-every 0)
$CLIP train --model "$t/init.safetensors" "${TR[@]}" -o "$t/ta.safetensors" 2>/dev/null || fail "train from the checkpoint"
$CLIP train --model "$t/initp.safetensors" "${TR[@]}" -o "$t/tb.safetensors" 2>/dev/null || fail "train from the packed file"
cmp -s "$t/ta.safetensors" "$t/tb.safetensors" || fail "training from the packed file differs"
cmp -s "$t/initp.safetensors" "$t/initp.copy" || fail "training changed the packed file"

# packed bf16 / int8 files
[ "$(code $CLIP convert --model $M -o "$t/q.safetensors" --precision bf16)" = 2 ] || fail "--precision without --packed: not a usage error"
[ "$(code $CLIP convert --model $M -o "$t/q.safetensors" --packed --precision fp16)" = 2 ] || fail "bad --precision: not a usage error"
for p in bf16 int8; do
  $CLIP convert --model $M -o "$t/$p.p.safetensors" --packed --precision $p 2>"$t/err"; rc=$?
  if [ $rc = 1 ] && grep -q "needs a CPU" "$t/err"; then echo "$p not available on this CPU: packed $p not tested"; continue; fi
  [ $rc = 0 ] || fail "convert --packed --precision $p: exit $rc: $(cat "$t/err")"
  $CLIP embed --model $M --precision $p -o "$t/$p.ref.npy" --image $I || fail "embed $p original"
  $CLIP embed --model "$t/$p.p.safetensors" --precision $p -o "$t/$p.got.npy" --image $I || fail "embed $p file"
  $CLIP embed --model $M --precision $p -o "$t/$p.reft.npy" --text "a tree" || fail "embed text $p original"
  $CLIP embed --model "$t/$p.p.safetensors" --precision $p -o "$t/$p.gott.npy" --text "a tree" || fail "embed text $p file"
  cmp -s "$t/$p.ref.npy" "$t/$p.got.npy" && cmp -s "$t/$p.reft.npy" "$t/$p.gott.npy" || fail "packed $p: features differ from the original at $p"
  [ "$(code $CLIP embed --model "$t/$p.p.safetensors" -o "$t/x.npy" --text "a tree")" = 1 ] || fail "packed $p loaded as fp32: not exit 1"
  grep -q "$p.p.safetensors" "$t/err" && grep -q "precision $p" "$t/err" || fail "packed $p as fp32: message: $(cat "$t/err")"
  [ "$(code $CLIP convert --model "$t/$p.p.safetensors" -o "$t/x.safetensors" --packed)" = 1 ] || fail "packed $p -> fp32: not exit 1"
  head -c 20000 "$t/$p.p.safetensors" > "$t/cut.safetensors"
  [ "$(code $CLIP embed --model "$t/cut.safetensors" --precision $p -o "$t/x.npy" --text "a tree")" = 1 ] || fail "truncated packed $p: not exit 1"
  [ -e "$t/x.npy" ] || [ -e "$t/x.safetensors" ] && fail "a failed run left an output"
  $CLIP convert --model "$t/p.safetensors" -o "$t/$p.p2.safetensors" --packed --precision $p 2>/dev/null || fail "packed fp32 -> packed $p"
  cmp -s "$t/$p.p.safetensors" "$t/$p.p2.safetensors" || fail "packed $p from the packed fp32 file differs"
  [ "$(stat -c %s "$t/$p.p.safetensors")" -lt "$(stat -c %s "$t/p.safetensors")" ] || fail "packed $p not smaller than packed fp32"
done
ls "$t" | grep -q '\.tmp\.' && fail "a temporary file was left behind"
echo ok
