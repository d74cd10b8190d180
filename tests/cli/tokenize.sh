#!/usr/bin/env bash
# clip tokenize as SPEC.md fixes it: ids SOT..EOT per text or stdin line, -o OUT.npy [N, N_CTX]
# int32, too long = exit 1 unless --truncate, usage errors = exit 2; and --decode.
# Expected ids are rows of tests/data/golden/tokens.npy (OpenAI's clip.tokenize).
set -u
C=${CLIP_BIN:-build/clip}
fail=0
expect() { if [ "$2" != "$3" ]; then echo "FAIL $1: got '$2' want '$3'"; fail=1; fi; }
expect "args" "$($C tokenize "a photo of a cat" "It's a photo: 2 dogs playing in the snow 🐕")" \
"49406 320 1125 539 320 2368 49407
49406 585 568 320 1125 281 273 3255 1629 530 518 2583 41069 49407"
expect "stdin" "$(printf 'a photo of a cat\n\nA yellow and blue CHECKERBOARD!\n' | $C tokenize)" \
"49406 320 1125 539 320 2368 49407
49406 49407
49406 320 4481 537 1746 1113 2352 1972 256 49407"
long=$(printf 'a %.0s' $(seq 100))
$C tokenize "$long" >/dev/null 2>/tmp/tok_err.$$; expect "too long rc" "$?" "1"
expect "too long msg" "$(head -c 30 /tmp/tok_err.$$)" "clip tokenize: argument 1: tex"
out=$($C tokenize --truncate "$long"); set -- $out
expect "truncate count" "$#" "77"; expect "truncate last" "${77}" "49407"
expect "context" "$($C tokenize --context 5 --truncate "$long")" "49406 320 320 320 49407"
npy=/tmp/tok_$$.npy
$C tokenize -o "$npy" "a photo of a cat" "x" >/tmp/tok_out.$$; expect "-o rc" "$?" "0"
expect "-o prints nothing" "$(cat /tmp/tok_out.$$)" ""
expect "-o size" "$(stat -c %s "$npy")" "$((128 + 2 * 77 * 4))"
expect "-o header" "$(head -c 128 "$npy" | tr -d '\0' | grep -o "'descr': '<i4'.*(2, 77)")" "'descr': '<i4', 'fortran_order': False, 'shape': (2, 77)"
$C tokenize --context 0 x >/dev/null 2>&1; expect "bad context rc" "$?" "2"
$C tokenize --nope >/dev/null 2>&1; expect "unknown option rc" "$?" "2"
$C tokenize --help >/dev/null; expect "help rc" "$?" "0"
printf 'ok\n\xff\n' | $C tokenize >/dev/null 2>&1; expect "bad utf-8 rc" "$?" "1"
expect "decode" "$($C tokenize --decode "49406 320 1125 539 320 2368 49407")" "<|startoftext|>a photo of a cat <|endoftext|>"
$C tokenize --decode "12 x" >/dev/null 2>&1; expect "decode bad rc" "$?" "1"
rm -f "$npy" /tmp/tok_err.$$ /tmp/tok_out.$$
exit $fail
