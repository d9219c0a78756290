"""A broken extra snippet fails the play with lighttpd's own error; the edge keeps serving."""
import pytest

from conftest import RequestLoop, host, run_playbook

EDGE = "edge1"
pytestmark = pytest.mark.units((EDGE, "lighttpd@edge"))


def test_broken_snippet_is_refused_and_the_edge_keeps_serving():
    edge = host(EDGE)
    pid = edge.check_output("systemctl show -p MainPID --value lighttpd@edge")
    conf = edge.check_output("sha256sum /etc/lighttpd/instances/edge/lighttpd.conf")
    loop = RequestLoop("client1", "https://edge1/index.html", count=100, interval=0.05, curl_args="-k")
    code, output = run_playbook("converge.yml", extra_vars={"lighttpd_extra_config": {"edge": 'server.tag = "x'}})
    assert code != 0
    assert "configfile.c" in output or "source: " in output, output[-2500:]  # lighttpd's own parser message
    codes = loop.results()
    assert codes == ["200"] * 100, [c for c in codes if c != "200"]
    assert edge.check_output("systemctl show -p MainPID --value lighttpd@edge") == pid
    assert edge.check_output("sha256sum /etc/lighttpd/instances/edge/lighttpd.conf") == conf
