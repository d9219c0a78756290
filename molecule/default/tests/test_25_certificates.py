"""internal_ca, the default certificate source: the fleet CA on the controller, a leaf per edge.

The CA lives in the scenario's ephemeral directory (edge_certificate_ca_dir in molecule.yml), as
it would in a project directory on a real controller.
"""
import datetime
import os
import re
import stat
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from conftest import changed_tasks, EPHEMERAL_DIR, host, run_playbook

EDGES, CLIENT = ("stack1", "stack2"), "client1"
pytestmark = pytest.mark.units(("stack1", "lighttpd@edge"), ("stack2", "lighttpd@edge"))
CA_DIR = os.path.join(EPHEMERAL_DIR, "pki", "lighttpd-edge-ca")
LEAF = "/etc/lighttpd/tls/edge.pem"
SSLYZE = os.path.join(os.path.dirname(__file__), "..", "..", "..", ".cache", "sslyze", "bin", "sslyze")


def ca_certificate():
    with open(os.path.join(CA_DIR, "ca.pem"), "rb") as handle:
        return x509.load_pem_x509_certificate(handle.read())


def leaf(on):
    return x509.load_pem_x509_certificate(host(on).file(LEAF).content)


def tls_converge(on):
    """A converge of the edge's certificate tasks on one host (the role's lighttpd_tls tag)."""
    code, output = run_playbook("converge.yml", "--tags", "lighttpd_tls", "--limit", on)
    assert code == 0, output[-3000:]
    return output


def served_serial_becomes(on, serial, seconds=10):
    """Whether the edge serves the leaf SERIAL within SECONDS: after a graceful reload, the old
    process may still answer a connection made in the next instant."""
    deadline = time.time() + seconds
    while served_serial(on) != serial:
        if time.time() > deadline:
            return False
        time.sleep(0.5)
    return True


def served_serial(on):
    return int(host(CLIENT).check_output(
        "echo | timeout 10 openssl s_client -connect %s:443 -servername %s 2>/dev/null | openssl x509 -noout -serial"
        % (on, on)).split("=")[1], 16)


def test_the_ca_key_is_private_and_the_ca_signs_only_leaves():
    assert stat.S_IMODE(os.stat(CA_DIR).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(CA_DIR, "ca.key")).st_mode) == 0o600
    ca = ca_certificate()
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign


@pytest.mark.parametrize("on", EDGES)
def test_each_leaf_verifies_against_the_ca_and_carries_the_leaf_extensions(on):
    pem = host(on).file(LEAF).content
    verify = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(CA_DIR, "ca.pem"), "-purpose", "sslserver"],
                            input=pem, capture_output=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    cert, ca = leaf(on), ca_certificate()
    assert cert.serial_number > 0
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime <= datetime.timedelta(days=90, minutes=5)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert (cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
            == ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.key_identifier)
    assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    addresses = {str(a) for a in names.get_values_for_type(x509.IPAddress)}
    assert on in names.get_values_for_type(x509.DNSName)
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert set(host(on).check_output("hostname -I").split()) | {"127.0.0.1"} <= addresses
    # The key was made on the host and stays there, root only.
    assert host(on).file("/etc/lighttpd/tls/edge.key").mode == 0o600


def test_a_client_with_the_ca_file_verifies_every_edge():
    with open(os.path.join(CA_DIR, "ca.pem")) as handle:
        host(CLIENT).check_output("cat > /tmp/fleet-ca.pem <<'EOF'\n%s\nEOF" % handle.read().strip())
    for on in EDGES:
        assert host(CLIENT).check_output("curl -sS -o /dev/null -w %s --cacert /tmp/fleet-ca.pem https://%s/v1/models/half_plus_two",
                                         "%{http_code}", on) == "200"


