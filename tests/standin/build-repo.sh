#!/usr/bin/env bash
# Build the TF Serving TEST STAND-IN as `tensorflow-model-server` .deb packages (two versions,
# for upgrade tests) and publish them in a local apt repository laid out like the official
# one (suite `stable`, components tensorflow-model-server and tensorflow-model-server-universal),
# signed with a key generated here. The Molecule scenarios serve OUTDIR over HTTP on the test
# network and point the tfserving role at it; only the repository URL and key differ from
# the official install path. Rebuilt when the stand-in's sources change.
# Usage: build-repo.sh OUTDIR
set -euo pipefail
out=${1:?usage: build-repo.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
versions="2.20.0~standin1 2.20.1~standin1"
sources=("$here/tensorflow_model_server.py" "$here/build-repo.sh"
         "$root/plugins/plugin_utils/textproto.py" "$root/tests/models/half_plus_two_cpu_metadata.json")
stamp=$(cat "${sources[@]}" | sha256sum | cut -c1-16)
# The Molecule, demo and bench prepare step copies the repository as one tarball ($out.tar): one
# file to compare instead of one per file of the tree. The files keep their times: apt asks with
# If-Modified-Since, and a file older than its cached copy would never be fetched again.
pack() { tar --sort=name --owner=0 --group=0 --numeric-owner --exclude=./.stamp -C "$out" -cf "$out.tar.tmp" . \
           && mv "$out.tar.tmp" "$out.tar"; }
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ]; then
  [ -f "$out.tar" ] || pack
  echo "stand-in repository $out is up to date"
  exit 0
fi
rm -rf "$out" "$out.tar"; mkdir -p "$out/pool"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

for version in $versions; do
  pkg="$work/pkg-$version"
  lib="$pkg/usr/lib/tensorflow-model-server-standin"
  mkdir -p "$pkg/DEBIAN" "$pkg/usr/bin" "$lib" "$pkg/usr/share/doc/tensorflow-model-server"
  sed "s/@VERSION@/${version%%~*}/" "$here/tensorflow_model_server.py" > "$pkg/usr/bin/tensorflow_model_server"
  chmod 0755 "$pkg/usr/bin/tensorflow_model_server"
  cp "$root/plugins/plugin_utils/textproto.py" "$lib/textproto.py"
  cp "$root/tests/models/half_plus_two_cpu_metadata.json" "$lib/half_plus_two_metadata.json"
  # The test models it evaluates: sha256 of saved_model.pb and the offset b of y = 0.5 x + b.
  { sha256sum "$root"/tests/models/half_plus_two_*/*/saved_model.pb | sed 's/ .*/ 2/'
    sha256sum "$root"/tests/models/half_plus_three/*/saved_model.pb | sed 's/ .*/ 3/'; } | sort -u > "$lib/models.sha256"
  echo "TEST STAND-IN for tensorflow_model_server built by lighttpd_tensorflow.serving's tests." \
    > "$pkg/usr/share/doc/tensorflow-model-server/README.standin"
  cat > "$pkg/DEBIAN/control" <<CTRL
Package: tensorflow-model-server
Version: $version
Architecture: amd64
Maintainer: lighttpd_tensorflow.serving tests <noreply@localhost>
Depends: python3
Conflicts: tensorflow-model-server-universal
Section: misc
Priority: optional
Description: TEST STAND-IN for TensorFlow Serving (not TensorFlow Serving)
 A protocol-compatible stand-in for tensorflow_model_server, used only by the
 lighttpd_tensorflow.serving Molecule scenarios. It evaluates only the
 half_plus_two and half_plus_three test models.
CTRL
  dpkg-deb --root-owner-group -Zgzip --build "$pkg" "$out/pool/tensorflow-model-server_${version}_amd64.deb" >/dev/null
done

cd "$out"
for component in tensorflow-model-server tensorflow-model-server-universal; do
  dir="dists/stable/$component/binary-amd64"
  mkdir -p "$dir"
  if [ "$component" = tensorflow-model-server ]; then
    dpkg-scanpackages --multiversion pool /dev/null > "$dir/Packages" 2>/dev/null
  else
    : > "$dir/Packages"
  fi
  gzip -9kn "$dir/Packages"
done
apt-ftparchive \
  -o APT::FTPArchive::Release::Origin=standin -o APT::FTPArchive::Release::Label=standin \
  -o APT::FTPArchive::Release::Suite=stable -o APT::FTPArchive::Release::Codename=stable \
  -o APT::FTPArchive::Release::Architectures=amd64 \
  -o "APT::FTPArchive::Release::Components=tensorflow-model-server tensorflow-model-server-universal" \
  release dists/stable > "$work/Release"
mv "$work/Release" dists/stable/Release

export GNUPGHOME="$work/gnupg"; mkdir -m 700 "$GNUPGHOME"
# A test key made for this build (only the test hosts trust it), without an expiry date: a key
# that expired would break `make demo` on a fleet and a .cache kept from an earlier day (apt
# refuses the repository), and the stamp above does not count days.
gpg --batch --quiet --passphrase '' --quick-generate-key "standin-repo <noreply@localhost>" ed25519 sign never
gpg --batch --quiet --yes --clearsign -o dists/stable/InRelease dists/stable/Release
gpg --batch --quiet --yes -abs -o dists/stable/Release.gpg dists/stable/Release
gpg --batch --quiet --export > tensorflow-serving.release.pub.gpg
# The stamp last: a build or pack that was interrupted is redone by the next run.
pack
echo "$stamp" > .stamp
echo "stand-in repository built in $out: $(ls pool)"
