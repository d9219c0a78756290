# -*- coding: utf-8 -*-
"""make bench: a static OpenID issuer on the bench host's loopback, for the access-token runs.

`issuer.py setup` makes an RSA signing key, the discovery document and JWKS under
/opt/bench/issuer/www, a self-signed HTTPS certificate for localhost, and prints one RS256
access token valid for an hour (what a provider's client-credentials grant gives);
`issuer.py serve` serves the documents at https://localhost:9443; `issuer.py forge BYTES` prints
a forged token of BYTES characters: a header naming the issuer's key (RS256), a payload padded
to the size, a signature of the right length that is not the key's. Runs with the bench host's
python3-cryptography (the lighttpd role installs it on edges). Benchmark fixture only.
"""
import base64
import datetime
import http.server
import json
import os
import ssl
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

DIR = "/opt/bench/issuer"
ISSUER = "https://localhost:9443"
AUDIENCE = "https://bench/v1"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def setup():
    os.makedirs(DIR + "/www/.well-known", exist_ok=True)
    tls_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(tls_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(tls_key, hashes.SHA256()))
    with open(DIR + "/tls.pem", "wb") as out:
        out.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(DIR + "/tls.key", "wb") as out:
        out.write(tls_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    key = rsa.generate_private_key(65537, 2048)
    numbers = key.public_key().public_numbers()
    jwk = {"kty": "RSA", "kid": "bench-1", "alg": "RS256", "use": "sig",
           "n": b64(numbers.n.to_bytes(256, "big")), "e": b64(numbers.e.to_bytes(3, "big"))}
    with open(DIR + "/www/.well-known/openid-configuration", "w") as out:
        json.dump({"issuer": ISSUER, "jwks_uri": ISSUER + "/jwks"}, out)
    with open(DIR + "/www/jwks", "w") as out:
        json.dump({"keys": [jwk]}, out)
    header = {"alg": "RS256", "kid": "bench-1", "typ": "at+jwt"}
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "bench", "client_id": "bench", "iat": int(time.time()),
              "exp": int(time.time()) + 3600, "scope": "predict"}
    signed = (b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())).encode()
    print(signed.decode() + "." + b64(key.sign(signed, padding.PKCS1v15(), hashes.SHA256())))


def forge(size):
    header = b64(json.dumps({"alg": "RS256", "kid": "bench-1", "typ": "at+jwt"}).encode())
    signature = b64(os.urandom(256))
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "forger", "exp": int(time.time()) + 3600, "scope": "predict",
              "pad": ""}
    base = len(header) + len(signature) + 2 + len(b64(json.dumps(claims).encode()))
    claims["pad"] = "x" * ((int(size) - base) * 3 // 4)
    print(header + "." + b64(json.dumps(claims).encode()) + "." + signature)


def serve():
    os.chdir(DIR + "/www")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 9443), http.server.SimpleHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(DIR + "/tls.pem", DIR + "/tls.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    {"setup": setup, "serve": serve, "forge": forge}[sys.argv[1]](*sys.argv[2:])
