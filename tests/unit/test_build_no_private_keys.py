"""No private key can reach a built tarball (issue 27): a tree holding a fleet CA where runs
leave one (beside an inventory, beside the playbooks, anywhere as *.key) builds into a
tarball with none of them, and no file in it holds a PEM private key."""
import os
import re
import shutil
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A PEM private key with a body (the example inventory's vault placeholder has none).
PRIVATE = re.compile(rb"-----BEGIN (?:[A-Z]+ )?(?:ENCRYPTED )?PRIVATE KEY-----\s*[A-Za-z0-9+/=\s]{40,}")
KEY = (b"-----BEGIN EC PRIVATE KEY-----\n" + b"MHcCAQEEIG0ktAnEd6Fh0Zq1lKdWXn3P2b9sJqH8cX7m0kE1d2pjoAoGCCqGSM49\n"
       b"-----END EC PRIVATE KEY-----\n")
PLANTED = ["playbooks/pki/lighttpd-edge-ca/ca.key", "inventories/example/pki/lighttpd-edge-ca/ca.key",
           "inventories/prod/pki/lighttpd-edge-ca/ca.key", "roles/lighttpd/files/edge.key",
           "pki/lighttpd-edge-ca/ca.key"]


def test_a_tree_holding_a_ca_builds_a_tarball_without_any_private_key(tmp_path):
    tree = tmp_path / "tree"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for name in files.decode().split("\0"):
        if name and os.path.isfile(os.path.join(ROOT, name)):
            os.makedirs(tree / os.path.dirname(name), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, name), tree / name)
    for name in PLANTED:
        os.makedirs(tree / os.path.dirname(name), exist_ok=True)
        (tree / name).write_bytes(KEY)
        (tree / os.path.dirname(name) / "ca.pem").write_text("public\n")
    out = tmp_path / "dist"
    galaxy = shutil.which("ansible-galaxy") or os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
    subprocess.run([galaxy, "collection", "build", "--output-path",
                    str(out), str(tree)], check=True, capture_output=True)
    (tarball,) = out.iterdir()
    with tarfile.open(tarball) as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        leaked = [m.name for m in members if m.isfile() and PRIVATE.search(tar.extractfile(m).read())]
    assert "roles/lighttpd/tasks/main.yml" in names  # the build did take the tree
    assert "CHANGELOG.rst" in names and "changelogs/changelog.yaml" in names  # the release notes ship
    assert not [n for n in names if n.endswith(".key") or "/pki/" in "/" + n + "/"], names
    assert leaked == [], leaked
