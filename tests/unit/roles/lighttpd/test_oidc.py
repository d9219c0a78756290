"""OpenID Connect at the edge: the keys fetcher (roles/lighttpd/files/lighttpd-edge-oidc-keys.py)
against a real HTTPS server on loopback, and the token verifier (roles/lighttpd/files/edge-oidc.lua)
run by Lua 5.4 with lua-luaossl and lua-cjson (as Debian's lighttpd-modules-lua has them) against
tokens minted here with `cryptography`. The `lighttpd` scenario proves the same on a real edge
with a real OpenID Provider; these show every refusal's reason in milliseconds."""
import base64
import datetime
import http.server
import importlib.util
import json
import os
import shutil
import ssl
import subprocess
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

# Independent of ansible-core: `make unit` runs it; `make compat` leaves it out of its per-core runs.
pytestmark = pytest.mark.core_independent

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
FILES = os.path.join(ROOT, "roles", "lighttpd", "files")
DRIVER = os.path.join(ROOT, "tests", "unit", "roles", "lighttpd", "lua", "oidc_driver.lua")
LUA = shutil.which("lua5.4")
ISSUER = "https://idp.test/realms/ml"
NOW = 1_800_000_000

spec = importlib.util.spec_from_file_location("oidc_keys", os.path.join(FILES, "lighttpd-edge-oidc-keys.py"))
oidc_keys = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oidc_keys)


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_of(key, kid, alg=None):
    numbers = key.public_key().public_numbers()
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = {"kty": "RSA", "n": b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
               "e": b64(numbers.e.to_bytes(3, "big"))}
    else:
        size = (key.curve.key_size + 7) // 8
        jwk = {"kty": "EC", "crv": {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[key.curve.name],
               "x": b64(numbers.x.to_bytes(size, "big")), "y": b64(numbers.y.to_bytes(size, "big"))}
    jwk["kid"] = kid
    if alg:
        jwk["alg"] = alg
    return jwk


def sign(key, alg, header, claims, tamper=None):
    signed = (b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())).encode()
    digest = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}.get(alg[2:])
    if alg.startswith("RS"):
        signature = key.sign(signed, padding.PKCS1v15(), digest)
    elif alg.startswith("ES"):
        r, s = decode_dss_signature(key.sign(signed, ec.ECDSA(digest)))
        size = (key.curve.key_size + 7) // 8
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    elif alg.startswith("HS"):
        mac = hmac.HMAC(key, digest)
        mac.update(signed)
        signature = mac.finalize()
    else:
        signature = b""
    token = signed.decode() + "." + b64(signature)
    if tamper:
        token = tamper(token)
    return token


@pytest.fixture(scope="module")
def keys():
    return {"rsa": rsa.generate_private_key(65537, 2048), "ec": ec.generate_private_key(ec.SECP256R1()),
            "other": rsa.generate_private_key(65537, 2048), "ec384": ec.generate_private_key(ec.SECP384R1())}


def test_jwk_to_pem_gives_the_same_public_key(keys):
    for name, key in keys.items():
        pem = oidc_keys.jwk_to_pem(jwk_of(key, name))
        loaded = serialization.load_pem_public_key(pem.encode())
        assert loaded.public_numbers() == key.public_key().public_numbers(), name


def test_usable_keys_leaves_out_what_the_edge_must_not_use(keys):
    weak = rsa.generate_private_key(65537, 1024)
    jwks = {"keys": [jwk_of(keys["rsa"], "a", "RS256"), jwk_of(keys["ec"], "b"),
                     dict(jwk_of(keys["other"], "enc"), use="enc"), jwk_of(weak, "weak"),
                     {"kty": "oct", "k": b64(b"secret"), "kid": "hmac", "alg": "HS256"},
                     dict(jwk_of(keys["other"], "c"), alg="PS256"), dict(jwk_of(keys["other"], "x"), kid=None),
                     jwk_of(keys["ec384"], "p384")]}
    usable, skipped = oidc_keys.usable_keys(jwks, ["RS256", "ES256"])
    assert sorted(usable) == ["a", "b"]
    assert any("weak" in s and "2048" in s for s in skipped)
    assert any("hmac" in s for s in skipped) and any("p384" in s for s in skipped)


