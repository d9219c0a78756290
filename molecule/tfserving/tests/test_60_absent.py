"""tfserving_state=absent removes the service, package, repository and configuration; models stay."""
import pytest

from conftest import host, run_playbook

TFS = "tfs1"
pytestmark = pytest.mark.units((TFS, "tfserving"))


def test_absent_removes_everything_but_the_models():
    code, output = run_playbook("converge.yml", extra_vars={"tfserving_state": "absent"})
    assert code == 0, output[-3000:]
    tfs = host(TFS)
    assert not tfs.service("tfserving").is_running
    assert not tfs.package("tensorflow-model-server").is_installed
    for path in ("/etc/systemd/system/tfserving.service", "/etc/tfserving",
                 "/etc/apt/sources.list.d/tensorflow-serving.sources"):
        assert not tfs.file(path).exists, path
    assert tfs.file("/var/lib/tfserving/models/half_plus_two/123/saved_model.pb").exists
    assert "tfserving" not in tfs.check_output("nft list tables")
