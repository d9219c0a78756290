"""Switching to the modern profile reloads gracefully and refuses TLS 1.2."""
import pytest

from conftest import host, run_playbook

EDGE = "edge1"
pytestmark = pytest.mark.units((EDGE, "lighttpd@edge"))


def test_modern_profile_refuses_tls12_after_a_graceful_reload():
    pid = host(EDGE).check_output("systemctl show -p MainPID --value lighttpd@edge")
    code, output = run_playbook("converge.yml", extra_vars={"lighttpd_tls_profile": "modern"})
    assert code == 0, output[-2500:]
    client = host("client1")
    refused = client.run("echo | timeout 10 openssl s_client -connect edge1:443 -tls1_2 2>&1")
    assert refused.rc != 0 and "alert protocol version" in refused.stdout, refused.stdout
    assert client.run("echo | timeout 10 openssl s_client -connect edge1:443 -tls1_3 2>&1").rc == 0
    assert host(EDGE).check_output("systemctl show -p MainPID --value lighttpd@edge") == pid
