# -*- coding: utf-8 -*-
# Installed by the lighttpd role of lighttpd_tensorflow.serving (docs/authentication.md).
"""Fetch an OpenID issuer's signing keys for the edge (lighttpd-edge-oidc-keys.service).

Reads the issuer's /.well-known/openid-configuration (its "issuer" must be the configured one,
OpenID Connect Discovery 1.0, 4.3), then its jwks_uri, both over HTTPS with certificate checks.
Keeps the keys the edge can use (RSA of 2048 bits or more, EC on P-256/P-384/P-521, with a kid,
not for encryption, of an accepted algorithm), converts each to PEM (SubjectPublicKeyInfo), and
replaces STATE_DIR/keys.json atomically; the edge's inference script re-reads it within a second.
A failed fetch changes no key: the last good keys keep working. Each run writes
STATE_DIR/metrics.prom (Prometheus text, read by the edge's exporter) and exits 1 on failure, so
the failure is in the journal and in the unit's state.

Runs are at least --min-interval seconds apart (a run that comes sooner waits): tokens with an
unknown key ask for a fetch, and a client sending many cannot make the host hammer the issuer.
Standard library only. Usage: lighttpd-edge-oidc-keys.py --config FILE
"""
import argparse
import base64
import fcntl
import json
import os
import ssl
import sys
import tempfile
import time
import urllib.request

MAX_DOCUMENT = 1024 * 1024
TIMEOUT = 10
MIN_RSA_BITS = 2048
ALG_FOR_CURVE = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
CURVE_OID = {"P-256": "2a8648ce3d030107", "P-384": "2b81040022", "P-521": "2b81040023"}
CURVE_BYTES = {"P-256": 32, "P-384": 48, "P-521": 66}
RSA_OID = "2a864886f70d010101"
EC_OID = "2a8648ce3d0201"


class FetchError(Exception):
    pass


# ---- DER, just what a SubjectPublicKeyInfo needs
def _der(tag, body):
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + body


def _der_uint(data):
    data = data.lstrip(b"\0") or b"\0"
    if data[0] & 0x80:
        data = b"\0" + data
    return _der(0x02, data)


def _b64url(text):
    if not isinstance(text, str) or not text:
        raise ValueError("not a base64url string")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk_to_pem(jwk):
    """The PEM SubjectPublicKeyInfo of an RSA or EC public JWK (RFC 7518 6.2, 6.3)."""
    if jwk.get("kty") == "RSA":
        n, e = _b64url(jwk["n"]), _b64url(jwk["e"])
        if int.from_bytes(n, "big").bit_length() < MIN_RSA_BITS:
            raise ValueError("RSA key under %d bits" % MIN_RSA_BITS)
        algorithm = _der(0x30, _der(0x06, bytes.fromhex(RSA_OID)) + b"\x05\x00")
        key = _der(0x30, _der_uint(n) + _der_uint(e))
    elif jwk.get("kty") == "EC" and jwk.get("crv") in CURVE_OID:
        size = CURVE_BYTES[jwk["crv"]]
        x, y = _b64url(jwk["x"]), _b64url(jwk["y"])
        if len(x) != size or len(y) != size:
            raise ValueError("EC coordinates of the wrong size for %s" % jwk["crv"])
        algorithm = _der(0x30, _der(0x06, bytes.fromhex(EC_OID)) + _der(0x06, bytes.fromhex(CURVE_OID[jwk["crv"]])))
        key = b"\x04" + x + y
    else:
        raise ValueError("key type %r/%r not supported" % (jwk.get("kty"), jwk.get("crv")))
    der = _der(0x30, algorithm + _der(0x03, b"\0" + key))
    text = base64.b64encode(der).decode()
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def usable_keys(jwks, algorithms):
    """kid -> {kty, crv, alg, pem} for the keys the edge may verify with; and the reasons others were left out."""
    keys, skipped = {}, []
    for jwk in jwks.get("keys", []) if isinstance(jwks, dict) else []:
        if not isinstance(jwk, dict):
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            skipped.append("a key without kid")
            continue
        if jwk.get("use", "sig") != "sig":
            continue
        alg = jwk.get("alg")
        if alg is not None and alg not in algorithms:
            skipped.append("%s: algorithm %s not accepted" % (kid, alg))
            continue
        kty = jwk.get("kty")
        fits = [a for a in algorithms if (kty == "RSA" and a.startswith("RS"))
                or (kty == "EC" and a == ALG_FOR_CURVE.get(jwk.get("crv")))]
        if not fits:
            skipped.append("%s: %s key fits no accepted algorithm" % (kid, kty))
            continue
        try:
            pem = jwk_to_pem(jwk)
        except (KeyError, ValueError, TypeError) as error:
            skipped.append("%s: %s" % (kid, error))
            continue
        keys[kid] = {"kty": kty, "crv": jwk.get("crv"), "alg": alg, "pem": pem}
    return keys, skipped


