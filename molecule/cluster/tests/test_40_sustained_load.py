"""Sustained load to remote backends: lighttpd opens a new backend connection per proxied
request, and one the edge closes first keeps its local port 60 s in TIME_WAIT. The role sets
net.ipv4.tcp_tw_reuse=1 and a sized port range for remote backends (lighttpd_kernel_settings
filter). One client on mon1 drives the edge for 90 s over the test hosts' network: 0 errors with
the role's settings; with the kernel default (tcp_tw_reuse=2, loopback only) the same load runs
out of local ports. The scenario narrows the range to 2,048 ports so that the exhaustion point
is below what this 2-core test bed offers (docs/performance.md, "Sustained load")."""
import re

import pytest

from conftest import host

EDGE = "edge1"
CLIENT = "mon1"
SYSCTL_FILE = "/etc/sysctl.d/60-lighttpd-edge.conf"
ERROR_LOG = "/var/log/lighttpd-edge/error.log"
URL = "https://edge1:443/v1/models/half_plus_two"  # wrk needs the port: the test hosts lack /etc/services
pytestmark = pytest.mark.units((EDGE, "lighttpd@edge"), ("tfs1", "tfserving"))


def live(name):
    return host(EDGE).check_output("sysctl -n %s", name).split()


def wrk(seconds):
    """wrk from mon1 (16 keep-alive connections): (requests, errors, output); errors are non-2xx
    answers plus wrk's socket errors (connect, read, write, timeout)."""
    out = host(CLIENT).check_output("wrk -t1 -c16 -d%ss %s", seconds, URL)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket:
        errors += sum(int(n) for n in socket.groups())
    return requests, errors, out


def port_errors():
    """connect() failures for want of a local port in the edge's error log."""
    return int(host(EDGE).run("grep -c 'Cannot assign requested address' %s", ERROR_LOG).stdout.strip() or 0)


def test_the_role_sets_what_remote_backends_need():
    conf = host(EDGE).file(SYSCTL_FILE)
    assert conf.mode == 0o644
    assert "net.ipv4.tcp_tw_reuse = 1" in conf.content_string
    assert "net.ipv4.ip_local_port_range = 40000 42047" in conf.content_string
    assert live("net.ipv4.tcp_tw_reuse") == ["1"]
    assert live("net.ipv4.ip_local_port_range") == ["40000", "42047"]
    # Model servers proxy nothing: no settings there.
    assert not host("tfs1").file(SYSCTL_FILE).exists


def test_the_edge_sustains_load_that_exhausts_the_kernel_defaults():
    host(CLIENT).check_output("DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk")
    # Without the role's settings (the kernel default: reuse on loopback only), same range.
    host(EDGE).check_output("sysctl -w net.ipv4.tcp_tw_reuse=2")
    try:
        before = port_errors()
        requests, errors, out = wrk(60)
        exhausted = port_errors() - before
        default_rate = (requests - errors) / 60.0
    finally:
        host(EDGE).check_output("sysctl --quiet --load %s", SYSCTL_FILE)
    print("kernel default: %d requests in 60 s, %d errors, %d connects without a local port\n%s"
          % (requests, errors, exhausted, out))
    assert errors > 0 and exhausted > 0, out
    assert live("net.ipv4.tcp_tw_reuse") == ["1"]

    # With the role's settings: the same load for 90 s, not one error.
    before = port_errors()
    requests, errors, out = wrk(90)
    print("role's settings: %d requests in 90 s (%.0f/s), %d errors\n%s" % (requests, requests / 90.0, errors, out))
    assert errors == 0, out
    assert port_errors() == before
    # At least the load under which the defaults failed.
    assert requests / 90.0 >= default_rate
