#!/usr/bin/env bash
# Puts the collection's dependencies at their declared minimum versions (galaxy.yml) into
# DEST/ansible_collections, from the `ansible` bundle on PyPI that carries that version (no
# Galaxy here): community.crypto 2.10.0 is in ansible 7.2.0. Usage: floor-collections.sh DEST
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dest=$1
bundle=7.2.0
floor=$(sed -n 's/^  community\.crypto: ">=\([0-9.]*\)"$/\1/p' "$root/galaxy.yml")
wheel=$root/.cache/compat/ansible-$bundle-py3-none-any.whl
if [ ! -f "$wheel" ]; then
  mkdir -p "$(dirname "$wheel")"
  python3 -m pip download --quiet --no-deps --only-binary :all: -d "$(dirname "$wheel")" "ansible==$bundle"
fi
rm -rf "$dest/ansible_collections/community/crypto"
mkdir -p "$dest"
python3 - "$wheel" "$dest" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    z.extractall(dest, [n for n in z.namelist() if n.startswith("ansible_collections/community/crypto/")])
PY
got=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["collection_info"]["version"])' \
  "$dest/ansible_collections/community/crypto/MANIFEST.json")
if [ "$got" != "$floor" ]; then
  echo "ansible $bundle carries community.crypto $got, galaxy.yml declares >=$floor: pick the bundle with $floor" >&2
  exit 1
fi
echo "community.crypto $got (the declared floor) in $dest"
