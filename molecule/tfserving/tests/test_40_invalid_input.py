"""Invalid variables fail at the start of the role, name the variable, and touch nothing."""
import pytest

from conftest import host, run_playbook

TFS = "tfs1"
pytestmark = pytest.mark.units((TFS, "tfserving"))
MODEL = {"name": "half_plus_two", "versions": []}


def state():
    tfs = host(TFS)
    return (tfs.check_output("systemctl show -p MainPID --value tfserving"),
            tfs.check_output("sha256sum /etc/tfserving/models.config /etc/systemd/system/tfserving.service"))


@pytest.mark.parametrize("extra_vars, named", [
    ({"tfserving_models": [dict(MODEL, name='bad"name\nx')]}, "tfserving_models"),
    ({"tfserving_models": [dict(MODEL, version_policy={"newest": 1})]}, "version_policy"),
    ({"tfserving_rest_port": 70000}, "tfserving_rest_port"),
    ({"tfserving_rest_port": "http"}, "tfserving_rest_port"),
    ({"tfserving_extra_flags": {"rest_api_bind": "127.0.0.1"}}, "tfserving_extra_flags"),
], ids=["model-name-with-quote", "unknown-policy", "port-out-of-range", "port-not-a-number", "unknown-flag"])
def test_invalid_variable_fails_early_and_changes_nothing(extra_vars, named):
    before = state()
    code, output = run_playbook("converge.yml", extra_vars=extra_vars)
    assert code != 0, output[-2000:]
    assert named in output, output[-2000:]
    assert "changed=0" in output, output[-2000:]
    assert state() == before
    assert host(TFS).run("curl -sf http://127.0.0.1:8501/v1/models/half_plus_two").rc == 0
