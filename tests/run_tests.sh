#!/usr/bin/env bash
# Runs every test program given, then every tests/cli/*.sh script; prints a summary.
# Tests run from the repo root so they find tests/data/.
set -u
BUILD=${BUILD:-build}
fail=0; n=0; failed=()
export CLIP_BIN="$PWD/$BUILD/clip" OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
for t in "$@" tests/cli/*.sh; do
  [ -e "$t" ] || continue
  n=$((n+1))
  start=$EPOCHREALTIME
  if [[ "$t" == *.sh ]]; then out=$(bash "$t" 2>&1); rc=$?; else out=$("$t" 2>&1); rc=$?; fi
  dt=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')
  if [ $rc -eq 0 ]; then printf 'PASS %-40s %6ss\n' "$(basename "$t")" "$dt"
  else printf 'FAIL %-40s (exit %d)\n%s\n' "$(basename "$t")" "$rc" "$out"; fail=$((fail+1)); failed+=("$t"); fi
done
echo "$((n-fail))/$n tests passed"
[ $fail -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }
