#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection laid out as
# ansible_collections/lighttpd_tensorflow/serving (ansible-test needs that layout and a git tree).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# ansible-test fetches pip's bootstrap from outside PyPI; give it one built on ensurepip.
# The pip versions the ansible-test on PATH bootstraps (one per supported Python range).
test_python=$(dirname "$(command -v ansible-test)")/python
pip_versions=$("$test_python" - <<'PY'
import os, re, ansible_test
text = open(os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")).read()
print(" ".join(sorted(set(re.findall(r"pip='([0-9.]+)'", text)))))
PY
)
mkdir -p ~/.ansible/test/cache
for pip_version in $pip_versions; do
  cp "$here/get_pip.py" ~/.ansible/test/cache/get_pip_${pip_version//./_}.py
done
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/lighttpd_tensorflow/serving"
mkdir -p "$dest"
tar -C "$root" --exclude=./.venv --exclude=./.cache --exclude=./.git --exclude=./.ansible -cf - . | tar -C "$dest" -xf -
cd "$dest"
git init -q && git add -A >/dev/null
python_version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
ansible-test sanity --venv --python "$python_version" --color no \
  --exclude tests/ --exclude molecule/ \
  "$@"
