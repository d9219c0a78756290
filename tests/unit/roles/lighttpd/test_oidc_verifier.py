"""The access-token verifier (roles/lighttpd/files/edge-oidc.lua) as strict as its comments say
(issue 26, point 4): standard JSON only, the header and the signature checked before the payload
is read, canonical base64url, case-insensitive bearer scheme and typ, scopes split on spaces, a
keys file that cannot hurt, and RFC 9068's at+jwt as a setting. Run like tests/unit/roles/lighttpd/test_oidc.py:
Lua 5.4 with lua-luaossl and lua-cjson, through tests/unit/roles/lighttpd/lua/oidc_driver.lua."""
import json
import os
import re
import subprocess

import jinja2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from test_inference_lua import TEMPLATE, VARS
from test_oidc import DRIVER, FILES, ISSUER, LUA, NOW, b64, claims, jwk_of, keys, oidc_keys, sign  # noqa: F401

# Independent of ansible-core: `make unit` runs it; `make compat` leaves it out of its per-core runs.
pytestmark = pytest.mark.core_independent

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
RSA_H = {"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt"}


@pytest.fixture()
def run(tmp_path, keys):  # noqa: F811
    """run(cases, keys_doc=None, count=False, **config) -> {NAME: RESULT}. cases: a list of
    (name, token) or (name, token, now) or (name, token, now, model), or "@field value" lines."""
    if LUA is None:
        pytest.fail("lua5.4 is missing: `make unit` installs it with lua-luaossl and lua-cjson")
    usable, _ = oidc_keys.usable_keys({"keys": [jwk_of(keys["rsa"], "rsa-1", "RS256"), jwk_of(keys["ec"], "ec-1")]},
                                      ["RS256", "ES256"])

    def _run(cases, keys_doc=None, count=False, **overrides):
        doc = keys_doc if keys_doc is not None else {"issuer": ISSUER, "keys": usable}
        (tmp_path / "keys.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))
        config = {"issuer": ISSUER, "audiences": ["tf-serving"], "algorithms": ["RS256", "ES256"],
                  "clock_skew": 60, "required_claims": {}, "max_bytes": 8192, "cache_entries": 100,
                  "refresh_seconds": 30, "keys_file": str(tmp_path / "keys.json"),
                  "refresh_file": str(tmp_path / "refresh"),
                  "rules": [{"model": "fraud", "scopes": ["predict:fraud"]}], "default_scopes": []}
        config.update(overrides)
        (tmp_path / "config.json").write_text(json.dumps(config))
        lines = []
        for case in cases:
            if isinstance(case, str):
                lines.append(case)
                continue
            name, token, now, model = list(case) + [NOW, "m"][len(case) - 2:]
            lines.append("%s %d %s inference %s" % (name, now, model, token))
        (tmp_path / "cases").write_text("\n".join(lines) + "\n")
        out = subprocess.run([LUA, DRIVER, os.path.join(FILES, "edge-oidc.lua"), str(tmp_path / "config.json"),
                              str(tmp_path / "cases")] + (["count"] if count else []),
                             capture_output=True, text=True, check=True).stdout
        return dict(line.split("=", 1) for line in out.split())
    return _run


def sign_text(key, header, payload, respell=False):
    """An RS256 token over a payload given as JSON text (or a header as text), the signature
    genuine; respell: the header and payload in a non-canonical base64url spelling (signed so)."""
    parts = [b64((h if isinstance(h, str) else json.dumps(h)).encode()) for h in (header, payload)]
    if respell:
        parts = [noncanonical(p) if len(p) % 4 else p for p in parts]
    signed = ".".join(parts).encode()
    return signed.decode() + "." + b64(key.sign(signed, padding.PKCS1v15(), hashes.SHA256()))


def noncanonical(part, n=1):
    """part with its last character's unused bits set (n: which of the other spellings): it
    decodes to the same bytes with a lenient decoder."""
    unused = {2: 16, 3: 4}[len(part) % 4]    # 4 or 2 bits of the last character carry no byte
    assert 0 < n < unused
    return part[:-1] + ALPHABET[ALPHABET.index(part[-1]) + n]


def respellable(**overrides):
    """claims whose JSON has a base64url form with unused bits (its length is not a multiple of 3)."""
    for n in range(3):
        c = claims(jti="j" * n, **overrides)
        if len(json.dumps(c)) % 3:
            return c
    raise AssertionError


# ---- 1. standard JSON only, finite numbers
def test_non_standard_json_and_non_finite_numbers_are_refused(run, keys):
    body = json.dumps(claims(exp=1234))
    out = run([
        ("plain", sign_text(keys["rsa"], RSA_H, body.replace("1234", str(NOW + 300)))),
        ("exp_nan", sign_text(keys["rsa"], RSA_H, body.replace("1234", "NaN"))),
        ("exp_infinity", sign_text(keys["rsa"], RSA_H, body.replace("1234", "Infinity"))),
        ("exp_hex", sign_text(keys["rsa"], RSA_H, body.replace("1234", "0x7FFFFFFF"))),
        ("exp_overflow", sign_text(keys["rsa"], RSA_H, body.replace("1234", "1e999"))),
        ("nbf_nan", sign_text(keys["rsa"], RSA_H, json.dumps(claims(nbf=0)).replace('"nbf": 0', '"nbf": NaN'))),
        ("other_claim_inf", sign_text(keys["rsa"], RSA_H, json.dumps(claims(n=1)).replace('"n": 1', '"n": [-1e999]'))),
        ("header_nan", sign_text(keys["rsa"], '{"alg": "RS256", "kid": "rsa-1", "x": NaN}', json.dumps(claims()))),
    ])
    assert out["plain"] == "ok"
    for name in ("exp_nan", "exp_infinity", "exp_hex", "exp_overflow", "nbf_nan", "other_claim_inf", "header_nan"):
        assert out[name] == "malformed", name


# ---- 2. header, then signature, then payload
def test_the_payload_is_read_only_after_the_signature_verifies(run, keys):
    forged = sign_text(keys["other"], RSA_H, "{not json")
    h, p, s = forged.split(".")
    out = run([
        ("not_json_forged", forged),
        ("not_json_signed", sign_text(keys["rsa"], RSA_H, "{not json")),
        ("not_an_object_signed", sign_text(keys["rsa"], RSA_H, '"text"')),
        ("unknown_kid_not_json", sign_text(keys["other"], dict(RSA_H, kid="rsa-9"), "{not json")),
        ("bad_alg_not_json", sign_text(keys["other"], dict(RSA_H, alg="HS256"), "{not json")),
        ("payload_not_base64", ".".join([h, p[:-2] + "*" + p[-1], s])),
    ])
    assert out["not_json_forged"] == "signature"
    assert out["not_json_signed"] == "malformed" and out["not_an_object_signed"] == "malformed"
    assert out["unknown_kid_not_json"] == "unknown_kid" and out["bad_alg_not_json"] == "algorithm_not_accepted"
    assert out["payload_not_base64"] == "malformed"


def test_a_forged_token_of_the_largest_size_is_refused_without_decoding_its_payload(run, keys):
    room = 8192 - len(sign(keys["rsa"], "RS256", RSA_H, claims(pad="")))
    big = claims(pad="x" * (room * 3 // 4 - 2))
    genuine = sign(keys["rsa"], "RS256", RSA_H, big)
    forged = sign(keys["other"], "RS256", RSA_H, big)
    assert 8180 < len(forged) <= 8192
    out = run([("genuine", genuine), ("forged", forged)], count=True, cache_entries=0)
    assert out["genuine"] == "ok" and out["forged"] == "signature"
    h, p, s = forged.split(".")
    assert int(out["genuine.b64"]) == len(h) + len(p) + len(s)
    # Only the header and the signature were decoded: the payload's 7.9 kB are hashed with the
    # signature check, never base64-decoded nor parsed.
    assert int(out["forged.b64"]) == len(h) + len(s)


def test_a_header_larger_than_1024_characters_is_refused_unread(run, keys):
    length = lambda x: len(b64(json.dumps(dict(RSA_H, x=x)).encode()))  # noqa: E731
    x = ""
    while length(x + "x") <= 1024:
        x += "x"
    assert length(x) <= 1024 < length(x + "x")
    out = run([("h1024", sign(keys["rsa"], "RS256", dict(RSA_H, x=x), claims())),
               ("h1025", sign(keys["rsa"], "RS256", dict(RSA_H, x=x + "x"), claims()))], count=True)
    assert out["h1024"] == "ok"
    assert out["h1025"] == "header_too_large" and out["h1025.b64"] == "0"


# ---- 3. canonical base64url
def test_only_the_canonical_base64url_spelling_verifies(run, keys):
    c = respellable()
    genuine = sign(keys["rsa"], "RS256", RSA_H, c)
    h, p, s = genuine.split(".")
    es = sign(keys["ec"], "ES256", {"alg": "ES256", "kid": "ec-1"}, c)
    cases = [("genuine", genuine), ("es256", es)]
    cases += [("sig%d" % n, ".".join([h, p, noncanonical(s, n)])) for n in range(1, 16)]   # 256 bytes: 4 unused bits
    cases += [("es_sig%d" % n, es[:-1] + noncanonical(es.split(".")[2], n)[-1]) for n in range(1, 16)]
    cases += [("signed_respelled", sign_text(keys["rsa"], RSA_H, json.dumps(c), respell=True)),
              ("padded", sign_text(keys["rsa"], RSA_H, json.dumps(c)) + "=="),
              ("standard_alphabet", ".".join([h, p, "+/" + s[2:]])),
              ("length_4n1", ".".join([h, p, s + "AAA"]))]
    out = run(cases)
    assert out["genuine"] == "ok" and out["es256"] == "ok"
    for name, _ in cases[2:]:
        assert out[name] == "malformed", name


# ---- 4. RFC 7235 scheme, RFC 7515 typ, RFC 6749 scope
def test_typ_is_a_case_insensitive_media_type(run, keys):
    typs = {"at_jwt": "at+jwt", "JWT": "JWT", "jwt": "jwt", "application_jwt": "application/jwt",
            "Application_AT_JWT": "Application/AT+JWT", "application_at_jwt": "application/at+jwt",
            "dpop": "application/dpop+jwt", "application": "application/", "application_only": "application",
            "not_a_string": 1}
    out = run([(name, sign(keys["rsa"], "RS256", dict(RSA_H, typ=typ), claims())) for name, typ in typs.items()])
    for name in ("at_jwt", "JWT", "jwt", "application_jwt", "Application_AT_JWT", "application_at_jwt"):
        assert out[name] == "ok", name
    for name in ("dpop", "application", "application_only", "not_a_string"):
        assert out[name] == "typ", name


def test_scopes_are_separated_by_spaces_only(run, keys):
    scoped = lambda scope: sign(keys["rsa"], "RS256", RSA_H, claims(scope=scope))  # noqa: E731
    out = run([("tab", scoped("predict:other\tpredict:fraud"), NOW, "fraud"),
               ("newline", scoped("predict:other\npredict:fraud"), NOW, "fraud"),
               ("spaces", scoped("predict:other  predict:fraud "), NOW, "fraud")])
    assert out == {"tab": "forbidden:predict:fraud", "newline": "forbidden:predict:fraud", "spaces": "ok", "cache": "3"}


# The inference script's line that reads the bearer value, run alone for each request line
# "NAME AUTHORIZATION" (the rest of the script is tests/unit/roles/lighttpd/test_inference_lua.py's); prints
# NAME=VALUE (- for none).
SCHEME_HARNESS = r"""
local bearer_line = assert(io.open(arg[1])):read("a")
for line in io.lines(arg[2]) do
  local name, value = line:match("^(%S+) (.*)$")
  local r = {req_header = {Authorization = value}}
  local read = assert(load(bearer_line .. "\nreturn bearer", "=bearer", "t", {r = r}))
  print(name .. "=" .. (read() or "-"))
end
"""


def test_the_bearer_scheme_is_case_insensitive(tmp_path):
    if LUA is None:
        pytest.fail("lua5.4 is missing: `make unit` installs it")
    script = jinja2.Template(open(TEMPLATE).read()).render(**VARS)
    lines = re.findall(r"^local bearer = .*$", script, re.M)
    assert len(lines) == 1
    (tmp_path / "bearer.lua").write_text(lines[0])
    (tmp_path / "harness.lua").write_text(SCHEME_HARNESS)
    requests = {"Bearer": "Bearer key-1", "bearer": "bearer key-2", "BEARER": "BEARER key-3",
                "BeArEr": "BeArEr  key-4 ", "Basic": "Basic key-5", "glued": "Bearerkey-6", "empty": "Bearer "}
    (tmp_path / "requests").write_text("".join("%s %s\n" % item for item in requests.items()))
    out = subprocess.run([LUA, str(tmp_path / "harness.lua"), str(tmp_path / "bearer.lua"),
                          str(tmp_path / "requests")], capture_output=True, text=True, check=True).stdout
    assert dict(re.findall(r"(\w+)=(\S+)", out)) == {"Bearer": "key-1", "bearer": "key-2", "BEARER": "key-3",
                                                    "BeArEr": "key-4", "Basic": "-", "glued": "-", "empty": "-"}


# ---- 5. the keys file
def test_keys_file_entries_that_are_not_keys_are_skipped(run, keys):
    usable, _ = oidc_keys.usable_keys({"keys": [jwk_of(keys["rsa"], "rsa-1", "RS256"), jwk_of(keys["ec"], "ec-1")]},
                                      ["RS256", "ES256"])
    doc = {"issuer": ISSUER, "keys": dict(usable, text="oops", null=None, number=3, list=["x", 1], empty={},
                                          no_pem={"kty": "RSA"}, bad_pem=dict(usable["rsa-1"], pem="garbage"),
                                          table_pem=dict(usable["rsa-1"], pem={"type": "RSA"}),
                                          oct={"kty": "oct", "pem": usable["rsa-1"]["pem"]})}
    cases = [("rs256", sign(keys["rsa"], "RS256", RSA_H, claims())),
             ("es256", sign(keys["ec"], "ES256", {"alg": "ES256", "kid": "ec-1"}, claims()))]
    cases += [(kid, sign(keys["rsa"], "RS256", dict(RSA_H, kid=kid), claims()))
              for kid in ("text", "null", "number", "list", "empty", "no_pem", "bad_pem", "table_pem", "oct")]
    out = run(cases, keys_doc=doc)
    assert out["rs256"] == "ok" and out["es256"] == "ok"
    for kid, _ in cases[2:]:
        assert out[kid] == "unknown_kid", kid


def test_a_keys_file_that_cannot_be_read_keeps_the_keys_in_use(run, keys, tmp_path):
    good = (tmp_path / "keys.json")
    (tmp_path / "truncated.json").write_text('{"issuer": "%s", "keys": {"rsa-1": {"kty": "RSA", "pe' % ISSUER)
    (tmp_path / "no_keys.json").write_text(json.dumps({"issuer": ISSUER}))
    (tmp_path / "other_issuer.json").write_text(json.dumps({"issuer": "https://evil.test", "keys": {}}))
    token = lambda n: sign(keys["rsa"], "RS256", RSA_H, claims(jti=str(n)))  # noqa: E731
    out = run([("before", token(1), NOW),
               "@keys_file %s" % (tmp_path / "truncated.json"), ("truncated", token(2), NOW + 2),
               "@keys_file %s" % (tmp_path / "no_keys.json"), ("no_keys", token(3), NOW + 4),
               "@keys_file %s" % (tmp_path / "missing.json"), ("missing", token(4), NOW + 6),
               "@keys_file %s" % (tmp_path / "other_issuer.json"), ("other_issuer", token(5), NOW + 8),
               "@keys_file %s" % good, ("back", token(6), NOW + 10)], cache_entries=0)
    assert out == {"before": "ok", "truncated": "ok", "no_keys": "ok", "missing": "ok",
                   "other_issuer": "unknown_kid", "back": "ok", "cache": "0"}


def test_one_kid_may_name_an_rsa_and_an_ec_key(run, keys):
    """RFC 7517 4.5: a list of keys under one kid; the token's alg chooses (RS* RSA, ES* EC)."""
    usable, _ = oidc_keys.usable_keys({"keys": [jwk_of(keys["rsa"], "rsa-1", "RS256"), jwk_of(keys["ec"], "ec-1")]},
                                      ["RS256", "ES256"])
    doc = {"issuer": ISSUER, "keys": {"both": [usable["ec-1"], "junk", usable["rsa-1"]], "ec-only": [usable["ec-1"]],
                                      "single": usable["rsa-1"]}}
    out = run([("rs256", sign(keys["rsa"], "RS256", dict(RSA_H, kid="both"), claims())),
               ("es256", sign(keys["ec"], "ES256", {"alg": "ES256", "kid": "both"}, claims())),
               ("other_key", sign(keys["other"], "RS256", dict(RSA_H, kid="both"), claims())),
               ("rs256_ec_only", sign(keys["rsa"], "RS256", dict(RSA_H, kid="ec-only"), claims())),
               ("single", sign(keys["rsa"], "RS256", dict(RSA_H, kid="single"), claims()))], keys_doc=doc)
    assert out["rs256"] == "ok" and out["es256"] == "ok" and out["single"] == "ok"
    assert out["other_key"] == "signature" and out["rs256_ec_only"] == "signature"


# ---- 6. RFC 9068 at+jwt as a setting
def test_at_jwt_can_be_required(run, keys):
    tokens = [(name, sign(keys["rsa"], "RS256", {k: v for k, v in dict(RSA_H, typ=typ).items() if v is not None},
                          claims()))
              for name, typ in (("at_jwt", "at+jwt"), ("application_at_jwt", "application/AT+JWT"), ("JWT", "JWT"),
                                ("absent", None))]
    strict = run(tokens, require_at_jwt=True)
    assert strict == {"at_jwt": "ok", "application_at_jwt": "ok", "JWT": "typ", "absent": "typ", "cache": "2"}
    assert run(tokens, require_at_jwt=False) == dict(strict, JWT="ok", absent="ok", cache="4")
    assert run(tokens) == dict(strict, JWT="ok", absent="ok", cache="4")          # the default: not required
    assert run(tokens, require_at_jwt="true")["JWT"] == "typ"                     # as a string, too
