#!/usr/bin/env bash
# make bench: (1) the serving path measured on one systemd container (loopback only): the edge
# as the lighttpd role renders it, an nginx peer, the backend called directly; (2) provisioning
# of fleets of 1, 3 and 6 containers with site.yml. Writes .cache/bench/results.json,
# provisioning.json, report.txt and serving.png. Not part of make test.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=$root/.cache/bench
name=lts-bench
network=lts-bench
image=${BENCH_IMAGE:-localhost/lts-debian12-systemd}
mkdir -p "$out"

podman rm -f -t 5 "$name" >/dev/null 2>&1 || true
podman network exists "$network" || podman network create "$network" >/dev/null
podman run -d --name "$name" --hostname "$name" --network "$network" --systemd always \
  --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add SYS_NICE "$image" /sbin/init >/dev/null  # SYS_NICE: CPU pinning
trap 'podman rm -f -t 5 "$name" >/dev/null 2>&1 || true' EXIT
for _ in $(seq 60); do  # systemd in the container has booted
  state=$(podman exec "$name" systemctl is-system-running --wait 2>/dev/null || true)
  case "$state" in running|degraded) break ;; esac
  sleep 1
done

cat > "$out/inventory.yml" <<EOF
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
# The test harness's pipelining podman connection (molecule/shared/connection_plugins).
export ANSIBLE_CONNECTION_PLUGINS=$root/molecule/shared/connection_plugins
start=$(date +%s)
standin_deb=$(ls "$root"/.cache/standin-repo/pool/tensorflow-model-server_*_amd64.deb | tail -1)
ansible-playbook -i "$out/inventory.yml" tests/bench/bench.yml -e @tests/bench/edge-default.yml \
  -e "standin_deb=$standin_deb" > "$out/converge.log"
echo "bench host converged in $(( $(date +%s) - start )) s (log: $out/converge.log)"
BENCH_STANDIN_DEB=$standin_deb "$root/.cache/bench-venv/bin/python" tests/bench/bench.py --host "$name" --inventory "$out/inventory.yml" --out "$out"
podman rm -f -t 5 "$name" >/dev/null 2>&1 || true
# Part 2: provisioning, fleets of 1, 3 and 6 hosts (BENCH_FLEET_SIZES).
"$root/.cache/bench-venv/bin/python" tests/bench/provisioning.py --network "$network" --image "$image" --out "$out"
echo "make bench: $(( $(date +%s) - start )) s in all; $out/report.txt, results.json, provisioning.json, serving.png"
