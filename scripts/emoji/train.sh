#!/usr/bin/env bash
# Trains the shipped emoji CLIP model from scratch (docs/emoji.md): Google + Twitter art of the
# train concepts, every caption variant of captions.tsv (so an image is seen with a different
# caption each time), at most one image per concept in a batch, held-out loss on val.tsv.
#
#   scripts/emoji/train.sh [--data DIR] [--out FILE] [--work DIR] [--steps N] [--resume]
#
# --data: the prepared set (make data; default datasets/emoji); --out: the model (default
# data/models/default.safetensors), stored as float16 (half the size; clip.c loads it as
# float32), written atomically; --work: run files (the manifest, init weights, checkpoint, log,
# the float32 model; default build/emoji); --resume: continue the run in --work from its
# checkpoint. Needs build/clip (make) and /usr/bin/python3 with numpy (as make data does).
# Recipe overrides, for experiments (docs/emoji.md, "Recipes tried"): STEPS BATCH LR WARMUP WD
# SEED, augmentation CROP JITTER HFLIP, and EXTRA_STYLES=apple,facebook to add those styles' art
# of the train concepts with Google's captions (never ship such a model: those licences forbid it).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=datasets/emoji OUT=data/models/default.safetensors WORK=build/emoji RESUME=0
# the recipe (docs/emoji.md)
STEPS=${STEPS:-900} BATCH=${BATCH:-128} LR=${LR:-1e-3} WARMUP=${WARMUP:-50} WD=${WD:-0.1} SEED=${SEED:-0}
CROP=${CROP:-0.9} JITTER=${JITTER:-0} HFLIP=${HFLIP:-0} EXTRA_STYLES=${EXTRA_STYLES:-}
ARCH=(--image-size 32 --patch-size 4 --vision-width 192 --vision-layers 4 --vision-heads 3
      --text-width 128 --text-layers 4 --text-heads 2 --embed-dim 128 --context 77)
usage() { sed -n '5,12p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA=${2:?}; shift 2 ;;
    --out) OUT=${2:?}; shift 2 ;;
    --work) WORK=${2:?}; shift 2 ;;
    --steps) STEPS=${2:?}; shift 2 ;;
    --resume) RESUME=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "train.sh: unexpected argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
CLIP=build/clip
[ -x "$CLIP" ] || { echo "train.sh: $CLIP is missing; run make first" >&2; exit 1; }
[ -f "$DATA/VERSION" ] || { echo "train.sh: $DATA is not a complete data set (no VERSION); run make data" >&2; exit 1; }
DATA=$(cd "$DATA" && pwd)
mkdir -p "$WORK" "$(dirname "$OUT")"

# the train split's caption variants, image paths made absolute (the set is used in place); each
# EXTRA_STYLES art of a Google image's emoji follows it, with the same caption
extra=()
for st in ${EXTRA_STYLES//,/ }; do
  [ -f "$DATA/$st.tsv" ] || { echo "train.sh: EXTRA_STYLES: $DATA/$st.tsv is missing" >&2; exit 1; }
  extra+=("$DATA/$st.tsv")
done
awk -F'\t' -v d="$DATA" -v styles="$EXTRA_STYLES" '
  BEGIN { OFS = "\t"; ns = split(styles, S, ",") }
  FNR == 1 { f++ }
  f <= ns { if ($0 !~ /^#/ && $6 == "train" && $5 == "base") { n = split($1, p, "/"); have[f, p[n]] = 1 } next }
  /^#/ || $4 != "train" { next }
  { print d "/" $1, $2, $3
    if ($1 ~ /^images\/google\//) { n = split($1, p, "/"); for (i = 1; i <= ns; i++) if ((i, p[n]) in have) print d "/images/" S[i] "/" p[n], $2, $3 } }' \
  "${extra[@]}" "$DATA/captions.tsv" > "$WORK/train_captions.tsv.tmp"
mv "$WORK/train_captions.tsv.tmp" "$WORK/train_captions.tsv"

export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}
COMMON=(--data "$WORK/train_captions.tsv" --val-data "$DATA/val.tsv" --cache-images
        --steps "$STEPS" --batch-size "$BATCH" --lr "$LR" --warmup "$WARMUP" --wd "$WD" --seed "$SEED"
        --crop-scale "$CROP" --color-jitter "$JITTER" $([ "$HFLIP" = 1 ] && echo --hflip)
        --workers 2 --eval-every 30 --checkpoint-every 30 --checkpoint "$WORK/run.ckpt"
        --log "$WORK/train.jsonl" --print-every 10 -o "$WORK/model_f32.safetensors")
start=$(date +%s)
if [ "$RESUME" = 1 ]; then
  "$CLIP" train --resume "$WORK/run.ckpt" "${COMMON[@]}"
else
  "$CLIP" init "${ARCH[@]}" --seed "$SEED" -o "$WORK/init.safetensors"
  "$CLIP" train --model "$WORK/init.safetensors" "${COMMON[@]}"
fi
/usr/bin/python3 scripts/emoji/to_f16.py "$WORK/model_f32.safetensors" "$OUT"
echo "train.sh: wrote $OUT ($(stat -c %s "$OUT") bytes) in $(( $(date +%s) - start )) s; log: $WORK/train.jsonl"
