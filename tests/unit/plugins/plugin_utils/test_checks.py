"""The variable rules behind the check_variables filter: what each accepts and refuses."""
import pytest

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import checks

GOOD_AND_BAD = {
    "port": ([1, 443, 65535, "8080"], [0, -1, 65536, "443\n", "80 81", True, None, 1.5]),
    "port_or_0": ([0, 80], [-1, 70000]),
    "port_range_or_empty": (["", "1024 65535", "40000 42047"], ["1023 2000", "2000 2000", "3000 2000", "1024\t2048",
                                                                 "1024 70000", 40000, "40000-42047"]),
    "seconds": ([1, 35], [0, -5, "2s"]),
    "host": (["edge1", "edge.example.org", "10.0.0.1", "fd00::1"],
             ["", "edge\nserver.port = 81", 'a"b', "-edge", "edge_1"]),
    "bind": (["127.0.0.1:8080", "[::1]:80", "0.0.0.0:443"], ["localhost:8080", "127.0.0.1", "1.2.3.4:0", "[x]:80"]),
    "loopback_bind": (["127.0.0.1:9080", "[::1]:9080"], ["0.0.0.0:9080", "10.0.0.1:9080"]),
    "path": (["/etc/x", "/run/lighttpd-static/static.sock"], ["etc/x", "/etc/x\n", "/a b", "/a/../b", ""]),
    "private_dir": (["/var/lib/tfserving/models"], ["/tmp", "/tmp/models", "/var/tmp/x", "/dev/shm/x"]),
    "url": (["http://edge1:8080", "https://example.org/apt"], ["ftp://x", "http://x y", "http://x\n", "x"]),
    "https_url": (["https://example.org"], ["http://example.org"]),
    "sha256_list": ([[], ["a" * 64]], [["a" * 64 + "\n"], ["key"], "a" * 64]),
    "unprivileged_account": (["www-data", "tfserving"], ["root", "0", "www data", "Www"]),
    "packages": ([["lighttpd"]], [[], ["lighttpd; rm -rf /"]]),
    "version_or_empty": (["", "2.20.1"], ["latest", '2.20.1"\nPin-Priority: -1']),
    "headers": ([{"X-Frame-Options": "DENY"}], [{"Bad Header": "x"}, {"X": "a\r\nSet-Cookie: b"}]),
    "backends": ([[{"host": "10.0.0.1", "port": 8501}]], [[{"host": '1.2.3.4"', "port": 1}], [{"host": "a"}]]),
    "sources": ([["10.0.0.0/8", "fd00::/8", "10.0.0.1"]], [["10.0.0.0/33"], ["edge1"]]),
    "trusted_proxies": ([[], ["10.0.0.0/8", "fd00::/8", "10.0.0.1"]],
                        [["0.0.0.0/0"], ["::/0"], "10.0.0.1", ["10.0.0.300"], ["lb1"]]),
    "ipv6_prefix": ([1, 48, 64, 128], [0, 129, "64 "]),
    "count_or_0": ([0, 1, 1000000], [-1, "64 ", 1000001]),
    "instance_names": ([[{"name": "admin"}, {"name": "a" * 23}]], [[{"name": "a" * 24}], [{"name": "Bad"}]]),
    "limits": ([{}, {"max_fds": 4096}], [{"max_fds": 0}, {"max_fd": 1}]),
    "logrotate": ([{}, {"rotate": 7, "maxsize": "100M"}], [{"rotate": 0}, {"maxsize": "10 M"}]),
    "flags": ([{"max_num_load_retries": 5}], [{"x": "5 --port=0"}]),
    "pem_or_empty": (["", "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n"], ["not a pem"]),
    "bool": ([True, False], ["false", "no", 0]),
    "expected_connections": ([None, 10], [0]),
    "hosts": ([[], ["api.example.org", "10.0.0.1"]], [["a b"], "api.example.org"]),
    "dns_names": ([[], ["api.example.org"]], [["10.0.0.1"], ["x;y"]]),
    "share": ([0.05, 0.33, "0.5", 0.9], [0, 1, 1.5, True, "a third"]),
    "ratio": ([0.05, 0.5, 0.999], [0, 1, 1.5, -0.1, True, "0.05"]),
    "positive_seconds": ([0.5, 1, 86400], [0, -1, 86401, True, "1"]),
    "duration": (["30s", "5m", "1h30m", "2m0s", "100ms"], ["0s", "0m0s", "30m1h", "5 minutes", "", 5, "5"]),
    "scrapers": ([[], ["10.0.3.31", "10.0.3.0/24", "fd00::/64"]],
                 [["0.0.0.0/0"], ["::/0"], ["10.0.0.0/8\n"], ["mon1"], "10.0.3.31"]),
    "email_or_empty": (["", "ops@example.org", "a.b+c@mail.example.co.uk"],
                       ["ops", "ops at example.org", "ops@example", "ops@example.org\nX: 1", "a b@example.org"]),
    "token_or_empty": (["", "kid-1", "a:b.c"], ["a b", "k\n"]),
    "base64url_or_empty": (["", "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"],
                           ["short", "not base64!not base64!", "a+b/c" * 5]),
    "calendar": (["*-*-* 00/12:00:00", "daily", "Mon *-*-* 03:00", "*:*:0/15"], ["", "daily\nExecStart=/bin/sh", 'x"y']),
    "credentials_required": (["any", "all"], ["both", "", None, True]),
    "https_url_or_empty": (["", "https://keycloak.example.org/realms/ml", "https://tenant.eu.auth0.com/"],
                           ["http://idp.example.org", "https://idp\n", "idp.example.org"]),
    "audiences": ([[], ["tf-serving", "https://models.example.org", "api://default"]],
                  [["a\nb"], [""], ['a"b'], "tf-serving", [1]]),
    "jws_algorithms": ([["RS256"], ["RS256", "ES256", "ES512"]], [[], ["HS256"], ["none"], ["RS256", "PS256"], "RS256"]),
    "skew_seconds": ([0, 60, 600], [-1, 601, "60s"]),
    "claims": ([{}, {"azp": "svc-a", "groups": "ml"}], [{"azp": 1}, {"": "x"}, {"a": "b\nc"}, ["azp"]]),
    "access_rules": ([[], [{"model": "fraud", "scopes": ["predict:fraud"]}],
                      [{"model": "fraud", "routes": ["metadata", "status"], "scopes": ["read:fraud"]}]],
                     [[{"scopes": ["predict:fraud"]}], [{"model": "", "scopes": ["a"]}],
                      [{"model": "fraud", "scopes": []}], [{"model": "fraud", "routes": ["predict"], "scopes": ["a"]}],
                      [{"model": "fraud", "routes": [], "scopes": ["a"]}], [{"model": "fraud", "scope": ["a"]}],
                      [{"model": "fraud", "scopes": ["a b"]}], {"model": "fraud", "scopes": ["a"]}]),
    "scopes": ([[], ["predict", "predict:fraud", "https://api.example.org/predict"]],
               [["a b"], ['a"'], ["a\\b"], [""], "predict"]),
    "token_bytes": ([512, 8192, 65536], [511, 65537, "8k"]),
    "cache_models": ([[], [{"model": "m"}], [{"model": "m", "routes": ["predict", "classify", "regress"]}, {"model": "n"}]],
                     [[{"model": "m", "routes": ["metadata"]}], [{"model": "m", "routes": []}], [{"routes": ["predict"]}],
                      [{"model": "m"}, {"model": "m"}], [{"model": "m", "ttl": 5}], [{"model": "a b"}], {"model": "m"}]),
    "mib": ([1, 256, 1048576], [0, -1, 1048577, "256M", True]),
    "cache_bytes": ([1, 16384, 16777216], [0, -5, 16777217, "16k"]),
}


