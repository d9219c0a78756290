"""tfserving_state=absent removes the service, package, repository and configuration; models stay."""
import pytest

from conftest import host, run_playbook
from rollout_vars import ROLLED_OUT

TFS = "tfs1"
pytestmark = pytest.mark.units((TFS, "tfserving"))


def test_absent_removes_everything_but_the_models():
    """Nothing but the state is needed: an empty model list is fine for a removal."""
    code, output = run_playbook("converge.yml", extra_vars={"tfserving_state": "absent", "tfserving_models": []})
    assert code == 0, output[-3000:]
    tfs = host(TFS)
    assert not tfs.service("tfserving").is_running
    assert not tfs.package("tensorflow-model-server").is_installed
    for path in ("/etc/systemd/system/tfserving.service", "/etc/tfserving",
                 "/etc/apt/sources.list.d/tensorflow-serving.sources"):
        assert not tfs.file(path).exists, path
    assert tfs.file("/var/lib/tfserving/models/half_plus_two/123/saved_model.pb").exists
    assert "tfserving" not in tfs.check_output("nft list tables")


def test_converging_again_undoes_the_removal():
    code, output = run_playbook("converge.yml", extra_vars=ROLLED_OUT)
    assert code == 0, output[-3000:]
    out = host(TFS).check_output("curl -sf -d '{\"instances\": [1.0]}' "
                                 "http://127.0.0.1:8501/v1/models/half_plus_two:predict")
    assert '"predictions"' in out
    assert "tfserving" in host(TFS).check_output("nft list tables")
