"""Instances are reconciled and touched only when they change; a bad certificate never lands."""
import datetime
import re
import shlex
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import host, run_playbook

EDGE, CLIENT = "edge1", "client1"
pytestmark = pytest.mark.units((EDGE, "lighttpd@edge"), (EDGE, "lighttpd@static"), (EDGE, "lighttpd@extra1"))
EXTRA = {"name": "extra1", "listen": ["127.0.0.1:8181"],
         "config": 'server.bind = "127.0.0.1"\nserver.port = 8181\n'}


def main_pid(instance):
    return host(EDGE).check_output("systemctl show -p MainPID --value lighttpd@%s", instance)


def status(on, url):
    return host(on).check_output("curl -sk -o /dev/null -w %s %s", "%{http_code}", url)


def served_fingerprint():
    return host(CLIENT).check_output(
        "openssl s_client -connect edge1:443 -servername edge1 </dev/null 2>/dev/null"
        " | openssl x509 -noout -fingerprint -sha256")


def converge(**extra_vars):
    code, output = run_playbook("converge.yml", extra_vars=extra_vars)
    return code, output


# The scenario's edge gets its certificate by ACME with Pebble's root as trust anchor; the
# supplied pairs here are self-signed or from a test CA, checked on their own.
SUPPLIED = {"edge_certificate_chain_ca_file": ""}


# On demand (make test-all): about 3.5 min of converges; make test keeps the reconciliation of the
# default instances (the scenario's converge and idempotence).
@pytest.mark.on_demand
def test_an_extra_instance_is_added_without_touching_the_others_then_removed():
    before = {name: main_pid(name) for name in ("edge", "static")}
    code, output = converge(lighttpd_extra_instances=[EXTRA])
    assert code == 0, output[-3000:]
    assert status(EDGE, "http://127.0.0.1:8181/index.html") == "200"
    assert host(EDGE).check_output("systemctl is-active lighttpd@extra1.socket") == "active"
    assert {name: main_pid(name) for name in ("edge", "static")} == before

    code, output = converge(lighttpd_extra_instances=[], lighttpd_static_enabled=False)
    assert code == 0, output[-3000:]
    for unit in ("lighttpd@extra1.service", "lighttpd@extra1.socket", "lighttpd@static.service", "lighttpd@static.socket"):
        assert host(EDGE).run("systemctl is-active %s", unit).stdout.strip() == "inactive", unit
    for path in ("/etc/lighttpd/instances/extra1", "/etc/systemd/system/lighttpd@extra1.socket",
                 "/etc/systemd/system/lighttpd@static.service.d", "/etc/logrotate.d/lighttpd-static"):
        assert not host(EDGE).file(path).exists, path
    assert host(EDGE).run("ss -ltn | grep -q ':8181 '").rc != 0
    # The edge reloaded (its static route is gone): same process.
    assert main_pid("edge") == before["edge"]

    # Back to the scenario's instances, with a change to the static instance's configuration
    # only: the static instance comes back with it, and the edge keeps its process.
    edge = main_pid("edge")
    code, output = converge(lighttpd_extra_config={"static": "# changed by test_70"})
    assert code == 0, output[-3000:]
    assert "# changed by test_70" in host(EDGE).file("/etc/lighttpd/instances/static/lighttpd.conf").content_string
    assert main_pid("edge") == edge
    assert status(CLIENT, "https://edge1/index.html") == "200"


