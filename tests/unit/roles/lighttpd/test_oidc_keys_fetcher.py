"""The OpenID keys fetcher (roles/lighttpd/files/lighttpd-edge-oidc-keys.py) trusting nothing it
fetches (issue 26, point 3), against real HTTPS (and plain HTTP) servers on loopback:

1. only sane keys are kept: RSA with an odd public exponent 3 <= e < 2^32 and a modulus of
   2048-8192 bits, EC points on their named curve, `use` and `key_ops` honoured;
2. a redirect to anything but https:// is refused;
3. whatever the issuer answers (not a JWK Set, nested too deeply, a broken status line, a body
   that is not UTF-8...), the fetch fails cleanly: counted in
   lighttpd_edge_oidc_keys_fetch_failures, the last good keys kept; a bad key in a good JWK Set
   is only left out;
4. the wait between fetches is never longer than min_interval, whatever the clock did;
5. one kid may name an RSA and an EC key (RFC 7517 4.5): both are kept.

Then a property test over generated JWK Sets and HTTP answers: never an uncaught exception,
every failure counted, the last good keys kept, only sane keys written. LTS_FUZZ_EXAMPLES sets
the number of generated examples (400)."""
import contextlib
import http.server
import io
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, event, given, settings, strategies as st

from test_oidc import (DRIVER, FILES, ISSUER, LUA, NOW, b64, claims, jwk_of, keys, oidc_keys, sign,  # noqa: F401
                       write_localhost_certificate)

# Independent of ansible-core: `make unit` runs it; `make compat` leaves it out of its per-core runs.
pytestmark = pytest.mark.core_independent

EXAMPLES = int(os.environ.get("LTS_FUZZ_EXAMPLES", "400"))
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]
# The NIST curves' field primes (FIPS 186-4 D.1.2), to build points that are off the curve or
# spelled with a coordinate not below p.
PRIME = {"P-256": 2**256 - 2**224 + 2**192 + 2**96 - 1, "P-384": 2**384 - 2**128 - 2**96 + 2**32 - 1,
         "P-521": 2**521 - 1}
SIZE = {"P-256": 32, "P-384": 48, "P-521": 66}
CURVE = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
ES = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
DISCOVERY = "/.well-known/openid-configuration"


