#!/usr/bin/env bash
# Build the systemd test-host images locally from Debian's archive (no container registry).
# Usage: tests/images/build.sh RELEASE...   (RELEASE: bookworm or trixie)
# An image is tagged with a hash of its recipe and rebuilt only when the recipe changes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
recipe_hash=$(cat "$here/Containerfile" "$here/build.sh" | sha256sum | cut -c1-12)

for release in "$@"; do
  case "$release" in
    bookworm) num=12 ;;
    trixie) num=13 ;;
    *) echo "unknown release '$release' (allowed: bookworm, trixie)" >&2; exit 2 ;;
  esac
  image="localhost/lts-debian${num}-systemd"
  if podman image exists "$image:$recipe_hash"; then
    echo "image $image:$recipe_hash is up to date"
    podman tag "$image:$recipe_hash" "$image:latest"
    continue
  fi
  base="localhost/lts-debian${num}-base"
  if ! podman image exists "$base:latest"; then
    rootfs=$(mktemp -d)
    echo "debootstrap $release into $rootfs"
    debootstrap --variant=minbase "$release" "$rootfs" "$mirror" >/dev/null
    tar -C "$rootfs" -c . | podman import - "$base:latest" >/dev/null
    rm -rf "$rootfs"
  fi
  podman build --quiet --build-arg "BASE=$base:latest" -t "$image:$recipe_hash" -t "$image:latest" \
    -f "$here/Containerfile" "$here"
done
