#!/usr/bin/env bash
# The whole-stack `default` scenario on the oldest supported ansible-core (first line of
# cores.txt) with the collection's dependencies at their declared minimum versions
# (floor-collections.sh) and nothing else on the collections path but the test harness's
# containers.podman (Molecule's podman driver and molecule/shared/connection_plugins).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=$root/.cache
core=$(awk '!/^#/ && NF {print $1; exit}' "$here/cores.txt")
python=$(awk '!/^#/ && NF {print $2; exit}' "$here/cores.txt")
venv=$cache/core-$core
"$here/run.sh" --prepare-only "$core"
if [ ! -x "$venv/bin/molecule" ] || [ "$here/molecule-requirements.txt" -nt "$venv/bin/molecule" ]; then
  "$venv/bin/pip" install --quiet -r "$here/molecule-requirements.txt" "ansible-core==$core"
  touch "$venv/bin/molecule"
fi
floor=$cache/compat/floor
"$here/floor-collections.sh" "$floor"
# Test harness only (never a dependency of the collection): the podman connection and driver.
harness=$(python3 - "$root" <<'PY'
import glob, sys
print(sorted(glob.glob(sys.argv[1] + "/.venv/lib/python3*/site-packages/ansible_collections/containers/podman"))[-1])
PY
)
rm -rf "$floor/ansible_collections/containers/podman"
mkdir -p "$floor/ansible_collections/containers"
cp -a "$harness" "$floor/ansible_collections/containers/podman"
"$venv/bin/ansible" --version | head -1
ANSIBLE_COLLECTIONS_PATH=$floor:$cache/collections ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false \
  "$venv/bin/ansible-galaxy" collection list 2>/dev/null | grep -E "^(community|containers|lighttpd_tensorflow)\."
start=$(date +%s)
cd "$root"
PATH=$venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$floor:$cache/collections ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false \
  MOLECULE_IMAGE=${MOLECULE_IMAGE_DEBIAN12:-localhost/lts-debian12-systemd} \
  MOLECULE_CLIENT_IMAGE=${MOLECULE_IMAGE_DEBIAN13:-localhost/lts-debian13-systemd} \
  molecule test -s default
echo "=== molecule default on ansible-core $core (Python $python) with community.crypto at its floor passed in $(( $(date +%s) - start )) s"
