"""TLS as a client on the network sees it (openssl s_client and curl from client1)."""
import re

import pytest

from conftest import host

EDGE, CLIENT = "edge1", "client1"
pytestmark = pytest.mark.units((EDGE, "lighttpd@edge"))
INTERMEDIATE_TLS12 = {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                      "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"}
MOZILLA_TLS13 = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}


def handshake(args):
    """Run one handshake from the client host; return (succeeded, output)."""
    result = host(CLIENT).run("echo | timeout 10 openssl s_client -connect edge1:443 -servername edge1 %s 2>&1" % args)
    cipher = re.search(r"Cipher is (\S+)", result.stdout)
    return bool(cipher and cipher.group(1) != "(NONE)") and result.rc == 0, result.stdout


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_old_protocols_are_refused(version):
    # SECLEVEL=0 so the client really offers them; the refusal is the server's.
    ok, out = handshake(version + " -cipher DEFAULT@SECLEVEL=0")
    assert not ok, out
    assert "alert protocol version" in out or "no protocols available" in out, out


def test_only_the_profiles_tls12_suites_negotiate():
    offered = host(CLIENT).check_output("openssl ciphers -s -tls1_2 'ALL:@SECLEVEL=0'").split(":")
    accepted = {c for c in offered if handshake("-tls1_2 -cipher '%s:@SECLEVEL=0'" % c)[0]}
    print("TLS 1.2 suites accepted: %s" % sorted(accepted))
    assert accepted, "TLS 1.2 must work under the intermediate profile"
    assert accepted <= INTERMEDIATE_TLS12, accepted - INTERMEDIATE_TLS12


def test_only_the_profiles_tls13_suites_negotiate():
    suites = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
              "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"]
    accepted = {s for s in suites if handshake("-tls1_3 -ciphersuites %s" % s)[0]}
    assert accepted == MOZILLA_TLS13


@pytest.mark.parametrize("version", ["--tlsv1.2 --tls-max 1.2", "--tlsv1.3"])
def test_no_session_ticket_is_issued(version):
    out = host(CLIENT).check_output("curl -skv -o /dev/null %s https://edge1/ 2>&1" % version)
    assert "SSL connection using TLSv1." in out
    assert "Newsession Ticket" not in out, out


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_no_session_resumption_by_default(version):
    out = host(CLIENT).run("echo | timeout 20 openssl s_client -connect edge1:443 %s -reconnect 2>&1" % version).stdout
    assert out.count("New, TLS") >= 5, out[-1500:]
    assert "Reused, TLS" not in out
    assert "TLS session ticket lifetime hint" not in out


def test_http2_hsts_and_security_headers():
    out = host(CLIENT).check_output("curl -sk --http2 -D- -o /dev/null -w 'version=%{http_version}' https://edge1/")
    headers = out.lower()
    assert "version=2" in out
    assert "strict-transport-security: max-age=63072000; includesubdomains" in headers
    for name in ("x-content-type-options: nosniff", "x-frame-options: deny", "referrer-policy: no-referrer",
                 "content-security-policy:"):
        assert name in headers, name
    assert "\nserver:" not in headers  # server tag hidden


def test_plain_http_only_redirects():
    out = host(CLIENT).check_output("curl -s -D- -o /dev/null 'http://edge1/v1/models/m:predict?x=1'")
    assert out.startswith("HTTP/1.1 308")
    assert "Location: https://edge1/v1/models/m:predict?x=1" in out


def test_redirect_goes_to_the_configured_name_not_the_client_host_header():
    out = host(CLIENT).check_output("curl -s -D- -o /dev/null -H 'Host: evil.example' 'http://edge1/login?x=1'")
    assert out.startswith("HTTP/1.1 308")
    assert "Location: https://edge1/login?x=1" in out
    assert "evil.example" not in out


def test_h2c_upgrade_is_off():
    out = host(CLIENT).check_output("curl -s --http2 -o /dev/null -w '%{http_version}' http://edge1/")
    assert out == "1.1"
