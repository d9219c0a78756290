# -*- coding: utf-8 -*-
# Installed by the lighttpd role of lighttpd_tensorflow.serving (docs/authentication.md).
"""Fetch an OpenID issuer's signing keys for the edge (lighttpd-edge-oidc-keys.service).

Reads the issuer's /.well-known/openid-configuration (its "issuer" must be the configured one,
OpenID Connect Discovery 1.0, 4.3), then its jwks_uri, both over HTTPS with certificate checks
(a redirect is followed only to another https:// URL). Keeps the keys the edge can use and that
are sane (RSA of 2048 to 8192 bits with an odd public exponent from 3 to 2^32-1, EC with a point
on P-256/P-384/P-521, with a kid, for signing, of an accepted algorithm), converts each to PEM
(SubjectPublicKeyInfo), and replaces STATE_DIR/keys.json atomically; the edge's inference script
re-reads it within a second. A bad key in a JWK Set is left out; any other failure (no answer, a
broken answer, not a JWK Set, no usable key) changes no key: the last good keys keep working.
Each run writes STATE_DIR/metrics.prom (Prometheus text, read by the edge's exporter) and exits 1
on failure, so the failure is in the journal, in the unit's state and in the metrics.

Runs are at least --min-interval seconds apart (a run that comes sooner waits, never longer than
that): tokens with an unknown key ask for a fetch, and a client sending many cannot make the host
hammer the issuer. Standard library only. Usage: lighttpd-edge-oidc-keys.py --config FILE
"""
import argparse
import base64
import fcntl
import http.client
import json
import math
import os
import re
import signal
import ssl
import sys
import tempfile
import time
import traceback
import urllib.parse
import urllib.request

MAX_DOCUMENT = 1024 * 1024
TIMEOUT = 10
# The whole fetch (both documents, redirects, an issuer answering a byte at a time: each read
# within TIMEOUT): the unit's TimeoutStartSec is min_interval + 60, and a run systemd kills
# counts no failure.
FETCH_DEADLINE = 45
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
ALG_FOR_CURVE = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
CURVE_OID = {"P-256": "2a8648ce3d030107", "P-384": "2b81040022", "P-521": "2b81040023"}
CURVE_BYTES = {"P-256": 32, "P-384": 48, "P-521": 66}
# y^2 = x^3 - 3x + b (mod p): the field prime p and b of each curve (FIPS 186-4, D.1.2).
CURVE_P = {"P-256": 2**256 - 2**224 + 2**192 + 2**96 - 1,
           "P-384": 2**384 - 2**128 - 2**96 + 2**32 - 1,
           "P-521": 2**521 - 1}
CURVE_B = {name: int(b, 16) for name, b in {
    "P-256": "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
    "P-384": "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
    "P-521": "051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf"
             "073573df883d2c34f1ef451fd46b503f00",
}.items()}
RSA_OID = "2a864886f70d010101"
EC_OID = "2a8648ce3d0201"
B64URL = re.compile(r"[A-Za-z0-9_-]+\Z")


class FetchError(Exception):
    pass