def odd_number(bits):
    """Any odd number of exactly `bits` bits (a modulus nobody can factor is not needed here)."""
    return (1 << (bits - 1)) | int.from_bytes(os.urandom(bits // 8 + 1), "big") % (1 << (bits - 1)) | 1


def rsa_jwk(kid, n, e, **fields):
    return dict({"kty": "RSA", "kid": kid, "n": b64(n.to_bytes((n.bit_length() + 7) // 8, "big")),
                 "e": b64(e.to_bytes(max(1, (e.bit_length() + 7) // 8), "big"))}, **fields)


def ec_jwk(kid, crv, x, y, **fields):
    return dict({"kty": "EC", "crv": crv, "kid": kid, "x": b64(x.to_bytes(SIZE[crv], "big")),
                 "y": b64(y.to_bytes(SIZE[crv], "big"))}, **fields)


def small_point(crv):
    """A point of the curve with a small x: x + p still fits the coordinate's bytes."""
    p, point = PRIME[crv], ec.generate_private_key(CURVE[crv]).public_key().public_numbers()
    b = (point.y ** 2 - point.x ** 3 + 3 * point.x) % p      # the curve's b, from any of its points
    x = 1
    while True:
        rhs = (x ** 3 - 3 * x + b) % p
        y = pow(rhs, (p + 1) // 4, p)  # p = 3 mod 4 for the three curves
        if y * y % p == rhs:
            return x, y
        x += 1


# ---- servers: an HTTPS issuer and a plain HTTP one (redirect targets), answering what a test sets
def http_answer(body, status=b"200 OK", headers=()):
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    head = [b"HTTP/1.1 " + status, b"Content-Type: application/json", b"Content-Length: %d" % len(body),
            b"Connection: close"] + list(headers)
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class Server:
    """routes: path -> a JSON value (answered 200), bytes (the whole answer, as is) or a callable
    (given the handler's wfile). Anything else: 404."""

    def __init__(self, context=None):
        routes = self.routes = {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.close_connection = True
                route = routes.get(self.path)
                try:
                    if callable(route):
                        route(self.wfile)
                    else:
                        self.wfile.write(http_answer(b"", b"404 Not Found") if route is None
                                         else route if isinstance(route, bytes) else http_answer(route))
                except OSError:
                    pass  # the fetcher gave up first

        class Quiet(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass

        self.server = Quiet(("127.0.0.1", 0), Handler)
        if context:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.base = "%s://%s:%d" % ("https" if context else "http", "localhost" if context else "127.0.0.1",
                                    self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("issuer")
    write_localhost_certificate(tmp, hours=2)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    secure, plain = Server(context), Server()
    yield secure, plain, str(tmp / "cert.pem")
    secure.server.shutdown()
    plain.server.shutdown()


@pytest.fixture(scope="module")
def good_jwks(keys):
    return {"keys": [jwk_of(keys["rsa"], "a", "RS256"), jwk_of(keys["ec"], "b")]}


@pytest.fixture()
def issuer(servers, good_jwks, tmp_path):
    """(server, plain server, config, state dir): the issuer serves a good discovery document and JWKS."""
    secure, plain, ca_file = servers
    for server in (secure, plain):
        server.routes.clear()
    secure.routes[DISCOVERY] = {"issuer": secure.base, "jwks_uri": secure.base + "/jwks"}
    secure.routes["/jwks"] = good_jwks
    state = tmp_path / "state"
    state.mkdir()
    config = {"issuer": secure.base, "algorithms": ["RS256", "ES256"], "ca_file": ca_file, "state_dir": str(state),
              "min_interval": 30}
    return secure, plain, config, state


def run(config, **kwargs):
    """One fetch as under systemd: stdout strictly UTF-8 (the journal's stream), never a wait."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    with contextlib.redirect_stdout(out):
        return oidc_keys.run(config, **dict({"sleep": lambda s: None}, **kwargs))


def metric(state, name):
    for line in (state / "metrics.prom").read_text().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no %s in metrics.prom" % name)


def assert_failed_and_counted(issuer_tuple, before, failures):
    """The run failed: counted, and keys.json still the last good one."""
    _, _, config, state = issuer_tuple
    assert (state / "keys.json").read_text() == before
    assert metric(state, "lighttpd_edge_oidc_keys_fetch_failures") == failures
    assert json.loads((state / "status.json").read_text())["consecutive_failures"] == failures


def kept(keys_file_entry):
    """The key entries under one kid of keys.json: an entry, or a list of them."""
    return keys_file_entry if isinstance(keys_file_entry, list) else [keys_file_entry]


# ---- 1. only sane keys
def test_rsa_exponent_one_is_refused(issuer):
    secure, _, config, state = issuer
    forged = rsa_jwk("forged", odd_number(2048), 1, alg="RS256")
    usable, skipped = oidc_keys.usable_keys({"keys": [forged]}, ["RS256"])
    assert usable == {} and any("exponent" in s for s in skipped)
    # Through the fetcher: a JWKS of that key alone holds no usable key.
    secure.routes["/jwks"] = {"keys": [forged]}
    assert run(config) == 1
    assert not (state / "keys.json").exists()


@pytest.mark.parametrize("e,bits,ok", [
    (65537, 2048, True), (3, 2048, True), (2**32 - 1, 4096, True), (65537, 8192, True),
    (1, 2048, False), (0, 2048, False), (2, 2048, False), (65536, 2048, False), (2**32 + 1, 2048, False),
    (2**4000 + 1, 8192, False), (65537, 2047, False), (65537, 8193, False), (65537, 16384, False),
], ids=lambda v: str(v) if not isinstance(v, int) or v < 2**64 else "huge")
def test_rsa_keys_need_a_sane_exponent_and_modulus(e, bits, ok):
    jwk = rsa_jwk("k", odd_number(bits), e)
    usable, skipped = oidc_keys.usable_keys({"keys": [jwk]}, ["RS256"])
    assert (usable != {}) is ok, skipped
    if ok:
        loaded = serialization.load_pem_public_key(usable["k"]["pem"].encode())
        assert loaded.public_numbers().e == e and loaded.key_size == bits


def test_an_even_rsa_modulus_is_refused():
    usable, skipped = oidc_keys.usable_keys({"keys": [rsa_jwk("k", odd_number(2048) - 1, 65537)]}, ["RS256"])
    assert usable == {} and skipped


@pytest.mark.parametrize("crv", ["P-256", "P-384", "P-521"])
def test_ec_points_must_be_on_their_curve(crv):
    key = ec.generate_private_key(CURVE[crv]).public_key().public_numbers()
    p = PRIME[crv]
    x, y = small_point(crv)
    alg = ES[crv]
    jwks = {"keys": [ec_jwk("good", crv, key.x, key.y), ec_jwk("small", crv, x, y),
                     ec_jwk("off", crv, key.x, (key.y + 1) % p),          # not on the curve
                     ec_jwk("x_plus_p", crv, x + p, y),                   # on it mod p, x not below p
                     ec_jwk("other_curve", "P-384" if crv == "P-256" else "P-256", key.x % PRIME["P-256"],
                            key.y % PRIME["P-256"]),
                     dict(ec_jwk("short", crv, key.x, key.y), x=b64(key.x.to_bytes(SIZE[crv] + 1, "big")))]}
    usable, skipped = oidc_keys.usable_keys(jwks, [alg, "ES256", "ES384"])
    assert sorted(usable) == ["good", "small"], skipped
    loaded = serialization.load_pem_public_key(usable["good"]["pem"].encode())
    assert loaded.public_numbers() == key


@pytest.mark.parametrize("fields,ok", [
    ({}, True), ({"use": "sig"}, True), ({"key_ops": ["verify"]}, True), ({"key_ops": ["sign", "verify"]}, True),
    ({"use": "enc"}, False), ({"use": None}, False), ({"use": ["sig"]}, False),
    ({"key_ops": ["encrypt"]}, False), ({"key_ops": []}, False), ({"key_ops": "verify"}, False),
    ({"key_ops": None}, False), ({"key_ops": ["sign"]}, False),
])
def test_use_and_key_ops_are_honoured(keys, fields, ok):
    usable, skipped = oidc_keys.usable_keys({"keys": [dict(jwk_of(keys["rsa"], "k"), **fields)]}, ["RS256"])
    assert ("k" in usable) is ok, skipped


# ---- 2. redirects
@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/jwks"])
def test_a_redirect_off_https_is_refused(issuer, path):
    secure, plain, config, state = issuer
    plain.routes[path] = secure.routes[path]
    secure.routes[path] = http_answer(b"", b"302 Found", [b"Location: " + (plain.base + path).encode()])
    assert run(config) == 1
    assert not (state / "keys.json").exists()
    assert metric(state, "lighttpd_edge_oidc_keys_fetch_failures") == 1


@pytest.mark.parametrize("location", ["ftp://localhost/jwks", "file:///etc/passwd", "//127.0.0.1:1/jwks"])
def test_other_redirect_targets_are_refused(issuer, location):
    secure, _, config, state = issuer
    secure.routes["/jwks"] = http_answer(b"", b"301 Moved Permanently", [b"Location: " + location.encode()])
    assert run(config) == 1
    assert metric(state, "lighttpd_edge_oidc_keys_fetch_failures") == 1


def test_a_redirect_to_https_is_followed(issuer):
    secure, _, config, state = issuer
    secure.routes["/old-jwks"] = http_answer(b"x" * 1000, b"301 Moved Permanently", [b"Location: /jwks"])
    secure.routes[DISCOVERY]["jwks_uri"] = secure.base + "/old-jwks"
    assert run(config) == 0
    assert sorted(json.loads((state / "keys.json").read_text())["keys"]) == ["a", "b"]


# ---- 3. every failure counted, the last good keys kept
def nested(depth):
    return b'{"keys": ' + b"[" * depth + b"]" * depth + b"}"


BAD_JWKS = {
    "keys_null": {"keys": None},
    "keys_number": {"keys": 5},
    "keys_string": {"keys": "abc"},
    "keys_object": {"keys": {"a": {}}},
    "no_keys": {"issuer": "x"},
    "a_list": [{"kty": "RSA"}],
    "a_string": "keys",
    "null": None,
    "nested_deeply": http_answer(nested(100000)),
    "status_line_garbage": b"garbage\r\n\r\n{}",
    "status_line_no_code": b"HTTP/1.1 abc\r\n\r\n{}",
    "status_line_empty": b"",
    "status_204": http_answer(b"", b"204 No Content"),
    "status_500": http_answer({"keys": []}, b"500 Internal Server Error"),
    "shorter_than_its_length": http_answer(b'{"keys": []}')[:-4],
    "broken_chunks": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n",
    "header_line_too_long": b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000 + b"\r\n\r\n{}",
    "too_many_headers": b"HTTP/1.1 200 OK\r\n" + b"X: a\r\n" * 150 + b"\r\n{}",
    "latin1": http_answer('{"keys": [{"kid": "caf\u00e9"}]}'.encode("latin-1")),
    "utf16": "utf16",            # the good JWKS, in UTF-16: JSON between systems is UTF-8 (RFC 8259 8.1)
    "surrogate_bytes": "surrogate_bytes",   # a kid spelled with a UTF-16 surrogate's bytes: not UTF-8
    "too_large": http_answer(b'{"keys": [], "x": "' + b"a" * (1024 * 1024) + b'"}'),
    "not_json": http_answer(b"<html>keys</html>"),
}


@pytest.mark.parametrize("name", sorted(BAD_JWKS))
def test_a_bad_answer_is_a_counted_failure_that_keeps_the_last_good_keys(issuer, good_jwks, name):
    secure, _, config, state = issuer
    assert run(config) == 0
    before = (state / "keys.json").read_text()
    answer = BAD_JWKS[name]
    if answer == "utf16":
        answer = http_answer(json.dumps(good_jwks).encode("utf-16"))
    elif answer == "surrogate_bytes":
        answer = http_answer(json.dumps({"keys": [dict(good_jwks["keys"][0], kid="KID")]}).encode()
                             .replace(b"KID", "\ud800".encode("utf-8", "surrogatepass")))
    secure.routes["/jwks"] = answer
    assert run(config) == 1
    assert run(config) == 1
    assert_failed_and_counted(issuer, before, 2)
    secure.routes["/jwks"] = good_jwks
    assert run(config) == 0
    assert metric(state, "lighttpd_edge_oidc_keys_fetch_failures") == 0


@pytest.mark.parametrize("discovery", [
    {"issuer": "ISSUER", "jwks_uri": "https://localhost:notaport/jwks"},
    {"issuer": "ISSUER", "jwks_uri": "https://local host/jwks"},
    {"issuer": "ISSUER", "jwks_uri": "https://[::1/jwks"},
    {"issuer": "ISSUER", "jwks_uri": "https://\udcff/jwks"},
    {"issuer": "ISSUER", "jwks_uri": "http://localhost/jwks"},
    {"issuer": "ISSUER", "jwks_uri": ["https://localhost/jwks"]},
    {"issuer": ["ISSUER"], "jwks_uri": "https://localhost/jwks"},
    {"issuer": {"deep": [[[[["ISSUER"]]]]]}},
    [],
])
def test_a_bad_discovery_document_is_a_counted_failure(issuer, discovery):
    secure, _, config, state = issuer
    assert run(config) == 0
    before = (state / "keys.json").read_text()
    secure.routes[DISCOVERY] = json.loads(json.dumps(discovery).replace("ISSUER", secure.base))
    assert run(config) == 1
    assert_failed_and_counted(issuer, before, 1)


def test_a_missing_ca_file_is_a_counted_failure(issuer):
    secure, _, config, state = issuer
    assert run(config) == 0
    before = (state / "keys.json").read_text()
    assert run(dict(config, ca_file=str(state / "missing.pem"))) == 1
    assert_failed_and_counted(issuer, before, 1)


def test_bad_keys_in_a_good_jwks_are_only_left_out(issuer, good_jwks, keys):
    secure, _, config, state = issuer
    ec_key = jwk_of(keys["ec"], "c")
    bad = [dict(ec_key, crv=["P-256"]), dict(ec_key, crv={"P-256": 1}), dict(ec_key, kty=["EC"]),
           dict(ec_key, x=5), dict(ec_key, x="not base64url!"), dict(ec_key, x=None), dict(ec_key, alg=["ES256"]),
           dict(ec_key, alg={"x": 1}), dict(ec_key, kid="\ud800"), dict(ec_key, kid=["c"]), dict(ec_key, kid=7),
           dict(ec_key, use={"sig": 1}), dict(ec_key, key_ops=[["verify"]]), dict(ec_key, kid="d", x=ec_key["x"] + "="),
           {"kty": "RSA", "kid": "e", "n": "AQAB" * 10**5, "e": "AQAB"},
           {"kty": "RSA", "kid": "f", "n": "AQAB", "e": 65537},
           rsa_jwk("g", odd_number(2048), 2**20000 + 1), None, 5, "key", [jwk_of(keys["rsa"], "h")], {}]
    secure.routes["/jwks"] = {"keys": bad + good_jwks["keys"]}
    assert run(config) == 0
    written = json.loads((state / "keys.json").read_text())
    assert sorted(written["keys"]) == ["a", "b"]
    assert metric(state, "lighttpd_edge_oidc_keys") == 2


@pytest.mark.parametrize("status", ["[]", '{"last_attempt": "soon", "consecutive_failures": null}',
                                    '{"last_attempt": 1e400, "keys": [1]}', "\xff", "[" * 100000])
def test_a_damaged_status_file_is_started_afresh(issuer, status):
    secure, _, config, state = issuer
    (state / "status.json").write_text(status, encoding="latin-1")
    slept = []
    assert run(config, sleep=slept.append) == 0
    assert all(0 <= s <= 30 for s in slept)
    assert json.loads((state / "status.json").read_text())["consecutive_failures"] == 0


def test_a_slow_issuer_is_a_counted_failure_within_the_deadline(issuer, monkeypatch):
    """An issuer answering a byte every 0.2 s never hits the 10 s socket timeout; systemd would
    kill the unit (TimeoutStartSec) before the failure is counted. The whole fetch has a deadline."""
    secure, _, config, state = issuer

    def drip(out):
        out.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(25):
            out.write(b"X")
            out.flush()
            time.sleep(0.2)
        out.write(b": y\r\nContent-Length: 2\r\n\r\n{}")

    secure.routes["/jwks"] = drip
    monkeypatch.setattr(oidc_keys, "FETCH_DEADLINE", 1, raising=False)
    start = time.monotonic()
    assert run(config) == 1
    assert time.monotonic() - start < 3
    assert metric(state, "lighttpd_edge_oidc_keys_fetch_failures") == 1


# ---- 4. the wait between fetches is bounded
def test_the_wait_is_bounded_after_the_clock_steps_back(issuer):
    secure, _, config, state = issuer
    clock, slept = [NOW], []
    assert run(config, now=lambda: clock[0], sleep=slept.append) == 0
    clock[0] -= 10**7      # NTP or an operator set the clock back
    assert run(config, now=lambda: clock[0], sleep=slept.append) == 0
    assert len(slept) == 1 and 0 < slept[0] <= 30, slept      # (the first run had nothing to wait for)


def test_the_wait_follows_the_monotonic_clock_on_the_same_boot(issuer, monkeypatch):
    secure, _, config, state = issuer
    clock, ticks, slept = [NOW], [1000.0], []

    def fetch():
        return run(config, now=lambda: clock[0], sleep=slept.append, monotonic=lambda: ticks[0])

    assert fetch() == 0
    clock[0] -= 10**7
    ticks[0] += 5
    assert fetch() == 0
    assert slept[-1] == pytest.approx(25)
    # Another boot: the monotonic clock's readings are not comparable; the wall clock's wait, bounded.
    monkeypatch.setattr(oidc_keys, "boot_id", lambda: "another boot")
    clock[0] -= 10**7
    assert fetch() == 0
    assert slept[-1] == 30
    # The clock forward: no wait (the monotonic clock says 0 s, but the wall clock that time passed).
    clock[0] += 10**8
    assert fetch() == 0
    assert len(slept) == 2


# ---- 5. one kid, an RSA and an EC key
def test_one_kid_may_name_an_rsa_and_an_ec_key(issuer, keys):
    secure, _, config, state = issuer
    both = [jwk_of(keys["rsa"], "k"), jwk_of(keys["ec"], "k"), jwk_of(keys["ec384"], "k"),
            jwk_of(keys["other"], "k"),                      # a second RSA key under k: ambiguous, left out
            dict(jwk_of(keys["ec"], "k"), x=jwk_of(keys["ec"], "k")["x"]),   # the same EC key again
            jwk_of(keys["other"], "single")]
    usable, skipped = oidc_keys.usable_keys({"keys": both}, ["RS256", "ES256", "ES384"])
    assert [(e["kty"], e["crv"]) for e in usable["k"]] == [("RSA", None), ("EC", "P-256"), ("EC", "P-384")]
    assert isinstance(usable["single"], dict) and usable["single"]["kty"] == "RSA"
    assert sum("'k'" in s for s in skipped) == 2
    secure.routes["/jwks"] = {"keys": both}
    assert run(dict(config, algorithms=["RS256", "ES256", "ES384"])) == 0
    written = json.loads((state / "keys.json").read_text())["keys"]
    pems = [serialization.load_pem_public_key(e["pem"].encode()).public_numbers() for e in written["k"]]
    assert pems == [keys[name].public_key().public_numbers() for name in ("rsa", "ec", "ec384")]
    assert metric(state, "lighttpd_edge_oidc_keys") == 4


def test_one_kid_may_name_rsa_keys_of_different_algorithms(keys):
    jwks = {"keys": [jwk_of(keys["rsa"], "k", "RS256"), jwk_of(keys["other"], "k", "RS384"),
                     jwk_of(keys["ec"], "k"),                          # only RSA algorithms accepted: left out
                     jwk_of(keys["other"], "k"),                       # adds RS512: kept
                     jwk_of(keys["rsa"], "k"), jwk_of(keys["rsa"], "k", "RS384")]}   # nothing new: left out
    usable, skipped = oidc_keys.usable_keys(jwks, ["RS256", "RS384", "RS512"])
    assert [e["alg"] for e in usable["k"]] == ["RS256", "RS384", None]
    assert len(skipped) == 3


def test_the_verifier_uses_both_keys_of_one_kid(issuer, keys, tmp_path):
    """End to end: the keys file the fetcher writes, read by the real verifier (which takes, for
    the token's alg, the first key of the kid's list that fits)."""
    secure, _, config, state = issuer
    if LUA is None:
        pytest.fail("lua5.4 is missing: `make unit` installs it with lua-luaossl and lua-cjson")
    secure.routes["/jwks"] = {"keys": [jwk_of(keys["rsa"], "k", "RS256"), jwk_of(keys["ec"], "k"),
                                       jwk_of(keys["other"], "single")]}
    assert run(config) == 0
    verifier_config = {"issuer": config["issuer"], "audiences": ["tf-serving"], "algorithms": ["RS256", "ES256"],
                       "clock_skew": 60, "required_claims": {}, "max_bytes": 8192, "cache_entries": 0,
                       "refresh_seconds": 30, "keys_file": str(state / "keys.json"),
                       "refresh_file": str(tmp_path / "refresh"), "rules": [], "default_scopes": []}
    (tmp_path / "config.json").write_text(json.dumps(verifier_config))
    iss = claims(iss=config["issuer"])
    cases = {"rs256": sign(keys["rsa"], "RS256", {"alg": "RS256", "kid": "k"}, iss),
             "es256": sign(keys["ec"], "ES256", {"alg": "ES256", "kid": "k"}, iss),
             "single": sign(keys["other"], "RS256", {"alg": "RS256", "kid": "single"}, iss),
             "wrong_key": sign(keys["other"], "RS256", {"alg": "RS256", "kid": "k"}, iss)}
    (tmp_path / "cases").write_text("".join("%s %d m inference %s\n" % (name, NOW, token)
                                            for name, token in cases.items()))
    out = subprocess.run([LUA, DRIVER, os.path.join(FILES, "edge-oidc.lua"), str(tmp_path / "config.json"),
                          str(tmp_path / "cases")], capture_output=True, text=True, check=True).stdout
    out = dict(line.split("=", 1) for line in out.split())
    assert out["single"] == "ok" and out["wrong_key"] == "signature"
    assert out["rs256"] == "ok" and out["es256"] == "ok"


# ---- the property test: generated JWK Sets and HTTP answers


def base_jwks():
    """Keys to start generated ones from: good ones of each type, and the insane ones of point 1."""
    rsa_key = rsa.generate_private_key(65537, 2048)
    n = rsa_key.public_key().public_numbers().n
    x, y = small_point("P-256")
    return [jwk_of(rsa_key, "a"), jwk_of(rsa_key, "a", "RS256"), jwk_of(ec.generate_private_key(CURVE["P-256"]), "b"),
            jwk_of(ec.generate_private_key(CURVE["P-384"]), "c", "ES384"),
            jwk_of(ec.generate_private_key(CURVE["P-521"]), "a"),
            rsa_jwk("e1", n, 1), rsa_jwk("e3", n, 3), rsa_jwk("even_e", n, 65536), rsa_jwk("e33", n, 2**33 + 1),
            rsa_jwk("big", odd_number(8200), 65537), rsa_jwk("weak", odd_number(1024), 65537),
            rsa_jwk("even_n", n - 1, 65537), ec_jwk("off", "P-256", x, y + 1),
            ec_jwk("x_plus_p", "P-256", x + PRIME["P-256"], y)]


BASE_JWKS = base_jwks()
FIELD_VALUES = {
    "kty": ["RSA", "EC", "oct", "OKP", "rsa", ""],
    "crv": ["P-256", "P-384", "P-521", "P-192", "secp256k1", ["P-256"]],
    "alg": ALGORITHMS + ["PS256", "HS256", "none", "EdDSA"],
    "kid": ["a", "b", "k", "", "\ud800", "\x00", "k" * 300],
    "use": ["sig", "enc", "", None],
    "key_ops": [["verify"], ["sign", "verify"], ["encrypt"], "verify", [], None],
}
FIELDS = sorted(set(FIELD_VALUES) | {"n", "e", "x", "y"})
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                        max_size=4),
                           max_leaves=10)


@st.composite
def generated_jwk(draw):
    """One of BASE_JWKS with some fields dropped or given another value: a plausible one, any
    JSON value, or base64url of any bytes."""
    jwk = dict(draw(st.sampled_from(BASE_JWKS)))
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        how = draw(st.integers(0, 3))
        if how == 0:
            jwk.pop(field, None)
        elif how == 1:
            jwk[field] = draw(json_values)
        elif how == 2 and field in FIELD_VALUES:
            jwk[field] = draw(st.sampled_from(FIELD_VALUES[field]))
        else:
            jwk[field] = b64(draw(st.binary(max_size=80))) if draw(st.booleans()) else draw(st.text(max_size=20))
    return jwk


# Not JWK Sets one time in four; the others hold generated keys, of which some are usable.
jwks_documents = st.one_of(
    json_values,
    st.fixed_dictionaries({"keys": json_values}),
    st.fixed_dictionaries({"keys": st.lists(st.one_of(generated_jwk(), json_values), max_size=5)}),
    st.fixed_dictionaries({"keys": st.lists(generated_jwk(), min_size=1, max_size=6)}),
    st.fixed_dictionaries({"keys": st.lists(generated_jwk(), min_size=1, max_size=6)}),
    st.fixed_dictionaries({"keys": st.lists(st.sampled_from(BASE_JWKS), min_size=1, max_size=6)}),
    st.fixed_dictionaries({"keys": st.lists(st.sampled_from(BASE_JWKS), min_size=1, max_size=6)}),
    st.fixed_dictionaries({"keys": st.lists(st.sampled_from(BASE_JWKS), min_size=1, max_size=6)}),
)


@st.composite
def http_answers(draw, document, secure, plain):
    """An HTTP answer carrying `document`, or one broken in some way."""
    body = json.dumps(document).encode()
    kind = draw(st.sampled_from(["ok"] * 14 + ["status", "body", "length", "chunked", "headers", "redirect", "empty"]))
    if kind == "ok":
        return http_answer(body)
    if kind == "status":
        status = draw(st.sampled_from([b"200", b"2000 OK", b"301 Moved", b"204 No Content", b"206 Partial Content",
                                       b"404 Not Found", b"500 Oops", b"-1 OK", b"abc", b""]) | st.binary(max_size=16))
        return draw(st.sampled_from([b"HTTP/1.1 ", b"HTTP/1.0 ", b"ICY ", b"HTTP/2 ", b""])) + status + b"\r\n" + \
            http_answer(body).split(b"\r\n", 1)[1]
    if kind == "body":
        return http_answer(draw(st.sampled_from([
            body.decode().encode("utf-16"), b"\xef\xbb\xbf" + body, body[:len(body) // 2], body + b"}",
            body.replace(b'"', b"'"), body.replace(b"a", "\ud800".encode("utf-8", "surrogatepass")),
            body.replace(b"a", b"\xe9"), nested(draw(st.integers(1, 3000))), b"[" * 50000,
        ]) | st.binary(max_size=100)))
    if kind == "length":
        length = draw(st.integers(0, 2 * len(body) + 2)) if draw(st.booleans()) else draw(st.text(max_size=8))
        return b"HTTP/1.1 200 OK\r\nContent-Length: " + str(length).encode() + b"\r\n\r\n" + body
    if kind == "chunked":
        cut = draw(st.integers(0, len(body)))
        size = draw(st.sampled_from(["%x" % cut, "%x" % (cut + 7), "zz", "-1", "%x;ext=1" % cut, ""]))
        end = draw(st.sampled_from([b"0\r\n\r\n", b"", b"0\r\n", b"1\r\n"]))
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size.encode() + b"\r\n" + body[:cut]
                + b"\r\n" + ("%x" % (len(body) - cut)).encode() + b"\r\n" + body[cut:] + b"\r\n" + end)
    if kind == "headers":
        lines = draw(st.lists(st.binary(max_size=40), max_size=5))
        many = b"X: y\r\n" * draw(st.sampled_from([0, 99, 101])) + b"X: " + b"z" * draw(st.sampled_from([1, 70000]))
        return b"HTTP/1.1 200 OK\r\n" + b"\r\n".join(lines + [many]) + b"\r\n\r\n" + body
    if kind == "redirect":
        location = draw(st.sampled_from([plain.base + "/jwks", secure.base + "/good-jwks", secure.base + DISCOVERY,
                                         "/good-jwks", "ftp://localhost/jwks", "file:///etc/passwd", "", "//x"])
                        | st.text(max_size=20))
        return http_answer(b"", draw(st.sampled_from([b"301 Moved", b"302 Found", b"303 See Other",
                                                      b"307 Temporary Redirect", b"308 Permanent Redirect"])),
                           [b"Location: " + location.encode("utf-8", "surrogatepass")])
    return b""


@pytest.fixture(scope="module")
def good_state(servers, good_jwks, tmp_path_factory):
    """A state directory after a good fetch (of the servers' good documents)."""
    secure, plain, ca_file = servers
    secure.routes.clear()
    secure.routes[DISCOVERY] = {"issuer": secure.base, "jwks_uri": secure.base + "/jwks"}
    secure.routes["/jwks"] = good_jwks
    state = tmp_path_factory.mktemp("good_state")
    config = {"issuer": secure.base, "algorithms": ALGORITHMS, "ca_file": ca_file, "state_dir": str(state),
              "min_interval": 30}
    assert run(config) == 0
    return state, config


def assert_sane(entry):
    """A key of keys.json is one the fetcher may keep (point 1), whatever it came from."""
    key = serialization.load_pem_public_key(entry["pem"].encode())   # OpenSSL refuses a point off its curve
    assert entry["alg"] is None or entry["alg"] in ALGORITHMS
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        assert entry["kty"] == "RSA" and entry["crv"] is None
        assert 3 <= numbers.e < 2**32 and numbers.e % 2 == 1
        assert 2048 <= numbers.n.bit_length() <= 8192 and numbers.n % 2 == 1
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey) and entry["kty"] == "EC"
        assert entry["crv"] == {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[key.curve.name]


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_whatever_the_issuer_answers_failures_are_counted_and_only_sane_keys_kept(servers, good_jwks, good_state,
                                                                               data):
    secure, plain, ca_file = servers
    template, config = good_state
    good_discovery = {"issuer": secure.base, "jwks_uri": secure.base + "/jwks"}
    for server in (secure, plain):
        server.routes.clear()
        server.routes.update({DISCOVERY: good_discovery, "/jwks": good_jwks, "/good-jwks": good_jwks})
    # The discovery document is good three times in four: the JWK Set then decides what is written.
    if data.draw(st.integers(0, 3), label="discovery broken") == 0:
        discovery = data.draw(st.one_of(json_values, st.fixed_dictionaries({
            "issuer": st.just(secure.base) | json_values,
            "jwks_uri": st.sampled_from([secure.base + "/jwks", plain.base + "/jwks"]) | json_values})))
        secure.routes[DISCOVERY] = data.draw(http_answers(discovery, secure, plain), label="discovery answer")
    secure.routes["/jwks"] = data.draw(http_answers(data.draw(jwks_documents, label="jwks"), secure, plain),
                                       label="jwks answer")
    state = tempfile.mkdtemp(prefix="fuzz-", dir=os.path.dirname(template))
    try:
        for name in ("keys.json", "status.json", "metrics.prom"):
            shutil.copy(os.path.join(template, name), state)
        code = run(dict(config, state_dir=state))
        event("keys written" if code == 0 else "failed")
        status = json.loads(open(os.path.join(state, "status.json")).read())
        prom = open(os.path.join(state, "metrics.prom")).read()
        written = open(os.path.join(state, "keys.json")).read()
        if code == 0:
            assert status["consecutive_failures"] == 0 and "lighttpd_edge_oidc_keys_fetch_failures 0\n" in prom
            document = json.loads(written)
            assert document["issuer"] == secure.base
            count = 0
            for kid, entry in document["keys"].items():
                assert isinstance(kid, str) and kid
                covered = set()
                for e in kept(entry):
                    assert_sane(e)
                    fits = {a for a in ALGORITHMS if e["alg"] in (None, a) and (
                        (e["kty"] == "RSA" and a.startswith("RS")) or (e["kty"] == "EC" and a == ES[e["crv"]]))}
                    assert fits - covered          # each key under a kid verifies an algorithm the others do not
                    covered |= fits
                    count += 1
            assert status["keys"] == count and "lighttpd_edge_oidc_keys %d\n" % count in prom
        else:
            assert code == 1
            assert written == open(os.path.join(template, "keys.json")).read()
            assert status["consecutive_failures"] == 1 and "lighttpd_edge_oidc_keys_fetch_failures 1\n" in prom
    finally:
        shutil.rmtree(state)
