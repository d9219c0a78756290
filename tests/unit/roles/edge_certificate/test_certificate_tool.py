"""One renewal rule (issue 28): the host's certificate tool (roles/edge_certificate/files/
lighttpd-edge-cert, which renews ACME certificates) decides with certificates.py, the same
Python the renewal_reason filter runs on the controller. The tool is run here for real, with
its settings file, real certificates (openssl) and a stand-in dehydrated that only records
that it was asked."""
import datetime
import os
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings, strategies as st

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import certificates

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
TOOL = os.path.join(ROOT, "roles", "edge_certificate", "files", "lighttpd-edge-cert")
RULE = os.path.join(ROOT, "plugins", "plugin_utils", "certificates.py")
UTC = datetime.timezone.utc


def write_pair(directory, days_total, days_left, name="edge.example"):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=days_left - days_total))
            .not_valid_after(now + datetime.timedelta(days=days_left))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "fullchain.pem"), "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(directory, "privkey.pem"), "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def run_renew(tmp_path, days_total, days_left, share, rule=RULE):
    acme, tls, bin_dir = tmp_path / "acme", tmp_path / "tls", tmp_path / "bin"
    for directory in (acme, tls, bin_dir):
        directory.mkdir()
    live = acme / "certs" / "edge.example"
    write_pair(str(live), days_total, days_left)
    # The edge already serves this pair: a renewal that is not due changes nothing.
    (tls / "edge.pem").write_bytes((live / "fullchain.pem").read_bytes())
    (tls / "edge.key").write_bytes((live / "privkey.pem").read_bytes())
    dehydrated = bin_dir / "dehydrated"
    dehydrated.write_text("#!/bin/sh\necho asked >> %s/dehydrated.calls\nexit 1\n" % tmp_path)
    dehydrated.chmod(0o755)
    config = tmp_path / "edge-certificate.conf"
    config.write_text("\n".join([
        "tls_dir=%s" % tls, "server_name=edge.example", "trust=self-signed", "metrics_file=",
        "source=acme", "acme_dir=%s" % acme, "acme_config=%s/dehydrated.conf" % acme,
        "acme_names=edge.example", "renew_share=%s" % share, "rule=%s" % rule, ""]))
    env = dict(os.environ, LIGHTTPD_EDGE_CERT_CONFIG=str(config), PATH="%s:%s" % (bin_dir, os.environ["PATH"]))
    proc = subprocess.run(["sh", TOOL, "renew"], capture_output=True, text=True, env=env, timeout=60)
    asked = (tmp_path / "dehydrated.calls").exists()
    return proc, asked


@pytest.mark.parametrize("days_left, due", [(80, False), (31, False), (29, True), (1, True)])
def test_the_host_tool_renews_exactly_when_the_rule_says(tmp_path, days_left, due):
    proc, asked = run_renew(tmp_path, 90, days_left, 0.33)
    assert asked == due, proc.stdout + proc.stderr
    if due:
        # The stand-in dehydrated fails: the tool says why it renewed, keeps the pair, and fails.
        assert "renewing the edge certificate: less than 33% of its lifetime left" in proc.stdout
        assert proc.returncode == 1 and "the edge keeps its certificate" in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr


def test_a_broken_rule_keeps_the_certificate_and_counts_as_a_failed_renewal(tmp_path):
    proc, asked = run_renew(tmp_path, 90, 80, 0.33, rule=str(tmp_path / "missing.py"))
    assert proc.returncode == 1 and not asked, proc.stdout + proc.stderr
    assert "the renewal rule" in proc.stderr and "the edge keeps its certificate" in proc.stderr
    assert "failures=1" in (tmp_path / "acme" / "renewal.state").read_text()


@settings(max_examples=60, deadline=None)
@given(total=st.integers(1, 4000), left=st.integers(-100, 4000), share=st.floats(0.01, 0.99))
def test_the_command_line_rule_is_the_rule_the_filter_uses(total, left, share):
    now = int(datetime.datetime.now(UTC).timestamp())
    not_before, not_after = now - (total - left) * 3600, now + left * 3600
    proc = subprocess.run(["python3", RULE, "lifetime-reason", str(not_before), str(not_after), repr(share)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    leaf = {"not_before": datetime.datetime.fromtimestamp(not_before, UTC).strftime("%Y%m%d%H%M%SZ"),
            "not_after": datetime.datetime.fromtimestamp(not_after, UTC).strftime("%Y%m%d%H%M%SZ"),
            "public_key": "K", "subject_alt_name": []}
    expected = certificates.renewal_reason(leaf, [], "K", remaining_share=share)
    # Both decide at nearly the same instant; a case within a second of the threshold may differ.
    if abs(left * 3600 - share * total * 3600) > 5:
        assert bool(proc.stdout.strip()) == bool(expected), (proc.stdout, expected)


def test_bad_arguments_are_refused():
    proc = subprocess.run(["python3", RULE, "lifetime-reason", "x", "1", "0.3"], capture_output=True, text=True)
    assert proc.returncode == 2 and "certificates.py:" in proc.stderr
    proc = subprocess.run(["python3", RULE], capture_output=True, text=True)
    assert proc.returncode == 2 and "usage" in proc.stderr
