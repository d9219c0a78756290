#!/usr/bin/env bash
# make bench: (1) the serving path measured on one systemd container per Debian release
# (BENCH_RELEASES, default "debian12 debian13"; loopback only): the edge as the lighttpd role
# renders it, an nginx peer, the backend called directly; (2) provisioning of fleets of 1, 3 and
# 6 containers with site.yml (Debian 12). Writes .cache/bench/RELEASE/ (results.json,
# report.txt, serving.png, converge.log), .cache/bench/report.txt (both releases side by side),
# provisioning.json. Not part of make test.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=$root/.cache/bench
name=lts-bench
network=lts-bench
releases=${BENCH_RELEASES:-debian12 debian13}
mkdir -p "$out"
# The test harness's pipelining podman connection (molecule/shared/connection_plugins).
export ANSIBLE_CONNECTION_PLUGINS=$root/molecule/shared/connection_plugins
# Facts in memory only: every release's bench host is called lts-bench, and ansible.cfg's fact
# cache (gathering = smart) would hand the Debian 13 host the Debian 12 host's facts.
export ANSIBLE_CACHE_PLUGIN=memory
standin_deb=$(ls "$root"/.cache/standin-repo/pool/tensorflow-model-server_*_amd64.deb | tail -1)
podman network exists "$network" || podman network create "$network" >/dev/null
trap 'podman rm -f -t 5 "$name" >/dev/null 2>&1 || true' EXIT
start=$(date +%s)

serving() {  # release: one bench host of that release, converged, measured, removed
  local release=$1 override=BENCH_IMAGE_${1^^} state converged
  local image=${!override:-localhost/lts-$release-systemd} dir=$out/$release
  mkdir -p "$dir"
  podman rm -f -t 5 "$name" >/dev/null 2>&1 || true
  podman run -d --name "$name" --hostname "$name" --network "$network" --systemd always \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add SYS_NICE "$image" /sbin/init >/dev/null  # SYS_NICE: CPU pinning
  for _ in $(seq 60); do  # systemd in the container has booted
    state=$(podman exec "$name" systemctl is-system-running --wait 2>/dev/null || true)
    case "$state" in running|degraded) break ;; esac
    sleep 1
  done
  cat > "$dir/inventory.yml" <<EOF
all:
  hosts:
    $name:
      ansible_connection: lts_podman
      ansible_python_interpreter: /usr/bin/python3
  children:
    bench:
      hosts:
        $name:
EOF
  converged=$(date +%s)
  ansible-playbook -i "$dir/inventory.yml" tests/bench/bench.yml -e @tests/bench/edge-default.yml \
    -e "standin_deb=$standin_deb" > "$dir/converge.log"
  echo "$release bench host ($image) converged in $(( $(date +%s) - converged )) s (log: $dir/converge.log)"
  BENCH_STANDIN_DEB=$standin_deb "$root/.cache/bench-venv/bin/python" tests/bench/bench.py \
    --host "$name" --inventory "$dir/inventory.yml" --out "$dir" --release "$release"
  podman rm -f -t 5 "$name" >/dev/null 2>&1 || true
}

for release in $releases; do
  serving "$release"
done
"$root/.cache/bench-venv/bin/python" tests/bench/bench.py --combine "$out" $releases
# Part 2: provisioning, fleets of 1, 3 and 6 hosts (BENCH_FLEET_SIZES; empty: no part 2), on Debian 12.
if [ -n "${BENCH_FLEET_SIZES-1,3,6}" ]; then
  "$root/.cache/bench-venv/bin/python" tests/bench/provisioning.py --network "$network" \
    --image "${BENCH_IMAGE_DEBIAN12:-localhost/lts-debian12-systemd}" --out "$out"
fi
echo "make bench: $(( $(date +%s) - start )) s in all; $out/report.txt, RELEASE/results.json, provisioning.json, RELEASE/serving.png"