def fetch_json(url, context):
    if not url.startswith("https://"):
        raise FetchError("%s is not an https:// URL" % url)
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "User-Agent": "lighttpd-edge-oidc-keys"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=context) as answer:
            body = answer.read(MAX_DOCUMENT + 1)
    except (OSError, ValueError) as error:
        raise FetchError("%s: %s" % (url, error)) from None
    if len(body) > MAX_DOCUMENT:
        raise FetchError("%s: larger than %d bytes" % (url, MAX_DOCUMENT))
    try:
        return json.loads(body)
    except ValueError as error:
        raise FetchError("%s: not JSON (%s)" % (url, error)) from None


def fetch_keys(config):
    context = ssl.create_default_context(cafile=config.get("ca_file") or None)
    issuer = config["issuer"]
    discovery = fetch_json(issuer.rstrip("/") + "/.well-known/openid-configuration", context)
    if not isinstance(discovery, dict) or discovery.get("issuer") != issuer:
        raise FetchError("the discovery document names issuer %r, not %r"
                         % (discovery.get("issuer") if isinstance(discovery, dict) else None, issuer))
    jwks_uri = discovery.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise FetchError("the discovery document has no jwks_uri")
    keys, skipped = usable_keys(fetch_json(jwks_uri, context), config["algorithms"])
    if not keys:
        raise FetchError("%s holds no usable key (%s)" % (jwks_uri, "; ".join(skipped) or "empty"))
    return keys, skipped


def write_atomically(path, text, mode=0o644):
    directory = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def metrics(status):
    families = [
        ("lighttpd_edge_oidc_keys", "gauge", "Signing keys of the OpenID issuer the edge verifies tokens with.",
         status["keys"]),
        ("lighttpd_edge_oidc_keys_fetch_failures", "gauge",
         "Failed fetches of the issuer's keys since the last good one (0: the last fetch worked).",
         status["consecutive_failures"]),
        ("lighttpd_edge_oidc_keys_last_success_timestamp_seconds", "gauge",
         "When the issuer's keys were last fetched (0: never).", status["last_success"]),
        ("lighttpd_edge_oidc_keys_last_attempt_timestamp_seconds", "gauge",
         "When a fetch of the issuer's keys was last tried.", status["last_attempt"]),
    ]
    lines = []
    for name, kind, text, value in families:
        lines += ["# HELP %s %s" % (name, text), "# TYPE %s %s" % (name, kind), "%s %s" % (name, value)]
    return "\n".join(lines) + "\n"


def run(config, now=time.time, sleep=time.sleep):
    state_dir = config["state_dir"]
    status_path = os.path.join(state_dir, "status.json")
    try:
        with open(status_path, encoding="utf-8") as handle:
            status = json.load(handle)
    except (OSError, ValueError):
        status = {}
    status = {"last_attempt": status.get("last_attempt", 0), "last_success": status.get("last_success", 0),
              "consecutive_failures": status.get("consecutive_failures", 0), "keys": status.get("keys", 0)}
    wait = status["last_attempt"] + float(config["min_interval"]) - now()
    if wait > 0:
        sleep(wait)
    status["last_attempt"] = int(now())
    try:
        keys, skipped = fetch_keys(config)
    except FetchError as error:
        status["consecutive_failures"] += 1
        print("lighttpd-edge-oidc-keys: fetching the keys of %s failed: %s; the edge keeps the %d keys it has"
              % (config["issuer"], error, status["keys"]), file=sys.stderr)
        code = 1
    else:
        document = {"issuer": config["issuer"], "fetched": status["last_attempt"], "keys": keys}
        write_atomically(os.path.join(state_dir, "keys.json"), json.dumps(document, indent=1, sort_keys=True) + "\n")
        status.update(last_success=status["last_attempt"], consecutive_failures=0, keys=len(keys))
        for reason in skipped:
            print("lighttpd-edge-oidc-keys: left out %s" % reason, file=sys.stderr)
        print("lighttpd-edge-oidc-keys: %d keys of %s: %s" % (len(keys), config["issuer"], ", ".join(sorted(keys))))
        code = 0
    write_atomically(status_path, json.dumps(status, sort_keys=True) + "\n")
    write_atomically(os.path.join(state_dir, "metrics.prom"), metrics(status))
    return code


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="JSON: issuer, algorithms, ca_file, state_dir, min_interval")
    args = parser.parse_args(argv)
    with open(args.config, encoding="utf-8") as handle:
        config = json.load(handle)
    with open(os.path.join(config["state_dir"], ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return run(config)


if __name__ == "__main__":
    sys.exit(main())
