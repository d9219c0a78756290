"""TF Serving installed from the signed apt repository, sandboxed, and confined."""
import json
import re

import pytest

from conftest import host

TFS = "tfs1"
pytestmark = pytest.mark.units((TFS, "tfserving"))
PREDICT = "http://127.0.0.1:8501/v1/models/half_plus_two:predict"


def test_installed_from_the_signed_repository():
    tfs = host(TFS)
    sources = tfs.file("/etc/apt/sources.list.d/tensorflow-serving.sources").content_string
    assert "URIs: http://outsider:8080" in sources
    assert re.search(r"^Signed-By: /etc/apt/keyrings/\S+", sources, re.M), sources
    policy = tfs.check_output("apt-cache policy tensorflow-model-server")
    assert "*** 2.20.0~standin1" in policy, policy
    assert "outsider:8080" in policy
    assert "stand-in" in tfs.check_output("tensorflow_model_server --version")
    # The hold keeps the pinned version even though 2.20.1 is in the repository.
    assert "2.20.1~standin1" in policy


def test_runs_as_its_own_user_without_a_shell():
    tfs = host(TFS)
    user = tfs.user("tfserving")
    assert user.exists and user.shell == "/usr/sbin/nologin"
    pid = tfs.check_output("systemctl show -p MainPID --value tfserving")
    assert tfs.check_output("ps -o user= -p %s", pid) == "tfserving"
    assert tfs.file("/etc/tfserving").mode == 0o750
    assert tfs.file("/etc/tfserving/models.config").group == "tfserving"
    assert tfs.file("/var/lib/tfserving/models").user == "tfserving"


@pytest.mark.parametrize("prop, value", [
    ("NoNewPrivileges", "yes"),
    ("ProtectSystem", "strict"),
    ("ProtectHome", "yes"),
    ("PrivateTmp", "yes"),
    ("PrivateDevices", "yes"),
    ("CapabilityBoundingSet", ""),
    ("Restart", "on-failure"),
    ("LimitNOFILE", "65536"),
])
def test_unit_is_sandboxed(prop, value):
    assert host(TFS).check_output("systemctl show -p %s --value tfserving", prop) == value


def test_address_families_are_restricted():
    families = host(TFS).check_output("systemctl show -p RestrictAddressFamilies --value tfserving")
    assert set(families.split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}


def test_systemd_exposure_score_is_low():
    out = host(TFS).check_output("systemd-analyze security tfserving.service --no-pager")
    score = float(re.search(r"Overall exposure level for tfserving.service: ([\d.]+)", out).group(1))
    print("systemd-analyze security exposure: %.1f" % score)
    assert score <= 2.0, out


def test_grpc_on_a_unix_socket_only():
    tfs = host(TFS)
    assert tfs.socket("unix:///run/tfserving/grpc.sock").is_listening
    assert not tfs.socket("tcp://0.0.0.0:8500").is_listening


def test_predict_on_loopback():
    out = host(TFS).check_output(
        "curl -sf -d '{\"instances\": [1.0, 2.0, 5.0]}' %s", PREDICT)
    assert json.loads(out) == {"predictions": [2.5, 3.0, 4.5]}


def test_label_and_version_status():
    out = host(TFS).check_output("curl -sf http://127.0.0.1:8501/v1/models/half_plus_two/labels/stable")
    status = json.loads(out)["model_version_status"]
    assert [(s["version"], s["state"]) for s in status] == [("123", "AVAILABLE")]


def test_rest_port_refused_from_a_host_outside_the_edge_group():
    result = host("outsider").run("curl -sS -m 5 http://tfs1:8501/v1/models/half_plus_two")
    assert result.rc == 7, (result.rc, result.stdout, result.stderr)  # connection refused


def test_metrics_on_loopback():
    out = host(TFS).check_output("curl -sf http://127.0.0.1:8501/monitoring/prometheus/metrics")
    assert ":tensorflow:serving:request_count" in out


def test_tuning_values_come_from_the_filters():
    """Batching and REST threads follow the host's CPU count (tfserving_batching/threads filters)."""
    tfs = host(TFS)
    cpus = int(tfs.check_output("nproc"))
    batching = tfs.file("/etc/tfserving/batching.config").content_string
    assert "num_batch_threads {\n  value: %d\n}" % cpus in batching
    assert "max_enqueued_batches {\n  value: %d\n}" % cpus in batching
    assert "allowed_batch_sizes: 32" in batching
    unit = tfs.file("/etc/systemd/system/tfserving.service").content_string
    assert "--rest_api_num_threads=%d " % (4 * cpus) in unit
