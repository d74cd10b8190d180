#!/usr/bin/env bash
# Builds each libFuzzer target with clang (ASan+UBSan) and runs it for FUZZ_SECONDS.
# A target's seed corpus, if any, lives in fuzz/corpus/<name>/.
set -eu
BUILD=${BUILD:-build-fuzz}; SECS=${FUZZ_SECONDS:-20}
mkdir -p "$BUILD"
SRC=$(find src -name '*.c' | sort)
CF="-std=c11 -g -O1 -D_GNU_SOURCE -Iinclude -Isrc -I/usr/include/x86_64-linux-gnu/openblas-pthread -fopenmp -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
LIBS="-lopenblas -lutf8proc -ljpeg -lpng -lwebp -lcjson -lsqlite3 -lz -lm -lpthread"
for f in "$@"; do
  name=$(basename "$f" .c)
  echo "fuzz: building $name"
  clang $CF -o "$BUILD/$name" "$f" $SRC $LIBS
  corpus="$BUILD/corpus-$name"; mkdir -p "$corpus"
  [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$corpus/"
  echo "fuzz: running $name for ${SECS}s"
  "$BUILD/$name" -max_total_time="$SECS" -rss_limit_mb=2048 -max_len=65536 "$corpus" 2>&1 | tail -n 3
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz: $name found a failure"; exit 1; }
done
