"""Credentials on the inference routes: API keys with a failure budget, client certificates
optional (a verified certificate OR an API key) and required, and a revocation list (issue 10).
A test CA on client1 issues a good and a revoked client certificate; edge1 gets the CA and
its CRL. The scenario's own settings come back with the next test file's converge."""
import base64
import hashlib
import json
import os

import pytest

from conftest import host, run_playbook

EDGE, CLIENT, PROXY = "edge1", "client1", "proxy1"
URL = "https://edge1/v1/models/half_plus_two:predict"
KEY = "k3J9-test-key-0123456789abcdef0123456789abcdef"  # 256 bits of hex after the prefix
CA_DIR = "/etc/lighttpd-test-ca"
pytestmark = pytest.mark.units((EDGE, "lighttpd@edge"))

MAKE_CA = r'''
set -e
mkdir -p %(d)s && cd %(d)s
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 \
  -subj /CN=test-client-ca -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' > client.ext
serial=1
for name in good revoked; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $name.key -out $name.csr -subj /CN=$name
  openssl x509 -req -in $name.csr -CA ca.pem -CAkey ca.key -set_serial $serial -days 2 -extfile client.ext -out $name.pem
  serial=$((serial + 1))
done
: > index.txt; echo 01 > crlnumber
printf '[ca]\ndefault_ca=ca_default\n[ca_default]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=2\n' > ca.cnf
openssl ca -batch -config ca.cnf -keyfile ca.key -cert ca.pem -revoke revoked.pem
openssl ca -batch -config ca.cnf -keyfile ca.key -cert ca.pem -gencrl -out crl.pem
''' % {"d": CA_DIR}


def curl(on, args):
    """HTTP status of one prediction (000: the TLS handshake or connection failed). HTTP/1.1:
    over HTTP/2 lighttpd resets the stream of a refused request whose body it did not read."""
    return host(on).run("curl -sk --http1.1 -o /dev/null -w '%{http_code}' -d '{}' " + args + " " + URL).stdout


def cert(name):
    return "--cert %s/%s.pem --key %s/%s.key" % (CA_DIR, name, CA_DIR, name)


def put(on, path, content):
    encoded = base64.b64encode(content.encode()).decode()
    host(on).check_output("mkdir -p %s && echo %s | base64 -d > %s" % (os.path.dirname(path), encoded, path))


@pytest.fixture(scope="module")
def test_ca():
    put(CLIENT, "/tmp/make-ca.sh", MAKE_CA)
    host(CLIENT).check_output("sh /tmp/make-ca.sh 2>&1")
    for name in ("ca.pem", "crl.pem"):
        put(EDGE, "%s/%s" % (CA_DIR, name), host(CLIENT).file("%s/%s" % (CA_DIR, name)).content_string)
    return {"lighttpd_tls_client_ca_file": CA_DIR + "/ca.pem", "lighttpd_tls_client_crl_file": CA_DIR + "/crl.pem"}


def converge(extra_vars):
    code, output = run_playbook("converge.yml", extra_vars=extra_vars)
    assert code == 0, output[-3000:]


def test_optional_client_certificates_accept_a_certificate_or_a_key(test_ca):
    converge(dict(test_ca, lighttpd_tls_client_verify="optional",
                  lighttpd_api_key_sha256=[hashlib.sha256(KEY.encode()).hexdigest()]))
    answers = {
        "verified certificate": curl(CLIENT, cert("good")),
        "API key": curl(CLIENT, "-H 'X-API-Key: %s'" % KEY),
        "bearer token": curl(CLIENT, "-H 'Authorization: Bearer %s'" % KEY),
        "neither": curl(CLIENT, ""),
        "revoked certificate": curl(CLIENT, cert("revoked")),
        "wrong key": curl(CLIENT, "-H 'X-API-Key: wrong'"),
    }
    print(answers)
    assert answers == {"verified certificate": "200", "API key": "200", "bearer token": "200",
                       "neither": "401", "revoked certificate": "401", "wrong key": "401"}
    # The key was checked, then stripped: TF Serving (the recording backend) never sees it.
    seen = json.loads(host(CLIENT).check_output(
        "curl -sk -H 'X-API-Key: %s' -H 'Authorization: Bearer %s' -d '{}' %s", KEY, KEY, URL))
    assert seen["x_api_key"] is None and seen["authorization"] is None, seen


def test_wrong_api_keys_are_throttled_while_a_right_key_elsewhere_works(test_ca):
    # proxy1 guesses 50 keys (directly, as a client: no X-Forwarded-For): the first 10
    # failures (lighttpd_api_key_failures_per_minute) get 401, the rest 429, the right key too.
    out = host(PROXY).check_output(
        "for i in $(seq 50); do curl -sk --http1.1 -o /dev/null -w '%%{http_code}\\n' -H \"X-API-Key: guess-$i\" "
        "-d '{}' %s; done; curl -sk --http1.1 -o /dev/null -w '%%{http_code}\\n' -H 'X-API-Key: %s' -d '{}' %s",
        URL, KEY, URL)
    codes = out.split()
    print("50 wrong keys: %d x 401, %d x 429; then the right key: %s"
          % (codes[:50].count("401"), codes[:50].count("429"), codes[50]))
    # (One more failure is allowed every 6 s: the 50 attempts take about 2 s.)
    assert codes[:10] == ["401"] * 10 and codes[10:50].count("429") >= 36, codes
    assert codes[50] == "429"
    assert curl(CLIENT, "-H 'X-API-Key: %s'" % KEY) == "200"


def test_required_client_certificates_refuse_missing_and_revoked_ones(test_ca):
    converge(dict(test_ca, lighttpd_tls_client_verify="required"))
    answers = {"verified certificate": curl(CLIENT, cert("good")), "none": curl(CLIENT, ""),
               "revoked certificate": curl(CLIENT, cert("revoked"))}
    print(answers)
    assert answers == {"verified certificate": "200", "none": "000", "revoked certificate": "000"}
