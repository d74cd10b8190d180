#!/usr/bin/env bash
# Fetches pinned inputs (scripts/data/sources.tsv) into RAW and unpacks each into RAW/<name>/.
#   scripts/data/fetch.sh RAW NAME...
# A file already in RAW with the pinned sha256 is reused without the network. Downloads go to a
# temporary directory and are renamed into place only after their sha256 matches; unpacking goes
# to RAW/.<name>.tmp and is renamed to RAW/<name> at the end, with a stamp naming the archive's
# sha256. So an interrupted run leaves nothing that a rerun would trust, and a rerun resumes.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "fetch: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: fetch.sh RAW NAME..."
raw=$1; shift
mkdir -p "$raw"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# The parts of the Tux Paint deb we use: 7858 .ogg sounds (most of its 161 MB) stay packed.
unpack_deb() {  # deb dir
  dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards \
    './usr/share/tuxpaint/stamps/*.png' './usr/share/tuxpaint/stamps/*.svg' \
    './usr/share/tuxpaint/stamps/*.txt' './usr/share/doc/tuxpaint-stamps-default/copyright'
}

fetch_one() {  # name kind spec file sha256 bytes
  local name=$1 kind=$2 spec=$3 file=$4 want=$5 bytes=$6 dst="$raw/$4" tmp got
  if [ -f "$dst" ] && [ "$(sha_of "$dst")" != "$want" ]; then
    echo "fetch: $dst has the wrong sha256; fetching it again" >&2
    rm -f "$dst"
  fi
  if [ ! -f "$dst" ]; then
    tmp=$(mktemp -d "$raw/.dl.XXXXXX")
    echo "fetch: $spec ($bytes bytes)" >&2
    case $kind in
      npm)
        command -v npm >/dev/null || { rm -rf "$tmp"; die "npm is missing; run scripts/data/deps.sh as root"; }
        if ! (cd "$tmp" && npm pack "$spec" --loglevel=error >/dev/null 2>npm.err); then
          sed "s/^/  /" "$tmp/npm.err" | head -4 >&2; rm -rf "$tmp"
          die "npm pack $spec failed (no network, or the npm registry is unreachable?)"
        fi ;;
      deb)
        command -v apt-get >/dev/null || { rm -rf "$tmp"; die "apt-get is missing: $spec needs a Debian system"; }
        if ! (cd "$tmp" && apt-get download "$spec" >/dev/null 2>apt.err); then
          grep -v '^W: Download is performed unsandboxed' "$tmp/apt.err" | sed 's/^/  apt: /' | tail -5 >&2; rm -rf "$tmp"
          die "apt-get download $spec failed (no network, no Debian mirror, or that version left the mirror; run apt-get update, or put $file into $raw by hand)"
        fi ;;
      *) rm -rf "$tmp"; die "sources.tsv: unknown kind '$kind' for $name" ;;
    esac
    [ -f "$tmp/$file" ] || { ls "$tmp" >&2; rm -rf "$tmp"; die "$spec did not produce $file"; }
    got=$(sha_of "$tmp/$file")
    if [ "$got" != "$want" ]; then
      rm -rf "$tmp"
      die "$file: sha256 $got, pinned $want: refusing it (see scripts/data/sources.tsv)"
    fi
    mv -f "$tmp/$file" "$dst"
    rm -rf "$tmp"
  fi
  # Unpack once per archive checksum.
  if [ -f "$raw/$name/.unpacked" ] && [ "$(cat "$raw/$name/.unpacked")" = "$want" ]; then return 0; fi
  echo "fetch: unpacking $file" >&2
  rm -rf "$raw/.$name.tmp" "$raw/$name"
  mkdir -p "$raw/.$name.tmp"
  case $kind in
    npm) tar -xzf "$dst" -C "$raw/.$name.tmp" --strip-components=1 ;;  # drop the package/ prefix
    deb) command -v dpkg-deb >/dev/null || die "dpkg-deb is missing: $file needs a Debian system"
         unpack_deb "$dst" "$raw/.$name.tmp" ;;
  esac
  echo "$want" > "$raw/.$name.tmp/.unpacked"
  mv "$raw/.$name.tmp" "$raw/$name"
}

for want_name in "$@"; do
  row=$(awk -F'\t' -v n="$want_name" '!/^#/ && $1 == n' "$here/sources.tsv")
  [ -n "$row" ] || die "no source named '$want_name' in scripts/data/sources.tsv"
  IFS=$'\t' read -r name kind spec file sha bytes _lic <<<"$row"
  fetch_one "$name" "$kind" "$spec" "$file" "$sha" "$bytes"
done