def test_an_aged_leaf_is_issued_again_and_a_fresh_one_is_kept():
    on = "stack1"
    key_pem = host(on).file("/etc/lighttpd/tls/edge.key").content
    with open(os.path.join(CA_DIR, "ca.key"), "rb") as handle:
        ca_key = serialization.load_pem_private_key(handle.read(), password=None)
    current, ca = leaf(on), ca_certificate()
    key = serialization.load_pem_private_key(key_pem, password=None)
    # The same leaf, but 70 of its 90 days gone: less than a third of its life is left.
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(current.subject).issuer_name(ca.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=70)).not_valid_after(now + datetime.timedelta(days=20)))
    for extension in current.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    aged = builder.sign(ca_key, hashes.SHA256())
    host(on).check_output("cat > %s <<'EOF'\n%s\nEOF" % (LEAF, aged.public_bytes(serialization.Encoding.PEM).decode().strip()))
    host(on).check_output("systemctl reload lighttpd@edge")
    assert served_serial_becomes(on, aged.serial_number)

    output = " ".join(tls_converge(on).split())  # the callback may wrap long messages
    assert "certificate (internal_ca): less than 33% of its lifetime left" in output, output[-3000:]
    renewed = leaf(on)
    assert renewed.serial_number != aged.serial_number
    assert renewed.not_valid_after_utc - now > datetime.timedelta(days=89)
    assert served_serial_becomes(on, renewed.serial_number)

    # A converge with a fresh leaf issues nothing.
    tls_converge(on)
    assert leaf(on).serial_number == renewed.serial_number


def sslyze(*args):
    address = host("stack1").check_output("hostname -I").split()[0]
    result = subprocess.run([SSLYZE, "--mozilla_config=intermediate"] + list(args) + ["stack1:443{%s}" % address],
                            capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout


def test_an_independent_scanner_finds_the_edge_compliant_with_mozilla_intermediate():
    code, out = sslyze("--certinfo_ca_file=%s" % os.path.join(CA_DIR, "ca.pem"))
    print(out[-1500:])
    assert code == 0, out[-4000:]
    assert "stack1:443: OK - Compliant." in out
    assert re.search(r"Supplied CA file CA Store \(N/A\):\s+OK - Certificate is trusted", out), out[-4000:]
    # The control: without the fleet CA as trust anchor, path validation fails.
    code, out = sslyze()
    assert code != 0 and "certificate_path_validation" in out, out[-2000:]


def test_a_lost_ca_stops_the_run_before_anything_changes():
    # The CA directory disappears (an upgrade of the collection deleted it, a new controller
    # without the backup): the previous role created a new CA without a word and re-issued
    # every leaf, and every client trusting the old ca.pem failed. Now the run stops at the
    # start, names the way back, and changes nothing.
    aside = CA_DIR + ".aside"
    os.rename(CA_DIR, aside)
    try:
        serial = leaf("stack1").serial_number
        code, output = tls_converge_expecting_failure("stack1")
        assert "trusts a fleet CA" in output and "Restore ca.key and ca.pem" in output, output[-3000:]
        assert "edge_certificate_ca_rotate=true" in output
        assert not os.path.exists(CA_DIR), "no new CA may be created"
        assert leaf("stack1").serial_number == serial and served_serial("stack1") == serial
    finally:
        if os.path.exists(CA_DIR):
            subprocess.run(["rm", "-rf", CA_DIR], check=True)
        os.rename(aside, CA_DIR)
    # Another CA in its place (a directory restored from the wrong backup): stopped as well.
    other = CA_DIR + ".other"
    subprocess.run(["cp", "-a", CA_DIR, other], check=True)
    try:
        with open(os.path.join(other, "ca.pem"), "a") as handle:
            handle.write("\n")  # not the certificate the edges trust
        code, output = run_playbook("converge.yml", "--tags", "lighttpd_tls", "--limit", "stack1",
                                    extra_vars={"edge_certificate_ca_dir": other})
        assert code != 0 and "that is not the one in " + other in output, output[-3000:]
    finally:
        subprocess.run(["rm", "-rf", other], check=True)
    # The CA back in place: the run passes and changes nothing.
    output = tls_converge("stack1")
    assert re.search(r"stack1\s+:.*changed=0", output), (changed_tasks(output), output[-2000:])


def tls_converge_expecting_failure(on):
    code, output = run_playbook("converge.yml", "--tags", "lighttpd_tls", "--limit", on)
    assert code != 0, output[-3000:]
    return code, output