@pytest.mark.parametrize("rule", sorted(GOOD_AND_BAD))
def test_rule_accepts_and_refuses(rule):
    good, bad = GOOD_AND_BAD[rule]
    for value in good:
        assert checks.check_variables({"v": rule}, {"v": value}) == [], (rule, value)
    for value in bad:
        errors = checks.check_variables({"v": rule}, {"v": value})
        assert len(errors) == 1 and errors[0].startswith("v: got "), (rule, value, errors)
        assert "; allowed: " in errors[0]


def test_secrets_are_masked():
    errors = checks.check_variables({"edge_certificate_acme_eab_hmac_key": "base64url_or_empty", "edge_certificate_ca_passphrase": "text"},
                                    {"edge_certificate_acme_eab_hmac_key": "not base64!", "edge_certificate_ca_passphrase": "a\nb"})
    assert all("(secret, " in error for error in errors) and len(errors) == 2, errors
    errors = checks.check_variables({"edge_certificate_key_content": "pem_or_empty"},
                                    {"edge_certificate_key_content": "hunter2 private"})
    assert errors == ["edge_certificate_key_content: got (secret, 15 characters); allowed: PEM text (-----BEGIN ...), or empty"]


def test_unknown_rule_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown rule"):
        checks.check_variables({"v": "nope"}, {"v": 1})


def test_every_role_variable_with_a_rule_uses_a_known_rule():
    import os
    import yaml
    roles = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles")
    for role in ("lighttpd", "tfserving", "edge_cache", "edge_certificate", "monitoring"):
        with open(os.path.join(roles, role, "vars", "main.yml")) as handle:
            rules = yaml.safe_load(handle)["__%s_variable_rules" % role]
        with open(os.path.join(roles, role, "defaults", "main.yml")) as handle:
            defaults = yaml.safe_load(handle)
        for name, rule in rules.items():
            assert name in defaults, name
            names = [rule] if "{{" not in rule else [r for r in checks.RULES if "'%s'" % r in rule]
            assert names and all(r in checks.RULES for r in names), (name, rule)
