#!/usr/bin/env bash
# Prepares the emoji image-text data set (layout and sources: docs/data.md).
#   scripts/data/prepare.sh [--out DIR] [--vendors LIST] [--seed S] [--size N] [--tux-size N]
#                           [--skins] [--jobs N]
# DIR defaults to datasets/emoji. LIST is a comma list of styles out of
#   apple,google,twitter,facebook,openmoji,openmoji-black,fluent3d,tuxpaint (default: all);
# google or twitter must be among them (the training manifests use those two).
# Downloads are cached and verified in DIR/raw; a rerun reuses finished work. DIR/VERSION is
# written last: a data set without it is incomplete (a run failed or is still going).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "prepare: $*" >&2; exit 1; }
usage() { sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

out=datasets/emoji
styles=apple,google,twitter,facebook,openmoji,openmoji-black,fluent3d,tuxpaint
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --out) [ $# -ge 2 ] || { usage >&2; exit 2; }; out=$2; shift 2 ;;
    --vendors|--styles) [ $# -ge 2 ] || { usage >&2; exit 2; }; styles=$2; shift 2 ;;
    --seed|--size|--tux-size|--jobs) [ $# -ge 2 ] || { usage >&2; exit 2; }; extra+=("$1" "$2"); shift 2 ;;
    --skins) extra+=("$1"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "prepare: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

# Tools first, so a missing package fails before any download.
PY=/usr/bin/python3   # Debian's python: python3-pil and python3-numpy are installed for it
[ -x "$PY" ] || die "$PY is missing; run scripts/data/deps.sh as root"
"$PY" -c 'import PIL, numpy' 2>/dev/null || die "$PY lacks PIL or numpy (python3-pil, python3-numpy); run scripts/data/deps.sh as root"
sources=(emoji-datasource openmoji)
case ",$styles," in *,openmoji,*|*,openmoji-black,*|*,tuxpaint,*)
  command -v rsvg-convert >/dev/null || die "rsvg-convert is missing (librsvg2-bin); run scripts/data/deps.sh as root" ;; esac
case ",$styles," in *,fluent3d,*)
  "$PY" -c 'from PIL import features; assert features.check("webp")' 2>/dev/null || die "$PY's PIL cannot read WebP (needed for fluent3d)"
  sources+=(fluent-emoji-3d) ;; esac
case ",$styles," in *,tuxpaint,*) sources+=(tuxpaint-stamps) ;; esac
command -v sha256sum >/dev/null && command -v flock >/dev/null || die "sha256sum or flock is missing (coreutils, util-linux)"

mkdir -p "$out/raw"
# One prepare at a time per DIR.
exec 9>"$out/.lock"
flock -n 9 || die "another prepare is running on $out"

start=$(date +%s)
bash "$here/fetch.sh" "$out/raw" "${sources[@]}"
"$PY" "$here/build.py" --out "$out" --styles "$styles" "${extra[@]}"
echo "prepare: $out ready in $(( $(date +%s) - start )) s" >&2
