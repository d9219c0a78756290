#!/usr/bin/env bash
# Install podman and what it needs on a Debian host when missing, and write a project-local
# containers.conf (used through CONTAINERS_CONF; the machine's own files are never edited).
set -euo pipefail
conf=${1:?usage: setup.sh OUTPUT_CONF}
pkgs="podman runc debootstrap iptables slirp4netns netavark aardvark-dns uidmap dpkg-dev apt-utils gnupg openssl"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# Limits read off this machine, so the same harness works on a laptop: hard nofile and pid_max.
nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=1048576
nproc=$(cat /proc/sys/kernel/pid_max)
# crun refuses hybrid cgroups; cgroupfs because systemd may not be PID 1 on the machine.
mkdir -p "$(dirname "$conf")"
cat > "$conf.tmp" <<CONF
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
[network]
network_backend = "netavark"
CONF
mv "$conf.tmp" "$conf"
# A run stopped hard (a CI timeout, a killed session) or containers removed with another
# network backend leave aardvark-dns serving names of containers that are gone, on a network
# address that no longer exists: a scenario's next network then gets no name service (HAProxy:
# "could not resolve address 'edge1'"). Drop the name tables of networks without a running
# container; netavark writes them again when one starts.
dns_dir=/run/containers/networks/aardvark-dns
if [ -d "$dns_dir" ]; then
  for table in "$dns_dir"/*; do
    name=$(basename "$table")
    case "$name" in aardvark.pid|aardvark.lock|'*') continue ;; esac
    if [ -z "$(CONTAINERS_CONF=$conf podman ps -q --filter "network=$name" 2>/dev/null)" ]; then
      echo "removing the stale name table of network $name"
      rm -f "$table"
      CONTAINERS_CONF=$conf podman network rm -f "$name" >/dev/null 2>&1 || true
    fi
  done
  if ! ls "$dns_dir" | grep -qv '^aardvark\.\(pid\|lock\)$' && [ -f "$dns_dir/aardvark.pid" ]; then
    kill "$(cat "$dns_dir/aardvark.pid")" 2>/dev/null || true
    rm -f "$dns_dir/aardvark.pid"
  fi
fi