# ---- the fetcher against a real HTTPS server on loopback
def write_localhost_certificate(directory, hours=1):
    """A self-signed certificate for localhost (cert.pem, key.pem in DIRECTORY), valid HOURS."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=hours))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))


@pytest.fixture()
def issuer_server(tmp_path, keys):
    write_localhost_certificate(tmp_path)
    documents = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = documents.get(self.path)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = "https://localhost:%d" % server.server_address[1]
    documents["/.well-known/openid-configuration"] = {"issuer": base, "jwks_uri": base + "/jwks"}
    documents["/jwks"] = {"keys": [jwk_of(keys["rsa"], "a", "RS256")]}
    state = tmp_path / "state"
    state.mkdir()
    config = {"issuer": base, "algorithms": ["RS256", "ES256"], "ca_file": str(tmp_path / "cert.pem"),
              "state_dir": str(state), "min_interval": 30}
    yield base, documents, config, state
    server.shutdown()


def test_fetcher_writes_keys_status_and_metrics(issuer_server):
    base, documents, config, state = issuer_server
    assert oidc_keys.run(config, sleep=lambda s: None) == 0
    written = json.loads((state / "keys.json").read_text())
    assert sorted(written["keys"]) == ["a"] and written["issuer"] == base
    assert oct(os.stat(state / "keys.json").st_mode & 0o777) == "0o644"
    assert "lighttpd_edge_oidc_keys 1" in (state / "metrics.prom").read_text()
    assert "lighttpd_edge_oidc_keys_fetch_failures 0" in (state / "metrics.prom").read_text()


def test_failed_fetches_keep_the_last_good_keys(issuer_server, capsys):
    base, documents, config, state = issuer_server
    assert oidc_keys.run(config, sleep=lambda s: None) == 0
    before = (state / "keys.json").read_text()
    # The issuer names another issuer, then serves no usable key, then is gone.
    documents["/.well-known/openid-configuration"] = {"issuer": "https://evil.test", "jwks_uri": base + "/jwks"}
    assert oidc_keys.run(config, sleep=lambda s: None) == 1
    documents["/.well-known/openid-configuration"] = {"issuer": base, "jwks_uri": base + "/jwks"}
    documents["/jwks"] = {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h", "alg": "HS256"}]}
    assert oidc_keys.run(config, sleep=lambda s: None) == 1
    del documents["/jwks"]
    assert oidc_keys.run(config, sleep=lambda s: None) == 1
    assert (state / "keys.json").read_text() == before
    assert "lighttpd_edge_oidc_keys_fetch_failures 3" in (state / "metrics.prom").read_text()
    err = capsys.readouterr().err
    assert "names issuer 'https://evil.test'" in err and "no usable key" in err and "404" in err


def test_fetcher_refuses_an_issuer_whose_certificate_it_cannot_verify(issuer_server):
    base, documents, config, state = issuer_server
    assert oidc_keys.run(dict(config, ca_file=""), sleep=lambda s: None) == 1
    assert not (state / "keys.json").exists()


def test_fetches_are_at_least_min_interval_apart(issuer_server):
    base, documents, config, state = issuer_server
    clock = [NOW]
    slept = []
    assert oidc_keys.run(config, now=lambda: clock[0], sleep=slept.append) == 0
    clock[0] += 5
    assert oidc_keys.run(config, now=lambda: clock[0], sleep=slept.append) == 0
    assert slept == [25]


# ---- the verifier, in Lua
@pytest.fixture()
def verify(tmp_path, keys):
    if LUA is None:
        pytest.fail("lua5.4 is missing: `make unit` installs it with lua-luaossl and lua-cjson")
    jwks = {"keys": [jwk_of(keys["rsa"], "rsa-1", "RS256"), jwk_of(keys["ec"], "ec-1")]}
    usable, _ = oidc_keys.usable_keys(jwks, ["RS256", "ES256"])
    (tmp_path / "keys.json").write_text(json.dumps({"issuer": ISSUER, "keys": usable}))

    def _verify(cases, **overrides):
        config = {"issuer": ISSUER, "audiences": ["tf-serving"], "algorithms": ["RS256", "ES256"],
                  "clock_skew": 60, "required_claims": {}, "max_bytes": 8192, "cache_entries": 100,
                  "refresh_seconds": 30, "keys_file": str(tmp_path / "keys.json"),
                  "refresh_file": str(tmp_path / "refresh"),
                  "rules": [{"model": "fraud", "scopes": ["predict:fraud"]},
                            {"model": "fraud", "routes": ["metadata", "status"], "scopes": ["read:fraud"]}],
                  "default_scopes": []}
        config.update(overrides)
        (tmp_path / "config.json").write_text(json.dumps(config))
        lines = []
        for name, (token, model, route, now) in cases.items():
            lines.append("%s %d %s %s %s" % (name, now, model, route, token))
        (tmp_path / "cases").write_text("\n".join(lines) + "\n")
        out = subprocess.run([LUA, DRIVER, os.path.join(FILES, "edge-oidc.lua"), str(tmp_path / "config.json"),
                              str(tmp_path / "cases")], capture_output=True, text=True, check=True).stdout
        return dict(line.split("=", 1) for line in out.split())
    return _verify


def claims(**overrides):
    base = {"iss": ISSUER, "aud": "tf-serving", "sub": "svc-a", "exp": NOW + 300, "iat": NOW - 10,
            "nbf": NOW - 10, "scope": "predict:fraud read:fraud"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_valid_tokens_pass_and_every_forgery_is_refused(verify, keys):
    rsa_h = {"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt"}
    pem = keys["rsa"].public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)

    def flip_payload(token):
        h, p, s = token.split(".")
        data = json.loads(base64.urlsafe_b64decode(p + "=="))
        data["scope"] = "predict:fraud admin"
        return ".".join([h, b64(json.dumps(data).encode()), s])

    at = lambda token, model="half_plus_two", route="inference", now=NOW: (token, model, route, now)  # noqa: E731
    out = verify({
        "rs256": at(sign(keys["rsa"], "RS256", rsa_h, claims())),
        "es256": at(sign(keys["ec"], "ES256", {"alg": "ES256", "kid": "ec-1"}, claims())),
        "aud_list": at(sign(keys["rsa"], "RS256", rsa_h, claims(aud=["other", "tf-serving"]))),
        "expired": at(sign(keys["rsa"], "RS256", rsa_h, claims(exp=NOW - 61))),
        "expired_in_skew": at(sign(keys["rsa"], "RS256", rsa_h, claims(exp=NOW - 30))),
        "no_exp": at(sign(keys["rsa"], "RS256", rsa_h, claims(exp=None))),
        "nbf_future": at(sign(keys["rsa"], "RS256", rsa_h, claims(nbf=NOW + 120))),
        "iat_future": at(sign(keys["rsa"], "RS256", rsa_h, claims(iat=NOW + 120))),
        "wrong_iss": at(sign(keys["rsa"], "RS256", rsa_h, claims(iss="https://evil.test"))),
        "wrong_aud": at(sign(keys["rsa"], "RS256", rsa_h, claims(aud="account"))),
        "alg_none": at(sign(None, "none", {"alg": "none", "kid": "rsa-1"}, claims())),
        "alg_none_signed": at(sign(None, "none", {"alg": "none", "kid": "rsa-1"}, claims(), tamper=lambda t: t + "AAAA")),
        "hs256_confusion": at(sign(pem, "HS256", {"alg": "HS256", "kid": "rsa-1"}, claims())),
        "es256_with_rsa_kid": at(sign(keys["ec"], "ES256", {"alg": "ES256", "kid": "rsa-1"}, claims())),
        "unknown_kid": at(sign(keys["rsa"], "RS256", dict(rsa_h, kid="rsa-9"), claims())),
        "other_key": at(sign(keys["other"], "RS256", rsa_h, claims())),
        "payload_changed": at(sign(keys["rsa"], "RS256", rsa_h, claims(), tamper=flip_payload)),
        "bad_base64": at(sign(keys["rsa"], "RS256", rsa_h, claims(), tamper=lambda t: t.replace(".", ".*", 1))),
        "two_parts": at(".".join(sign(keys["rsa"], "RS256", rsa_h, claims()).split(".")[:2])),
        "too_large": at(sign(keys["rsa"], "RS256", rsa_h, claims(pad="x" * 9000))),
        "crit": at(sign(keys["rsa"], "RS256", dict(rsa_h, crit=["exp"]), claims())),
        "id_token_typ": at(sign(keys["rsa"], "RS256", dict(rsa_h, typ="dpop+jwt"), claims())),
        "no_scope": at(sign(keys["rsa"], "RS256", rsa_h, claims(scope="predict:other")), model="fraud"),
        "scope_ok": at(sign(keys["rsa"], "RS256", rsa_h, claims(scope="predict:fraud")), model="fraud"),
        "scp_list": at(sign(keys["rsa"], "RS256", rsa_h, claims(scope=None, scp=["predict:fraud"])), model="fraud"),
        "metadata_rule": at(sign(keys["rsa"], "RS256", rsa_h, claims(scope="predict:fraud")), model="fraud",
                            route="metadata"),
    })
    assert out["rs256"] == "ok" and out["es256"] == "ok" and out["aud_list"] == "ok"
    assert out["expired"] == "exp" and out["expired_in_skew"] == "ok" and out["no_exp"] == "exp"
    assert out["nbf_future"] == "nbf" and out["iat_future"] == "iat"
    assert out["wrong_iss"] == "iss" and out["wrong_aud"] == "aud"
    assert out["alg_none"] == "malformed" and out["alg_none_signed"] == "algorithm_not_accepted"
    assert out["hs256_confusion"] == "algorithm_not_accepted"
    assert out["es256_with_rsa_kid"] == "signature"
    assert out["unknown_kid"] == "unknown_kid"
    assert out["other_key"] == "signature" and out["payload_changed"] == "signature"
    assert out["bad_base64"] == "malformed" and out["two_parts"] == "malformed"
    assert out["too_large"] == "too_large" and out["crit"] == "critical_header_extension"
    assert out["id_token_typ"] == "typ"
    assert out["no_scope"] == "forbidden:predict:fraud" and out["scope_ok"] == "ok" and out["scp_list"] == "ok"
    assert out["metadata_rule"] == "forbidden:read:fraud"


def test_algorithms_outside_the_list_are_refused_even_with_a_fitting_key(verify, keys):
    out = verify({"es256": (sign(keys["ec"], "ES256", {"alg": "ES256", "kid": "ec-1"}, claims()), "m", "inference", NOW)},
                 algorithms=["RS256"])
    assert out["es256"] == "algorithm_not_accepted"


def test_required_claims(verify, keys):
    h = {"alg": "RS256", "kid": "rsa-1"}
    out = verify({"with": (sign(keys["rsa"], "RS256", h, claims(azp="svc-a", groups=["ml", "ops"])), "m", "inference", NOW),
                  "list": (sign(keys["rsa"], "RS256", h, claims(azp="svc-a", groups=["ops"])), "m", "inference", NOW),
                  "without": (sign(keys["rsa"], "RS256", h, claims()), "m", "inference", NOW)},
                 required_claims={"azp": "svc-a", "groups": "ml"})
    assert out["with"] == "ok" and out["list"] == "claim_groups" and out["without"] in ("claim_azp", "claim_groups")


def test_a_remembered_token_is_still_refused_once_expired(verify, keys):
    token = sign(keys["rsa"], "RS256", {"alg": "RS256", "kid": "rsa-1"}, claims(exp=NOW + 100))
    out = verify({"first": (token, "m", "inference", NOW), "again": (token, "m", "inference", NOW + 50),
                  "later": (token, "m", "inference", NOW + 161)})
    assert out == {"first": "ok", "again": "ok", "later": "exp", "cache": "1"}


def test_the_cache_is_bounded(verify, keys):
    h = {"alg": "RS256", "kid": "rsa-1"}
    cases = {"t%d" % n: (sign(keys["rsa"], "RS256", h, claims(jti=str(n))), "m", "inference", NOW) for n in range(25)}
    out = verify(cases, cache_entries=10)
    assert all(out["t%d" % n] == "ok" for n in range(25))
    assert int(out["cache"]) <= 10
    assert verify(cases, cache_entries=0)["cache"] == "0"


def test_an_unknown_kid_asks_for_a_refresh_at_most_every_refresh_seconds(verify, keys, tmp_path):
    h = {"alg": "RS256", "kid": "new"}
    token = sign(keys["rsa"], "RS256", h, claims())
    verify({"a": (token, "m", "inference", NOW), "b": (token, "m", "inference", NOW + 10)})
    assert (tmp_path / "refresh").read_text().strip() == str(NOW)
    verify({"a": (token, "m", "inference", NOW), "b": (token, "m", "inference", NOW + 31)})
    assert (tmp_path / "refresh").read_text().strip() == str(NOW + 31)
