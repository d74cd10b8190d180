#!/usr/bin/env bash
# clip train --data: a manifest (with a group column and a shared image) and a directory of tar
# shards made by GNU tar; a run stopped half-way and resumed ends bitwise equal to a straight
# run; a missing image exits 1 naming the manifest line and the file.
set -eu
CLIP=${CLIP_BIN:-build/clip}
F=tests/data/image/fmt
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$T/img" "$T/shards/s"
i=0
for f in rgb8.png rgba8.png baseline.jpg lossy.webp pal8.png gray8.png q75_444.jpg lossless_alpha.webp; do
  cp "$F/$f" "$T/img/$f"
  ext=${f##*.}
  cp "$F/$f" "$T/shards/s/$i.$ext"
  echo "caption number $i for $f" > "$T/shards/s/$i.txt"
  echo "g$((i % 4))" > "$T/shards/s/$i.group"
  i=$((i + 1))
done
{
  printf '# image\tcaption\tgroup\n'
  i=0
  for f in $(ls "$T/img"); do printf 'img/%s\ta picture %d\tg%d\n' "$f" $i $((i % 4)); i=$((i + 1)); done
  printf 'img/rgb8.png\tthe same picture, again\tg0\n'
} > "$T/m.tsv"
(cd "$T/shards/s" && tar --format=ustar -cf ../a.tar 0.* 1.* 2.* 3.* && tar --format=pax -cf ../b.tar 4.* 5.* 6.* 7.*)
rm -r "$T/shards/s"

"$CLIP" init --image-size 16 --patch-size 8 --vision-width 32 --vision-layers 1 --text-width 32 --text-layers 1 \
  --embed-dim 16 --context 16 --seed 3 -o "$T/init.safetensors" 2>/dev/null || fail "clip init"
for DATA in "$T/m.tsv" "$T/shards"; do
  COMMON=(--data "$DATA" --val-data "$T/m.tsv" --batch-size 4 --steps 6 --warmup 2 --lr 1e-3 --seed 5 --threads 1
          --workers 2 --print-every 0 --checkpoint-every 2 --eval-every 3)
  for cache in "" --cache-images; do
    rm -f "$T"/a.* "$T"/b.*
    "$CLIP" train --model "$T/init.safetensors" "${COMMON[@]}" $cache --checkpoint "$T/a.ckpt" -o "$T/a.safetensors" 2>"$T/err" \
      || { cat "$T/err" >&2; fail "straight run on $DATA $cache"; }
    "$CLIP" train --model "$T/init.safetensors" "${COMMON[@]}" $cache --checkpoint "$T/b.ckpt" --stop-after 3 2>/dev/null || fail "first half"
    "$CLIP" train --resume "$T/b.ckpt" "${COMMON[@]}" $cache -o "$T/b.safetensors" 2>/dev/null || fail "resumed half"
    cmp -s "$T/a.safetensors" "$T/b.safetensors" || fail "$DATA $cache: resumed model differs from the straight run"
    cmp -s "$T/a.ckpt" "$T/b.ckpt" || fail "$DATA $cache: resumed checkpoint differs"
    cmp -s "$T/init.safetensors" "$T/a.safetensors" && fail "training changed nothing"
    [ -z "$cache" ] && cp "$T/a.safetensors" "$T/nocache.safetensors"
  done
  cmp -s "$T/a.safetensors" "$T/nocache.safetensors" || fail "$DATA: --cache-images changed the result"
done

set +e
printf 'img/rgb8.png\tok\nimg/missing.png\tgone\n' > "$T/bad.tsv"
"$CLIP" train --model "$T/init.safetensors" --data "$T/bad.tsv" --steps 1 --batch-size 2 2>"$T/err"
[ $? -eq 1 ] || fail "a missing image should exit 1"
grep -q 'bad.tsv line 2' "$T/err" && grep -q 'missing.png' "$T/err" || fail "the error should name the line and file: $(cat "$T/err")"
"$CLIP" train --model "$T/init.safetensors" --data "$T/m.tsv" --background nothex 2>/dev/null
[ $? -eq 2 ] || fail "a bad --background should exit 2"
head -c 700 "$T/shards/a.tar" > "$T/cut.tar"
"$CLIP" train --model "$T/init.safetensors" --data "$T/cut.tar" --steps 1 --batch-size 2 2>"$T/err"
[ $? -eq 1 ] && grep -q 'cut.tar' "$T/err" || fail "a truncated shard should exit 1 naming it"
echo ok
