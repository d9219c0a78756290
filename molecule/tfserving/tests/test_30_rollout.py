"""Rolling out version 124 beside 123 while requests run: none fails, no restart."""
import json

import pytest

from conftest import RequestLoop, host, run_playbook
from rollout_vars import ROLLED_OUT

TFS = "tfs1"
pytestmark = pytest.mark.units((TFS, "tfserving"))


def main_pid():
    return host(TFS).check_output("systemctl show -p MainPID --value tfserving")


def test_rollout_without_failed_requests_or_restart():
    before = main_pid()
    loop = RequestLoop(TFS, "http://127.0.0.1:8501/v1/models/half_plus_two:predict", count=300,
                       interval=0.03, curl_args="-d '{\"instances\": [1.0]}'")
    code, output = run_playbook("converge.yml", extra_vars=ROLLED_OUT)
    assert code == 0, output[-3000:]
    codes = loop.results()
    failed = [c for c in codes if c != "200"]
    print("roll-out: %d requests, %d failed" % (len(codes), len(failed)))
    assert len(codes) == 300 and not failed, failed
    assert main_pid() == before
    out = host(TFS).check_output("curl -sf http://127.0.0.1:8501/v1/models/half_plus_two/labels/canary")
    assert [(s["version"], s["state"]) for s in json.loads(out)["model_version_status"]] == [("124", "AVAILABLE")]
    out = host(TFS).check_output(
        "curl -sf -d '{\"instances\": [1.0]}' http://127.0.0.1:8501/v1/models/half_plus_two/labels/canary:predict")
    assert json.loads(out) == {"predictions": [2.5]}
    assert host(TFS).file("/var/lib/tfserving/models/half_plus_two/124/saved_model.pb").exists
