#!/usr/bin/env bash
# Offline checks of the data preparation scripts (scripts/data): grouping, split, captions and a
# tiny end-to-end build from tests/data/data/. No network. Needs Debian's python3 with PIL and
# numpy (scripts/data/deps.sh); prints SKIP and passes when they are absent.
set -u
PY=/usr/bin/python3
if ! [ -x "$PY" ] || ! "$PY" -c 'import PIL, numpy' 2>/dev/null; then
  echo "SKIP data_prepare: $PY with python3-pil and python3-numpy is not installed"; exit 0
fi
exec "$PY" tests/cli/data_prepare.py
