#!/usr/bin/env bash
# clip.c vs ONNX Runtime vs PyTorch on CLIP ViT-B/32, fp32, CPU, 1 and 2 threads (issue 7).
# One command: installs what is missing, builds, writes a random ViT-B/32, exports it to ONNX,
# checks that the three systems compute the same numbers, then runs clip.c's bench_vit and both
# peers one after another (each in its own process, never concurrently) and writes the combined
# table to build/peers/results.md.
#
# usage: bench/run_peers.sh            (from the repository root)
# env:   REPS=5          repetitions per row (median reported, after one warm-up call)
#        THREADS="1 2"   thread counts
#        CORE=SkylakeX   OPENBLAS_CORETYPE for clip.c and PyTorch (AVX-512 kernels); an inherited
#                        OPENBLAS_CORETYPE=Haswell would silently halve OpenBLAS's speed
#        ORT_VERSION=1.30.0  onnxruntime-node version (pinned)
#        CLIP_ENV="VAR=VALUE ..."  extra environment for clip.c's processes only, e.g.
#                        CLIP_ENV=OMP_WAIT_POLICY=passive (see docs/performance-peers.md)
#        NO_INSTALL=1    never call apt-get / npm; fail with a message instead
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-5}
THREADS=${THREADS:-"1 2"}
CORE=${CORE:-SkylakeX}
ORT_VERSION=${ORT_VERSION:-1.30.0}
OUT=build/peers
RAW=$OUT/raw
PY=/usr/bin/python3                     # Debian's python, where python3-torch lives
OBLAS_DIR=/usr/lib/x86_64-linux-gnu/openblas-pthread
CALLER_OPENBLAS_ENV=$(env | grep '^OPENBLAS_' | tr '\n' ' ' || true)
# Pin OpenBLAS's kernels for everything below, whatever the caller's environment says.
unset OPENBLAS_L2_SIZE GOTO_NUM_THREADS OMP_NUM_THREADS OMP_WAIT_POLICY GOMP_SPINCOUNT
CLIP_ENV=${CLIP_ENV:-}
export OPENBLAS_CORETYPE=$CORE
export PYTHONDONTWRITEBYTECODE=1       # no __pycache__ in bench/peers

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'run_peers.sh: %s\n' "$*" >&2; exit 1; }
can_install() { [ -z "${NO_INSTALL:-}" ]; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

# ---- 1. what is missing
if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
    can_install || die "$PY cannot import torch and numpy: install python3-torch python3-numpy (apt-get)"
    say "installing python3-torch python3-numpy (apt-get)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-torch python3-numpy >&2 ||
        die "apt-get install python3-torch python3-numpy failed (needs root and the Debian archive): install them and rerun"
fi
command -v node >/dev/null && command -v npm >/dev/null || {
    can_install || die "node and npm are needed for onnxruntime-node: apt-get install nodejs npm"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm >&2 ||
        die "apt-get install nodejs npm failed: install Node.js >= 16 and npm and rerun"
}
[ -d "$OBLAS_DIR" ] || die "$OBLAS_DIR missing: apt-get install libopenblas0-pthread (PyTorch would use the slow reference BLAS)"
ORT_PKG=$OUT/node_modules/onnxruntime-node/package.json
if [ ! -f "$ORT_PKG" ] || ! grep -q "\"version\": \"$ORT_VERSION\"" "$ORT_PKG"; then
    can_install || die "onnxruntime-node $ORT_VERSION missing: npm install --prefix $OUT onnxruntime-node@$ORT_VERSION"
    say "installing onnxruntime-node@$ORT_VERSION into $OUT/node_modules"
    mkdir -p "$OUT"
    # the CUDA provider is downloaded from nuget by the postinstall script; the CPU build is in the package
    npm install --prefix "$OUT" --no-save --no-audit --no-fund "onnxruntime-node@$ORT_VERSION" \
        --onnxruntime-node-install-cuda=skip >&2 ||
        die "npm install onnxruntime-node@$ORT_VERSION failed (no registry access?): install it into $OUT/node_modules and rerun"
fi

# ---- 2. build, model, ONNX export
say "building clip.c (make bench)"
make -j2 bench >&2
mkdir -p "$RAW"
rm -f "$RAW"/*
# The weights are fp16 values, as in OpenAI's released checkpoints (which are stored in fp16):
# every system loads them into fp32 and computes in fp32. clip.c then keeps the matrices as
# fp16 panels (exact, half the bytes); bench_vit also times arbitrary fp32 weights ("fp32").
MODEL=$OUT/vitb32_f16.safetensors
if [ ! -f "$MODEL" ]; then
    say "writing a random ViT-B/32 with fp16 weights to $MODEL"
    build/clip init --arch ViT-B-32 -o "$OUT/vitb32_f32.safetensors" 2>/dev/null ||
        build/bench/bench_make_vitb32 "$OUT/vitb32_f32.safetensors"
    build/clip convert --model "$OUT/vitb32_f32.safetensors" --dtype f16 -o "$MODEL" >&2
    rm -f "$OUT/vitb32_f32.safetensors"
fi
if [ ! -f "$OUT/vitb32_image.onnx" ] || [ "$MODEL" -nt "$OUT/vitb32_image.onnx" ] || [ ! -f "$OUT/vitb32_torch.pt" ]; then
    say "exporting the PyTorch model (clip.c's weights) to ONNX"
    OPENBLAS_NUM_THREADS=1 LD_LIBRARY_PATH=$OBLAS_DIR "$PY" bench/peers/export_onnx.py --out "$OUT" --weights "$MODEL" >&2
fi

# ---- 3. the three compute the same numbers
say "checking that clip.c, PyTorch and ONNX Runtime agree"
TORCH_ENV=(env LD_LIBRARY_PATH=$OBLAS_DIR OPENBLAS_CORETYPE=$CORE MALLOC_MMAP_THRESHOLD_=4000000000 MALLOC_TRIM_THRESHOLD_=4000000000)
"${TORCH_ENV[@]}" OPENBLAS_NUM_THREADS=1 "$PY" bench/peers/clip_torch.py check --weights "$MODEL" \
    --save-pixels "$RAW/px2.npy" --save-tokens "$RAW/tok2.npy"
build/clip embed --raw --threads 1 --model "$MODEL" --pixels "$RAW/px2.npy" -o "$RAW/clip_image.npy"
build/clip embed --raw --threads 1 --model "$MODEL" --tokens "$RAW/tok2.npy" -o "$RAW/clip_text.npy"
node bench/peers/ort_bench.js check --dir "$OUT" && mv "$OUT/ort_image.npy" "$OUT/ort_text.npy" "$RAW/"
{
    "${TORCH_ENV[@]}" OPENBLAS_NUM_THREADS=1 "$PY" bench/peers/clip_torch.py check --weights "$MODEL" \
        --ref-image "$RAW/clip_image.npy" --ref-text "$RAW/clip_text.npy" | sed 's/^check/PyTorch/'
    "$PY" - "$RAW" <<'EOF'
import sys, numpy as np
d = sys.argv[1]
for n in ("image", "text"):
    o, r = np.load(f"{d}/ort_{n}.npy"), np.load(f"{d}/clip_{n}.npy")
    e = float(np.abs(o - r).max() / np.abs(r).max())
    print(f"ONNX Runtime {n}: max |ort - clip.c| / max |clip.c| = {e:.2e}")
    if e > 1e-3:
        sys.exit(1)
EOF
} | tee "$RAW/check.txt" >&2

# ---- 4. speed, one system at a time
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for t in $THREADS; do
    say "clip.c bench_vit, $t thread(s)"
    cut -d' ' -f1 /proc/loadavg > "$RAW/load_clip_t$t.txt"
    env $CLIP_ENV build/bench/bench_vit --reps "$REPS" --threads "$t" --precision fp32,f16w | tee "$RAW/clip_t$t.md" >&2
    say "ONNX Runtime, $t thread(s)"
    cut -d' ' -f1 /proc/loadavg > "$RAW/load_ort_t$t.txt"
    node bench/peers/ort_bench.js bench --dir "$OUT" --threads "$t" --reps "$REPS" | tee "$RAW/ort_t$t.jsonl" >&2
    say "PyTorch, $t thread(s) (torch pool 1 thread, OpenBLAS $t)"
    cut -d' ' -f1 /proc/loadavg > "$RAW/load_torch_t$t.txt"
    "${TORCH_ENV[@]}" OPENBLAS_NUM_THREADS=$t "$PY" bench/peers/clip_torch.py bench --threads "$t" --reps "$REPS" |
        tee "$RAW/torch_t$t.jsonl" >&2
done

# ---- 4b. clip.c's reduced precisions at the largest thread count, against ORT's fp32 above
TMAX=${THREADS##* }
say "clip.c bench_vit --precision bf16,int8, $TMAX thread(s)"
env $CLIP_ENV build/bench/bench_vit --reps "$REPS" --threads "$TMAX" --precision bf16,int8 | tee "$RAW/clip_prec_t$TMAX.md" >&2 || true

# ---- 5. load time and peak memory, 1 thread, each in a fresh process
say "load time and peak RSS"
env $CLIP_ENV build/bench/bench_load "$MODEL" --threads 1 | tee "$RAW/mem_clip.txt" >&2
build/clip convert --model "$MODEL" -o "$OUT/vitb32_packed.safetensors" --packed >&2
env $CLIP_ENV build/bench/bench_load "$OUT/vitb32_packed.safetensors" --threads 1 | tee "$RAW/mem_clip_packed.txt" >&2
node bench/peers/ort_bench.js mem --dir "$OUT" --threads 1 | tee "$RAW/mem_ort.jsonl" >&2
"${TORCH_ENV[@]}" OPENBLAS_NUM_THREADS=1 "$PY" bench/peers/clip_torch.py mem --state-dict "$OUT/vitb32_torch.pt" |
    tee "$RAW/mem_torch.jsonl" >&2
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 6. environment and report
FL=$(grep -o 'image [0-9.]* G, text77 [0-9.]* G' "$RAW/clip_t${THREADS%% *}.md" | head -1)
isa=$(grep -q avx512f /proc/cpuinfo && echo "AVX-512" || { grep -q avx2 /proc/cpuinfo && echo "AVX2" || echo "no AVX2"; })
"$PY" - "$RAW/env.json" <<EOF
import json, sys
json.dump({
    "command": "bench/run_peers.sh (REPS=$REPS THREADS=\"$THREADS\" CORE=$CORE${CLIP_ENV:+ CLIP_ENV=\"$CLIP_ENV\"})",
    "clip_env": "${CLIP_ENV:-none} (OMP_WAIT_POLICY and GOMP_SPINCOUNT unset otherwise)",
    "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
    "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')",
    "nproc": "$(nproc)", "isa": "$isa",
    "mem": "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)",
    "kernel": "$(uname -r)", "threads": "$THREADS",
    "load_before": "$LOAD_BEFORE", "load_after": "$LOAD_AFTER",
    "flops_image_g": float("$(echo "$FL" | awk '{print $2}')" or 8.818),
    "flops_text_g": float("$(echo "$FL" | awk '{print $5}')" or 5.960),
    "clip_commit": "$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')",
    "cc": "$(${CC:-cc} --version | head -1)",
    "openblas": "$(dpkg-query -W -f='libopenblas0-pthread ${Version}' libopenblas0-pthread 2>/dev/null)",
    "openblas_core_requested": "OPENBLAS_CORETYPE=$CORE for clip.c and PyTorch (the core each really used is in its section above)",
    "torch": "$(dpkg-query -W -f='python3-torch ${Version}' python3-torch 2>/dev/null)",
    "numpy": "$(dpkg-query -W -f='python3-numpy ${Version}' python3-numpy 2>/dev/null)",
    "python": "$("$PY" --version 2>&1)",
    "node": "$(node --version)",
    "ort": "onnxruntime-node $(grep -m1 '"version"' "$ORT_PKG" | cut -d'"' -f4) (npm), ONNX opset 17 exported by torch",
    "caller_openblas_env": "${CALLER_OPENBLAS_ENV:-none} (overridden)",
    "malloc_env": "PyTorch ran with MALLOC_MMAP_THRESHOLD_=MALLOC_TRIM_THRESHOLD_=4000000000 (glibc keeps freed blocks)",
}, open(sys.argv[1], "w"), indent=1)
EOF
"$PY" bench/peers/combine.py "$RAW" > "$OUT/results.md.tmp" && mv "$OUT/results.md.tmp" "$OUT/results.md"
say "wrote $OUT/results.md"
cat "$OUT/results.md"