def _show(value):
    """A JSON value for a message: a string shortened, anything else by its type only (its text
    may be a megabyte, or nested deeper than repr() goes)."""
    if isinstance(value, str):
        return "%.60r" % value
    return {dict: "an object", list: "an array", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "null")


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
    # Strictly the base64url alphabet, unpadded: the decoder alone would skip other characters.
    if not isinstance(text, str) or not B64URL.match(text) or len(text) % 4 == 1:
        raise ValueError("not a base64url string")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk_to_pem(jwk):
    """The PEM SubjectPublicKeyInfo of an RSA or EC public JWK (RFC 7518 6.2, 6.3), if it is sane."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "RSA":
        n, e = _b64url(jwk["n"]), _b64url(jwk["e"])
        modulus, exponent = int.from_bytes(n, "big"), int.from_bytes(e, "big")
        if not MIN_RSA_BITS <= modulus.bit_length() <= MAX_RSA_BITS:
            raise ValueError("RSA key of %d bits (%d to %d accepted)"
                             % (modulus.bit_length(), MIN_RSA_BITS, MAX_RSA_BITS))
        if modulus % 2 == 0:
            raise ValueError("RSA modulus even")
        # e = 1 makes every "signature" valid (s^1 = s): anyone could forge a token. An even e
        # is no RSA key; OpenSSL and the common libraries take odd e from 3 below 2^32.
        if not (3 <= exponent < 2**32 and exponent % 2 == 1):
            raise ValueError("RSA public exponent %s (odd, 3 to 2^32-1 accepted)"
                             % (exponent if exponent < 2**64 else "of %d bits" % exponent.bit_length()))
        algorithm = _der(0x30, _der(0x06, bytes.fromhex(RSA_OID)) + b"\x05\x00")
        key = _der(0x30, _der_uint(n) + _der_uint(e))
    elif kty == "EC" and isinstance(crv, str) and crv in CURVE_OID:
        size, p = CURVE_BYTES[crv], CURVE_P[crv]
        x, y = _b64url(jwk["x"]), _b64url(jwk["y"])
        if len(x) != size or len(y) != size:
            raise ValueError("EC coordinates of the wrong size for %s" % crv)
        px, py = int.from_bytes(x, "big"), int.from_bytes(y, "big")
        # A point off the curve is not a public key (invalid-curve attacks); all three curves
        # have cofactor 1, so a point on the curve is in the signing group.
        if px >= p or py >= p:
            raise ValueError("EC coordinates not below the field prime of %s" % crv)
        if (py * py - (px * px * px - 3 * px + CURVE_B[crv])) % p:
            raise ValueError("EC point not on %s" % crv)
        algorithm = _der(0x30, _der(0x06, bytes.fromhex(EC_OID)) + _der(0x06, bytes.fromhex(CURVE_OID[crv])))
        key = b"\x04" + x + y
    else:
        raise ValueError("key type %s/%s not supported" % (_show(kty), _show(crv)))
    der = _der(0x30, algorithm + _der(0x03, b"\0" + key))
    text = base64.b64encode(der).decode()
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def usable_key(jwk, algorithms):
    """(kid, {kty, crv, alg, pem}, the accepted algorithms it verifies) for a JWK the edge may
    verify with; ValueError says why not."""
    if not isinstance(jwk, dict):
        raise ValueError("an entry that is not a key (%s)" % _show(jwk))
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ValueError("a key without kid")
    try:
        kid.encode("utf-8")
    except UnicodeError:
        raise ValueError("a key whose kid is not Unicode text (%s)" % _show(kid)) from None
    name = _show(kid)
    # RFC 7517 4.2, 4.3: "use" absent or "sig"; "key_ops", when present, a list allowing "verify".
    if jwk.get("use", "sig") != "sig":
        raise ValueError("%s: not for signatures (use %s)" % (name, _show(jwk.get("use"))))
    if "key_ops" in jwk and not (isinstance(jwk["key_ops"], list) and "verify" in jwk["key_ops"]):
        raise ValueError("%s: not for verifying (key_ops %s)" % (name, _show(jwk["key_ops"])))
    alg = jwk.get("alg")
    if alg is not None and not (isinstance(alg, str) and alg in algorithms):
        raise ValueError("%s: algorithm %s not accepted" % (name, _show(alg)))
    kty, crv = jwk.get("kty"), jwk.get("crv")
    fits = [a for a in algorithms if ((kty == "RSA" and a.startswith("RS"))
                                      or (kty == "EC" and isinstance(crv, str) and a == ALG_FOR_CURVE.get(crv)))
            and alg in (None, a)]
    if not fits:
        raise ValueError("%s: %s key fits no accepted algorithm" % (name, _show(kty)))
    try:
        pem = jwk_to_pem(jwk)
    except (KeyError, ValueError, TypeError) as error:
        raise ValueError("%s: %s" % (name, error)) from None
    return kid, {"kty": kty, "crv": crv if kty == "EC" else None, "alg": alg, "pem": pem}, fits


def usable_keys(jwks, algorithms):
    """kid -> {kty, crv, alg, pem} for the keys the edge may verify with, or a list of those when
    a kid names more than one key; and the reasons others were left out.

    RFC 7517 4.5 lets one kid name keys of different types (an RSA and an EC key, equivalent
    alternatives): the token's alg then says which one verifies it, the verifier taking the first
    key of the list whose type (and own alg, if any) fits. A key that verifies no algorithm an
    earlier key of its kid does not (a second RSA key under one kid) is left out: the first one
    in the JWK Set stays, as the verifier would use it anyway. A kid naming one key has the entry
    itself, as before lists existed.
    """
    found, covered, skipped = {}, {}, []
    for jwk in jwks.get("keys") if isinstance(jwks, dict) and isinstance(jwks.get("keys"), list) else []:
        try:
            kid, entry, fits = usable_key(jwk, algorithms)
        except ValueError as error:
            skipped.append(str(error))
            continue
        if covered.setdefault(kid, set()).issuperset(fits):
            skipped.append("%s: another key comes first under this kid for %s" % (_show(kid), ", ".join(fits)))
            continue
        covered[kid].update(fits)
        found.setdefault(kid, []).append(entry)
    keys = {kid: entries[0] if len(entries) == 1 else entries for kid, entries in found.items()}
    return keys, skipped


def count_keys(keys):
    return sum(len(entry) if isinstance(entry, list) else 1 for entry in keys.values())


class HttpsRedirectsOnly(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to an https:// URL: urllib's own handler also follows one to
    http:// (or ftp://), where anyone on the path could answer with their keys."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        # Closed here, the redirect's body is not read (urllib reads it whole, however large).
        fp.close()
        if urllib.parse.urlsplit(newurl).scheme != "https":
            raise FetchError("%.200s: redirected to %.200s, not an https:// URL" % (req.full_url, newurl))
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch_json(url, context):
    where = url[:200]
    if not url.startswith("https://"):
        raise FetchError("%s is not an https:// URL" % where)
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), HttpsRedirectsOnly)
    try:
        request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                       "User-Agent": "lighttpd-edge-oidc-keys"})
        with opener.open(request, timeout=TIMEOUT) as answer:
            if answer.status != 200:
                raise FetchError("%s: HTTP status %s, not 200" % (where, answer.status))
            body = answer.read(MAX_DOCUMENT + 1)
    # http.client.HTTPException: a broken status line, header or chunk; an invalid URL.
    except (OSError, ValueError, http.client.HTTPException) as error:
        raise FetchError("%s: %s" % (where, error)) from None
    if len(body) > MAX_DOCUMENT:
        raise FetchError("%s: larger than %d bytes" % (where, MAX_DOCUMENT))
    try:
        # JSON between systems is UTF-8 (RFC 8259 8.1); json.loads would also take UTF-16/32.
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise FetchError("%s: not UTF-8 (%s)" % (where, error)) from None
    except RecursionError:
        raise FetchError("%s: JSON nested too deeply" % where) from None
    except ValueError as error:
        raise FetchError("%s: not JSON (%s)" % (where, error)) from None


def fetch_keys(config):
    context = ssl.create_default_context(cafile=config.get("ca_file") or None)
    issuer = config["issuer"]
    discovery = fetch_json(issuer.rstrip("/") + "/.well-known/openid-configuration", context)
    if not isinstance(discovery, dict) or discovery.get("issuer") != issuer:
        raise FetchError("the discovery document names issuer %s, not %r"
                         % (_show(discovery.get("issuer") if isinstance(discovery, dict) else None), issuer))
    jwks_uri = discovery.get("jwks_uri")
    if not isinstance(jwks_uri, str):
        raise FetchError("the discovery document has no jwks_uri")
    jwks = fetch_json(jwks_uri, context)
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise FetchError("%.200s: not a JWK Set (an object with a list of keys)" % jwks_uri)
    keys, skipped = usable_keys(jwks, config["algorithms"])
    if not keys:
        raise FetchError("%.200s holds no usable key (%s)" % (jwks_uri, "; ".join(skipped) or "empty"))
    return keys, skipped


def within_deadline(seconds, function, *args):
    """function(*args), interrupted by a FetchError after `seconds` (SIGALRM: only the main
    thread has signals; elsewhere, as in a test's thread, without a deadline)."""
    def expired(signum, frame):
        raise FetchError("no answer within %d s" % seconds)
    try:
        previous = signal.signal(signal.SIGALRM, expired)
    except ValueError:
        return function(*args)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return function(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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


def read_status(path):
    """The last run's status.json; a field that is not a finite number >= 0 (a damaged file)
    counts as 0, a file that cannot be read as none."""
    try:
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
    except (OSError, ValueError, RecursionError):
        saved = None
    if not isinstance(saved, dict):
        saved = {}

    def number(name):
        value = saved.get(name)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
        return value if ok else 0
    status = {name: int(number(name)) for name in ("last_attempt", "last_success", "consecutive_failures", "keys")}
    status["last_attempt_monotonic"] = float(number("last_attempt_monotonic"))
    status["boot_id"] = saved.get("boot_id") if isinstance(saved.get("boot_id"), str) else ""
    return status


def boot_id():
    """This boot's id: time.monotonic() (CLOCK_MONOTONIC, since boot for every process) is
    comparable between runs of the same boot only."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip()
    except (OSError, ValueError):
        return ""


def spacing_wait(status, min_interval, wall, monotonic, boot):
    """How long to wait for this run to be min_interval after the last one, never more than
    min_interval. The wall clock steps (NTP, an operator): after a step back the last attempt is
    in the future, and the wait would be as long as the step. The monotonic clock does not step;
    on another boot (or without a boot id) only the wall clock is there. A run waits only while
    both clocks say min_interval has not passed (the monotonic clock stops in suspend)."""
    wait = status["last_attempt"] + min_interval - wall
    if boot and status["boot_id"] == boot and status["last_attempt_monotonic"] > 0:
        wait = min(wait, status["last_attempt_monotonic"] + min_interval - monotonic)
    return min(max(wait, 0.0), min_interval)


def run(config, now=time.time, sleep=time.sleep, monotonic=time.monotonic):
    state_dir = config["state_dir"]
    status_path = os.path.join(state_dir, "status.json")
    status = read_status(status_path)
    min_interval = max(0.0, float(config["min_interval"]))
    boot = boot_id()
    wait = spacing_wait(status, min_interval, now(), monotonic(), boot)
    if wait > 0:
        sleep(wait)
    status.update(last_attempt=int(now()), last_attempt_monotonic=monotonic(), boot_id=boot)
    try:
        keys, skipped = within_deadline(FETCH_DEADLINE, fetch_keys, config)
        document = {"issuer": config["issuer"], "fetched": status["last_attempt"], "keys": keys}
        write_atomically(os.path.join(state_dir, "keys.json"), json.dumps(document, indent=1, sort_keys=True) + "\n")
    # Every failure counts, also one this script did not foresee (it is a bug: the traceback
    # says where); either way keys.json is the last good one.
    except Exception as error:  # pylint: disable=broad-except
        if not isinstance(error, FetchError):
            traceback.print_exc()
        status["consecutive_failures"] += 1
        print("lighttpd-edge-oidc-keys: fetching the keys of %s failed: %s; the edge keeps the %d keys it has"
              % (config["issuer"], error, status["keys"]), file=sys.stderr)
        code = 1
    else:
        status.update(last_success=status["last_attempt"], consecutive_failures=0, keys=count_keys(keys))
        for reason in skipped:
            print("lighttpd-edge-oidc-keys: left out %s" % reason, file=sys.stderr)
        print("lighttpd-edge-oidc-keys: %d keys of %s: %s"
              % (status["keys"], config["issuer"], ", ".join(sorted(keys))))
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
