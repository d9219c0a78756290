#!/usr/bin/env bash
# The collection as users get it: build the tarball, install it with ansible-galaxy into an
# empty path next to its dependencies at their floor versions, check the playbooks against
# that path alone, and let ansible-builder find the collection's EE requirements
# (meta/execution-environment.yml) and create a build context from execution-environment.yml.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$root"
ansible-galaxy collection build --force --output-path "$work" . >/dev/null
tarball=$(ls "$work"/lighttpd_tensorflow-serving-*.tar.gz)
"$here/floor-collections.sh" "$work/clean"
# Only that path: not this clone's ansible.cfg, not the collections of the `ansible` package.
touch "$work/empty.cfg"
export ANSIBLE_COLLECTIONS_PATH=$work/clean ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false ANSIBLE_CONFIG=$work/empty.cfg
cd "$work"
# --offline: the dependency is already in the path; nothing may come from anywhere else.
ansible-galaxy collection install --offline -p "$work/clean" "$tarball" 2>&1 | grep -v "^Starting\|^Process"
ansible-galaxy collection list -p "$work/clean" 2>/dev/null | grep -E "lighttpd_tensorflow.serving|community.crypto"
for playbook in site deploy_models rolling_restart; do
  ansible-playbook -i localhost, "lighttpd_tensorflow.serving.$playbook" --syntax-check >"$work/out" 2>&1 \
    || { cat "$work/out" >&2; exit 1; }
  echo "lighttpd_tensorflow.serving.$playbook: syntax check passed with only $work/clean"
done
introspect=$(ansible-builder introspect --sanitize "$work/clean")
echo "$introspect" | grep -q "cryptography" \
  || { echo "ansible-builder did not find meta/ee-requirements.txt in the installed collection:" >&2; echo "$introspect" >&2; exit 1; }
echo "ansible-builder introspect: cryptography from lighttpd_tensorflow.serving"
ansible-builder create -f "$root/execution-environment.yml" -c "$work/context" >/dev/null
test -f "$work/context/Containerfile"
echo "ansible-builder create: build context with $(grep -c . "$work/context/Containerfile") Containerfile lines"
