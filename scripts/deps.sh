#!/usr/bin/env bash
# Installs the Debian packages clip.c builds and tests with. `make` runs this when
# build/.deps is missing or older than this file. With --check it only reports.
set -euo pipefail
PKGS=(
  gcc make pkg-config            # the compiler and build driver
  libopenblas-dev                # tuned BLAS behind the one matmul entry point
  libutf8proc-dev                # Unicode categories, case mapping, NFC for the tokenizer
  libjpeg62-turbo-dev libpng-dev libwebp-dev   # image decoders
  zlib1g-dev                     # gzip: the BPE merges file
  libcjson-dev                   # JSON: safetensors headers, config.json, HF vocab
  libsqlite3-dev                 # image search index
  clang libclang-rt-14-dev       # libFuzzer targets and sanitizers in CI
)
# `make mpi` adds Open MPI (only that build needs it).
[ "${1:-}" = "--mpi" ] && { PKGS+=(libopenmpi-dev openmpi-bin); shift; }
missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$st" == *"install ok installed"* ]] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "${1:-}" = "--check" ]; then echo "missing Debian packages: ${missing[*]}"; exit 1; fi
echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "deps: these Debian packages are missing and I am not root: ${missing[*]}" >&2
  echo "deps: run as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
  $SUDO apt-get update >&2 || true
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >&2 || {
    echo "deps: apt-get could not install: ${missing[*]} (no network or no Debian mirror?)" >&2; exit 1; }
fi
