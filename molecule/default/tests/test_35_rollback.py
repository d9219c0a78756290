"""A roll-back of a model served under `latest`: TF Serving serves the version directories on
disk, so the role must remove the newer one it no longer declares, or the roll-back never
happens (before 0.7.0 the newer directory stayed among the kept ones, TF Serving kept serving
it, and the run failed waiting for the declared version)."""
import json
import os

import pytest

from conftest import changed_tasks, host, run_playbook

HOSTS = ("stack1", "stack2")
BASE = os.path.join(os.environ.get("MOLECULE_PROJECT_DIRECTORY", ""), "tests/models/half_plus_two_2_versions")
MODEL_DIR = "/var/lib/tfserving/models/half_plus_two"
pytestmark = pytest.mark.units(*[(name, "tfserving") for name in HOSTS])


def models(*versions, label):
    """half_plus_two under latest: 1 (the scenario's policy), VERSIONS declared, stable at LABEL."""
    return {"tfserving_models": [{
        "name": "half_plus_two", "version_policy": {"latest": 1}, "labels": {"stable": label},
        "versions": [{"version": v, "src": "%s/%08d" % (BASE, v)} for v in versions]}],
        # A roll-back that cannot happen fails the run within a minute, not the default three.
        "tfserving_wait_timeout": 60}


def available(name):
    """The versions TF Serving on NAME reports AVAILABLE, asked over its loopback."""
    out = host(name).check_output("curl -sf http://127.0.0.1:8501/v1/models/half_plus_two")
    return sorted(int(v["version"]) for v in json.loads(out)["model_version_status"] if v["state"] == "AVAILABLE")


def test_a_roll_back_under_latest_serves_the_declared_version_again():
    code, output = run_playbook("../../playbooks/deploy_models.yml", extra_vars=models(123, 124, label=124))
    assert code == 0, output[-3000:]
    assert {name: available(name) for name in HOSTS} == {name: [124] for name in HOSTS}

    # The roll-back: version 124 taken out of the list, the label back on 123.
    code, output = run_playbook("../../playbooks/deploy_models.yml", extra_vars=models(123, label=123))
    assert code == 0, output[-3000:]
    for name in HOSTS:
        assert available(name) == [123], name
        label = json.loads(host(name).check_output(
            "curl -sf http://127.0.0.1:8501/v1/models/half_plus_two/labels/stable"))
        assert label["model_version_status"][0]["version"] == "123"
        assert not host(name).file(MODEL_DIR + "/124").exists
        assert host(name).file(MODEL_DIR + "/123").is_directory
    # A second roll-back run changes nothing.
    code, output = run_playbook("../../playbooks/deploy_models.yml", extra_vars=models(123, label=123))
    assert code == 0, output[-3000:]
    assert changed_tasks(output) == []
