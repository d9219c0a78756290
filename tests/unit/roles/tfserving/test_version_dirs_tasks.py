"""roles/tfserving/tasks/roll_back.yml and prune.yml on real directories (on the controller).

A roll-back under the default policy (latest: 1) left the newer version's directory on disk:
TF Serving kept serving it and the role's wait for the declared version failed on every run
(seen on the cluster's re-converge after its roll-out tests). Before this change the role had no
roll_back.yml and its prune kept the newest 3 directories, the rolled-back one among them.
"""
import json
import os
import subprocess
import sys

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "versions")
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", "..", ".."))


def run(tmp_path, models, check=False):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    extra = json.dumps({"tfserving_models": models, "tfserving_model_versions_keep": 2})
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                           os.path.join(HERE, "remove.yml"), "-e", extra] + (["--check"] if check else []),
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc.stdout


def left(path):
    return sorted(int(name) for name in os.listdir(path))


def make(base, versions):
    for version in versions:
        (base / str(version)).mkdir(parents=True)


def test_a_roll_back_removes_the_newer_versions_and_prune_keeps_the_newest(tmp_path):
    # One run for three models (each ansible-playbook run costs seconds, on every core of make compat):
    # h under the default latest: 1, a under all, s under specific (TF Serving loads only 1 of it).
    declared = [{"version": 122, "src": "/nowhere"}, {"version": 123, "src": "/nowhere"}]
    models = [{"name": "h", "base_path": str(tmp_path / "h"), "versions": declared},
              {"name": "a", "base_path": str(tmp_path / "a"), "version_policy": "all", "versions": declared},
              {"name": "s", "base_path": str(tmp_path / "s"), "version_policy": {"specific": [1]},
               "versions": [{"version": 1, "src": "/nowhere"}]}]
    make(tmp_path / "h", (120, 121, 122, 123, 124))
    make(tmp_path / "a", (121, 122, 123, 124, 125))
    make(tmp_path / "s", (1, 2, 3))
    out = run(tmp_path, models, check=True)
    assert left(tmp_path / "h") == [120, 121, 122, 123, 124], out[-2000:]
    run(tmp_path, models)
    assert left(tmp_path / "h") == [122, 123]
    assert left(tmp_path / "a") == [122, 123]
    # keep 2: the newest two of s stay beside its specific version 1.
    assert left(tmp_path / "s") == [1, 2, 3]
    assert "changed=0" in run(tmp_path, models)
