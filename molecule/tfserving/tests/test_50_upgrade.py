"""Changing tfserving_version upgrades the package from the repository and restarts once."""
import json
import time

import pytest

from conftest import host, run_playbook
from rollout_vars import ROLLED_OUT

TFS = "tfs1"
pytestmark = pytest.mark.units((TFS, "tfserving"))


def test_upgrade_to_a_newer_version():
    tfs = host(TFS)
    before = tfs.check_output("systemctl show -p MainPID --value tfserving")
    code, output = run_playbook("converge.yml", extra_vars=dict(ROLLED_OUT, tfserving_version="2.20.1"))
    assert code == 0, output[-3000:]
    assert "2.20.1-standin" in tfs.check_output("tensorflow_model_server --version")
    assert tfs.check_output("systemctl show -p MainPID --value tfserving") != before
    for _ in range(30):
        result = tfs.run("curl -sf -d '{\"instances\": [5.0]}' http://127.0.0.1:8501/v1/models/half_plus_two:predict")
        if result.rc == 0:
            break
        time.sleep(1)
    assert json.loads(result.stdout) == {"predictions": [4.5]}
