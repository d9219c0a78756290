#!/usr/bin/env bash
# make compat: for every ansible-core minor of cores.txt, `ansible-test sanity` and the unit
# tests that depend on the core (not those marked core_independent: Lua, daemons, rules, which
# `make unit` runs once) with that core, each in its own virtual environment (.cache/core-VERSION).
# Prints one line per core with its time. Usage: run.sh [CORE...] (default: all of cores.txt).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=$root/.cache
python_for() {  # the interpreter for a Python X.Y: on PATH (a working one, not a pyenv shim), else pyenv's
  if "python$1" -c pass 2>/dev/null; then command -v "python$1"; return; fi
  ls -d /root/.pyenv/versions/"$1".*/bin/python 2>/dev/null | sort -V | tail -1 | grep . \
    || { echo "Python $1 not found (ansible-core $core needs it)" >&2; exit 1; }
}
prepare_only=false
if [ "${1:-}" = --prepare-only ]; then prepare_only=true; shift; fi  # only create the environments
wanted=("$@")
summary=()
while read -r core python; do
  case "$core" in ''|\#*) continue ;; esac
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " =~ " $core " ]]; then continue; fi
  start=$(date +%s)
  venv=$cache/core-$core
  if [ ! -x "$venv/bin/ansible-test" ] || [ "$here/requirements.txt" -nt "$venv/bin/ansible-test" ]; then
    rm -rf "$venv"
    "$(python_for "$python")" -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet "ansible-core==$core" -r "$here/requirements.txt"
    touch "$venv/bin/ansible-test"
  fi
  if $prepare_only; then continue; fi
  echo "== ansible-core $core (Python $python): ansible-test sanity"
  PATH=$venv/bin:$PATH "$root/tests/sanity/run.sh"
  echo "== ansible-core $core: unit tests"
  (cd "$root" && PATH=$venv/bin:$PATH PROMTOOL=${PROMTOOL:-} "$venv/bin/python" -m pytest -q -p no:cacheprovider -n "${UNIT_WORKERS:-4}" -m "not core_independent" tests/unit)
  summary+=("ansible-core $core: sanity and unit tests passed in $(( $(date +%s) - start )) s")
done < "$here/cores.txt"
[ ${#summary[@]} -eq 0 ] || printf '%s\n' "${summary[@]}"
