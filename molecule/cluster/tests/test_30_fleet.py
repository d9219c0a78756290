"""Fleet wiring: one source of addresses, a firewall that survives nftables, growing the fleet."""
import os
import tempfile

import pytest

from conftest import RequestLoop, host, recap, run_playbook
from fleet_models import ROLLED_OUT

EDGE = "edge1"
EDGE_CONF = "/etc/lighttpd/instances/edge/lighttpd.conf"
pytestmark = pytest.mark.units((EDGE, "lighttpd@edge"), ("tfs1", "tfserving"), ("tfs1", "tfserving-firewall"))


def main_pid(name, unit="tfserving"):
    return host(name).check_output("systemctl show -p MainPID --value %s", unit)


def rest_from(client, server):
    """curl's exit code for TF Serving's REST port on SERVER, seen from CLIENT (7: refused)."""
    return host(client).run("curl -s -m 5 -o /dev/null http://%s:8501/v1/models/half_plus_two", server).rc


def test_limit_without_any_cached_fact_changes_nothing():
    """--limit edge1 with no facts of the model servers: same addresses, nothing changes."""
    before = host(EDGE).file(EDGE_CONF).sha256sum
    code, output = run_playbook("converge.yml", "--limit", EDGE, env={"ANSIBLE_CACHE_PLUGIN": "memory"})
    assert code == 0, output[-3000:]
    assert recap(output)[EDGE]["changed"] == 0, output[-3000:]
    assert host(EDGE).file(EDGE_CONF).sha256sum == before


def test_a_peer_fact_that_would_inject_config_fails_before_any_change():
    before = host(EDGE).file(EDGE_CONF).sha256sum
    code, output = run_playbook("poisoned_fact.yml", env={"ANSIBLE_CACHE_PLUGIN": "memory"})
    assert code != 0
    assert "host tfs1: the default IPv4 address in its facts must be an IP address" in output, output[-3000:]
    assert recap(output)[EDGE]["changed"] == 0
    assert host(EDGE).file(EDGE_CONF).sha256sum == before
    assert not host(EDGE).file("/tmp/pwned").exists


@pytest.mark.parametrize("action", ["start", "reload", "restart", "stop"])
def test_rest_stays_confined_through_nftables_service(action):
    """nftables.service flushes the whole ruleset on start, reload and stop."""
    host("tfs1").check_output("systemctl %s nftables.service", action)
    assert host("tfs1").run("nft list table inet tfserving").rc == 0
    assert rest_from("tfs3", "tfs1") == 7
    assert rest_from(EDGE, "tfs1") == 0


def test_an_untested_platform_is_refused_before_anything_changes():
    code, output = run_playbook("other_platform.yml", env={"ANSIBLE_CACHE_PLUGIN": "memory"})
    assert code != 0
    assert "The tfserving role supports Debian 12 (bookworm) and 13 (trixie)" in output, output[-3000:]
    assert "runs Ubuntu 24.04" in output
    assert recap(output)["tfs3"]["changed"] == 0
    assert not host("tfs3").file("/etc/tfserving").exists


def test_a_third_model_server_joins_without_restarting_the_others():
    pids = {name: main_pid(name) for name in ("tfs1", "tfs2")}
    edge_pid = main_pid(EDGE, "lighttpd@edge")
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as extra:
        extra.write("all:\n  children:\n    tfserving:\n      hosts:\n        tfs3: {}\n")
    try:
        loop = RequestLoop("tfs2", "https://edge1/v1/models/half_plus_two:predict", count=300, interval=0.02,
                           curl_args="-k -d '{\"instances\": [1.0]}'")
        code, output = run_playbook("converge.yml", "-i", extra.name, extra_vars=ROLLED_OUT)
        codes = loop.results()
    finally:
        os.unlink(extra.name)
    assert code == 0, output[-3000:]
    failed = [c for c in codes if c != "200"]
    print("tfs3 joined: %d requests, %d failed" % (len(codes), len(failed)))
    assert not failed
    assert {name: main_pid(name) for name in ("tfs1", "tfs2")} == pids
    assert main_pid(EDGE, "lighttpd@edge") == edge_pid
    tfs3 = host("tfs3").check_output("hostname -I").split()[0]
    assert '"host" => "%s"' % tfs3 in host(EDGE).file(EDGE_CONF).content_string
    urls = " ".join(["https://edge1/v1/models/half_plus_two:predict"] * 60)
    host("tfs2").check_output("curl -sfk -Z --parallel-max 6 -o /dev/null -d '{\"instances\": [1.0]}' %s" % urls)
    out = host("tfs3").check_output("curl -sf http://127.0.0.1:8501/monitoring/prometheus/metrics")
    assert 'request_count{model_name="half_plus_two",status="OK"}' in out


def test_tags_roll_models_without_touching_packages_or_units():
    code, output = run_playbook("converge.yml", "--tags", "tfserving_models", extra_vars=ROLLED_OUT)
    assert code == 0, output[-3000:]
    assert "Install the TF Serving package" not in output
    assert "Install the systemd unit" not in output
    assert "Write models.config" in output
    assert all(counts["changed"] == 0 for counts in recap(output).values()), output[-3000:]


def test_firewall_unit_starts_before_the_network_and_tf_serving():
    show = host("tfs1").check_output(
        "systemctl show -p DefaultDependencies -p Before -p WantedBy tfserving-firewall.service")
    assert "DefaultDependencies=no" in show
    assert "network-pre.target" in show and "tfserving.service" in show
    assert "sysinit.target" in show
    requires = host("tfs1").check_output("systemctl show -p Requires -p After tfserving.service")
    assert "tfserving-firewall.service" in requires