def _pem_pair(name="edge1", issuer_key=None):
    """A self-signed pair naming `name`, or a leaf signed by `issuer_key` (a CA the edge does not know)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unknown test CA")]) if issuer_key else subject
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .not_valid_after(now + datetime.timedelta(days=30)).sign(issuer_key or key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def test_a_certificate_that_does_not_match_its_key_is_refused_and_the_edge_keeps_serving():
    pid, fingerprint = main_pid("edge"), served_fingerprint()
    cert, _ = _pem_pair()
    _, other_key = _pem_pair()
    code, output = converge(edge_certificate_source="content",
                            edge_certificate_cert_content=cert, edge_certificate_key_content=other_key, **SUPPLIED)
    assert code != 0
    assert re.search(r"The edge certificate was not installed: \S+ does not belong to \S+ .*edge_certificate_cert_content", output), \
        output[-3000:]
    assert main_pid("edge") == pid
    assert served_fingerprint() == fingerprint
    assert status(CLIENT, "https://edge1/index.html") == "200"


def put(path, content):
    host(EDGE).check_output("mkdir -p %s && printf '%%s' %s > %s.tmp && mv %s.tmp %s" % (
        path.rsplit("/", 1)[0], shlex.quote(content), path, path, path))


def fingerprint_of(cert):
    return x509.load_pem_x509_certificate(cert.encode()).fingerprint(hashes.SHA256()).hex().upper()


def served_is(cert, seconds=15):
    for _ in range(seconds * 2):
        if served_fingerprint().split("=")[1].replace(":", "") == fingerprint_of(cert):
            return True
        time.sleep(0.5)
    return False


def test_a_renewed_certificate_file_reaches_the_edge_without_a_playbook_run():
    cert, key = _pem_pair()
    put("/etc/ssl/edge-test/edge.key", key)
    put("/etc/ssl/edge-test/edge.pem", cert)
    code, output = converge(edge_certificate_source="files", edge_certificate_cert_file="/etc/ssl/edge-test/edge.pem",
                            edge_certificate_key_file="/etc/ssl/edge-test/edge.key", **SUPPLIED)
    assert code == 0, output[-3000:]
    assert served_is(cert, 5)
    pid = main_pid("edge")
    # A renewal tool rewrites both files: the edge serves the new certificate, same process.
    renewed, renewed_key = _pem_pair()
    put("/etc/ssl/edge-test/edge.key", renewed_key)
    put("/etc/ssl/edge-test/edge.pem", renewed)
    assert served_is(renewed), host(EDGE).run("journalctl -u lighttpd-edge-certificate --no-pager -n 20").stdout
    assert main_pid("edge") == pid
    # A certificate whose key is not there is refused, visibly; the edge keeps its certificate.
    stray, _ = _pem_pair()
    put("/etc/ssl/edge-test/edge.pem", stray)
    for _ in range(20):
        if host(EDGE).run("systemctl is-failed lighttpd-edge-certificate.service").stdout.strip() == "failed":
            break
        time.sleep(0.5)
    assert host(EDGE).run("systemctl is-failed lighttpd-edge-certificate.service").stdout.strip() == "failed"
    assert "does not belong" in host(EDGE).check_output("journalctl -u lighttpd-edge-certificate --no-pager -n 20")
    assert served_is(renewed, 1) and main_pid("edge") == pid
    # A pair for another name, and a leaf whose chain does not build: refused the same way.
    for (cert, key), reason in ((_pem_pair("other.example.org"), "does not name the server name edge1"),
                                (_pem_pair(issuer_key=ec.generate_private_key(ec.SECP256R1())), "chain does not build")):
        host(EDGE).run("systemctl reset-failed lighttpd-edge-certificate.service")
        put("/etc/ssl/edge-test/edge.key", key)
        put("/etc/ssl/edge-test/edge.pem", cert)
        for _ in range(20):
            if reason in host(EDGE).check_output("journalctl -u lighttpd-edge-certificate --no-pager -n 5"):
                break
            time.sleep(0.5)
        assert reason in host(EDGE).check_output("journalctl -u lighttpd-edge-certificate --no-pager -n 5")
        assert served_is(renewed, 1) and main_pid("edge") == pid
    assert status(CLIENT, "https://edge1/index.html") == "200"


def test_a_matching_certificate_lands_with_a_reload():
    pid = main_pid("edge")
    cert, key = _pem_pair()
    code, output = converge(edge_certificate_source="content",
                            edge_certificate_cert_content=cert, edge_certificate_key_content=key, **SUPPLIED)
    assert code == 0, output[-3000:]
    expected = x509.load_pem_x509_certificate(cert.encode()).fingerprint(hashes.SHA256()).hex().upper()
    assert served_fingerprint().split("=")[1].replace(":", "") == expected
    assert main_pid("edge") == pid
