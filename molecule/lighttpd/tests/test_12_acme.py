"""ACME: edge1's certificate comes from Pebble on proxy1 (pebble.yml) and the host renews it.

Everything here is the real flow: dehydrated registers an account with external account
binding, Pebble validates HTTP-01 against port 80 of edge1, and lighttpd-edge-acme.timer
(every 15 s in this scenario) renews when less than a third of the lifetime is left or when
renewal is forced. Pebble issues certificates valid `pebble_validity` seconds; the last test
shortens it to 90 s so that a renewal comes due while it watches, and restores it at the end.
"""
import re
import time

import pytest

from conftest import RequestLoop, host, run_playbook

EDGE, CLIENT, ACME = "edge1", "client1", "proxy1"
pytestmark = pytest.mark.units((EDGE, "lighttpd@edge"), (EDGE, "lighttpd-edge-acme"), (ACME, "pebble"))
ROOT = "/usr/local/share/pebble/root.pem"
STATE = "/var/lib/lighttpd-edge-acme"
METRICS = "/var/lib/prometheus/node-exporter/lighttpd_edge_certificate.prom"
LONG = 31536000


def served_serial():
    return host(CLIENT).check_output(
        "echo | timeout 10 openssl s_client -connect edge1:443 -servername edge1 2>/dev/null"
        " | openssl x509 -noout -serial").split("=")[1]


def verified_status():
    """Status of a request that verifies the edge's certificate against Pebble's root."""
    return host(CLIENT).check_output("curl -sS -o /dev/null -w %s --cacert %s https://edge1/index.html",
                                     "%{http_code}", ROOT)


def wait_for_new_serial(old, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        serial = served_serial()
        if serial != old:
            return serial
        time.sleep(2)
    raise AssertionError("the edge still serves %s after %d s" % (old, seconds))


def metric(name):
    match = re.search(r"^%s\{[^}]*\} (\d+)$" % name, host(EDGE).file(METRICS).content_string, re.M)
    return int(match.group(1)) if match else None


def main_pid():
    return host(EDGE).check_output("systemctl show -p MainPID --value lighttpd@edge")


def pebble(validity):
    """Re-run the Pebble fixture with certificates valid `validity` seconds (a new root)."""
    code, output = run_playbook("pebble.yml", extra_vars={"pebble_validity": validity})
    assert code == 0, output[-3000:]


def force_renewal():
    host(EDGE).check_output("touch %s/force-renewal", STATE)


@pytest.fixture(scope="module")
def short_lived():
    """Pebble issues 90-second certificates; afterwards a one-year certificate again."""
    pebble(90)
    old = served_serial()
    force_renewal()
    wait_for_new_serial(old, 60)
    yield
    pebble(LONG)
    old = served_serial()
    force_renewal()
    wait_for_new_serial(old, 60)


def test_the_edge_serves_a_certificate_from_the_acme_directory():
    assert verified_status() == "200"
    issuer = host(CLIENT).check_output(
        "echo | openssl s_client -connect edge1:443 -servername edge1 2>/dev/null | openssl x509 -noout -issuer")
    assert "Pebble Intermediate CA" in issuer
    # The account was registered with external account binding (Pebble requires it here).
    assert host(EDGE).run("ls %s/accounts/*/registration_info.json", STATE).rc == 0
    assert metric("lighttpd_edge_certificate_not_after_timestamp_seconds") > time.time()
    assert metric("lighttpd_edge_certificate_renewal_failures") == 0
    # Token-shaped challenge paths are served from the challenge directory (404: no such
    # token); other hidden paths stay refused, and other plain-HTTP paths still redirect.
    for url, expected in (("http://edge1/.well-known/acme-challenge/absent", "404"),
                          ("http://edge1/.well-known/acme-challenge/a.conf", "403"),
                          ("http://edge1/.well-known/other", "403"),
                          ("https://edge1/.hidden", "403"),
                          ("http://edge1/index.html", "308")):
        assert host(CLIENT).check_output("curl -sk -o /dev/null -w %s %s", "%{http_code}", url) == expected, url


def test_an_unreachable_directory_keeps_the_certificate_and_the_next_attempt_succeeds():
    before = served_serial()
    pebble_address = host(ACME).check_output("hostname -I").split()[0]
    host(EDGE).check_output(
        "nft add table inet acme_test && nft add chain inet acme_test out '{ type filter hook output priority 0; }'"
        " && nft add rule inet acme_test out ip daddr %s tcp dport 14000 reject" % pebble_address)
    try:
        since = host(EDGE).check_output("date +%s")
        force_renewal()
        deadline = time.time() + 45
        while time.time() < deadline and not (metric("lighttpd_edge_certificate_renewal_failures") or 0):
            time.sleep(2)
        assert metric("lighttpd_edge_certificate_renewal_failures") >= 1
        assert "the ACME renewal failed: the edge keeps its certificate" in host(EDGE).check_output(
            "journalctl -u lighttpd-edge-acme --since @%s --no-pager" % since)
        assert served_serial() == before
        assert verified_status() == "200"
    finally:
        host(EDGE).run("nft delete table inet acme_test")
    # The retry (10 s here) succeeds: a new certificate, the failure count back to 0.
    wait_for_new_serial(before, 60)
    assert metric("lighttpd_edge_certificate_renewal_failures") == 0
    assert not host(EDGE).file("%s/force-renewal" % STATE).exists
    assert verified_status() == "200"


def test_the_timer_renews_when_a_third_of_the_lifetime_is_left_without_failing_a_request(short_lived):
    pid, first = main_pid(), served_serial()
    assert verified_status() == "200"
    # 90-second certificates are due 60 s after issue; the loop verifies every response against
    # Pebble's root from before the renewal until 5 s after the new certificate is served.
    loop = RequestLoop(CLIENT, "https://edge1/index.html", count=600, interval=0.2, curl_args="--cacert %s" % ROOT)
    renewed = wait_for_new_serial(first, 90)
    time.sleep(5)
    loop.stop()
    codes = loop.results()
    assert renewed != first
    assert main_pid() == pid
    assert len(codes) >= 100 and set(codes) == {"200"}, {c: codes.count(c) for c in set(codes)}
    assert "less than 33% of its lifetime left" in host(EDGE).check_output(
        "journalctl -u lighttpd-edge-acme --since -3min --no-pager")
