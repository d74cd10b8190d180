#!/usr/bin/env bash
# Installs the Debian packages that data preparation needs (run as root):
#   python3-pil python3-numpy   pixels, for Debian's /usr/bin/python3 (not a pyenv python)
#   librsvg2-bin                rsvg-convert: OpenMoji and Tux Paint SVGs
#   npm (pulls nodejs)          `npm pack` of the pinned emoji packages
# apt-get, dpkg-deb, sha256sum, tar and flock are part of every Debian system.
# With --check it only reports what is missing (exit 1 if anything is).
set -euo pipefail
PKGS=(python3 python3-pil python3-numpy librsvg2-bin)
missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$st" == *"install ok installed"* ]] || missing+=("$p")
done
# npm may come from elsewhere (nodesource, nvm); only install Debian's when none is on PATH.
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "${1:-}" = "--check" ]; then echo "data deps: missing: ${missing[*]} (run scripts/data/deps.sh as root)"; exit 1; fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "data deps: missing Debian packages: ${missing[*]}, and I am not root" >&2
  echo "data deps: run as root: apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "data deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
  $SUDO apt-get update >&2 || true
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >&2 || {
    echo "data deps: apt-get could not install: ${missing[*]} (no network or no Debian mirror?)" >&2; exit 1; }
fi
