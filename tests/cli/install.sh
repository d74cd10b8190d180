#!/usr/bin/env bash
# `make install` into a temporary prefix, then build examples/zeroshot.c against the installed
# library with pkg-config and run it on a golden model and image.
set -eu
# The sanitizer pass builds an instrumented library that a plain program cannot load; the plain
# pass covers installation.
if [ "${BUILD:-build}" != build ]; then echo "skipped under ${BUILD}"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -s install PREFIX="$tmp" >/dev/null
export PKG_CONFIG_PATH="$tmp/lib/pkgconfig"
cc -std=c11 -Wall -Werror examples/zeroshot.c $(pkg-config --cflags --libs clip) -o "$tmp/zeroshot"
out=$(LD_LIBRARY_PATH="$tmp/lib" "$tmp/zeroshot" tests/data/golden/tiny-vit/model.safetensors \
      tests/data/image/golden/gradient.png "cat" "gradient" "checkerboard")
echo "$out"
[ "$(echo "$out" | wc -l)" -eq 3 ] || { echo "expected 3 lines"; exit 1; }
# the probabilities add up to 100%
echo "$out" | awk '{s += $1} END {if (s < 99.9 || s > 100.1) {print "sum " s; exit 1}}'
test -x "$tmp/bin/clip" && test -f "$tmp/include/clip.h" && test -f "$tmp/lib/libclip.a"
# the installed tool finds its data from any directory
(cd "$tmp" && ./bin/clip tokenize "hello world" | grep -q "^49406 3306 1002 49407$")
