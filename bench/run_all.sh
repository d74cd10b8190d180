#!/usr/bin/env bash
# Every benchmark of clip.c, side by side with its peers, in one run (nothing else should be
# running on the machine). Writes build/bench/report.md; docs/performance.md quotes it.
#   ViT-B/32 inference vs ONNX Runtime and PyTorch (bench/run_peers.sh, incl. memory and load)
#   training steps/s vs PyTorch (bench_train, bench/train_pytorch.py)
#   RN50 inference vs PyTorch (bench_rn, bench/rn_pytorch.py)
#   end-to-end zero-shot (bench/bench_zeroshot.sh), tokenizer and image pipeline
# usage: bench/run_all.sh        env: THREADS="1 2" REPS=5
set -uo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-"1 2"}
REPS=${REPS:-5}
OUT=build/bench/report.md
OBLAS=/usr/lib/x86_64-linux-gnu/openblas-pthread
mkdir -p build/bench
make -s all bench >/dev/null || { echo "run_all.sh: build failed" >&2; exit 1; }
export OPENBLAS_CORETYPE=SkylakeX MALLOC_MMAP_THRESHOLD_=4000000000 MALLOC_TRIM_THRESHOLD_=4000000000
torch_env() { env LD_LIBRARY_PATH=$OBLAS OPENBLAS_NUM_THREADS="$1" /usr/bin/python3 "${@:2}"; }
section() { printf '\n## %s\n\n```\n' "$1"; }
endsec() { printf '```\n'; }
{
  echo "# clip.c benchmark report"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null)"
  echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $(grep -o -m1 -w 'amx_bf16\|avx512f' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE for clip.c's fallback and for PyTorch"

  section "ViT-B/32 inference: clip.c vs ONNX Runtime vs PyTorch (bench/run_peers.sh)"
  REPS=$REPS THREADS="$THREADS" bench/run_peers.sh >/dev/null 2>build/bench/run_peers.err && cat build/peers/results.md \
    || { echo "run_peers.sh failed:"; tail -5 build/bench/run_peers.err; }
  endsec

  for t in $THREADS; do
    section "Training steps, ViT-S-64 batch 64, $t thread(s): clip.c then PyTorch"
    build/bench/bench_train --threads "$t" --steps 3 2>&1 | tail -4
    torch_env "$t" bench/train_pytorch.py --steps 3 2>&1 | tail -3
    endsec
  done

  for t in $THREADS; do
    section "RN50 inference, $t thread(s): clip.c then PyTorch"
    OMP_NUM_THREADS=$t build/bench/bench_rn RN50 "$REPS" 2>&1 | tail -6
    torch_env "$t" bench/rn_pytorch.py --threads "$t" --reps "$REPS" 2>&1 | tail -4
    endsec
  done

  section "End-to-end zero-shot: 1000 images x 1000 classes x 80 templates (bench/bench_zeroshot.sh)"
  bench/bench_zeroshot.sh 2>&1 | tail -5
  endsec

  section "Tokenizer, one core (bench_tokenizer, then OpenAI's algorithm in Python)"
  build/bench/bench_tokenizer 2>&1 | tail -4
  /usr/bin/python3 bench/tokenizer_python.py 2>&1 | tail -3
  endsec

  section "Image decode + preprocess to 224, one core (PIL + numpy, then bench_image)"
  /usr/bin/python3 bench/image_pil.py 2>&1 | tail -4     # also makes the inputs
  build/bench/bench_image 2>&1 | tail -8
  endsec
} > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT"
