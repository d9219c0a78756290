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
