# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)
"""Variable checks shared by both roles, in plain Python (no Ansible import).

Each role lists its variables with a rule name (``vars/main.yml``: ``__ROLE_variable_rules``);
``check_variables`` returns one message per variable that breaks its rule, in one shape:
``NAME: got VALUE; allowed: WHAT`` (secrets masked). A value that ends up in a lighttpd
config, a systemd unit, an apt preference or the Lua script is checked here before any task
changes the host: a quote or a line break in it could change what that file means.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import prediction_cache, tuning

_DNS = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*[.]?\Z")
_PATH = re.compile(r"^/[A-Za-z0-9_./@+=,:-]*\Z")
_URL = re.compile(r"^(https?)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/[A-Za-z0-9_./~%+=:@,-]*)?\Z")
_ACCOUNT = re.compile(r"^[a-z_][a-z0-9_-]{0,31}\Z")
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]{1,100}\Z")
_VERSION = re.compile(r"^[0-9]+([.][0-9]+){0,3}\Z")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}\Z")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}\Z")
_INSTANCE = re.compile(r"^[a-z][a-z0-9-]{0,22}\Z")  # lighttpd-NAME fits a 32-character account name
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/shm", "/var/crash")
# OAuth 2.0 scope tokens (RFC 6749 3.3) without the quote and backslash (they go into a header).
_SCOPE = re.compile(r'^[\x21\x23-\x5b\x5d-\x7e]{1,128}\Z')
# A TF Serving model name as the edge's inference routes accept it.
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
JWS_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
JWS_ROUTES = ("inference", "metadata", "status")
_SECRET_WORDS = ("key_content", "cert_content", "password", "secret", "token", "passphrase", "hmac")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\Z")
_CALENDAR = re.compile(r"^[A-Za-z0-9*/:.,~ -]{1,100}\Z")
# Prometheus's units, largest first, each at most once (1h30m; not 30m1h).
_DURATION = re.compile(r"^(?=.)([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?\Z")


def _int_in(value, low, high):
    if isinstance(value, bool):
        return False
    if isinstance(value, str) and re.match(r"^[0-9]+\Z", value):
        value = int(value)
    return isinstance(value, int) and low <= value <= high


def _float_in(value, low, high):
    if isinstance(value, bool):
        return False
    if isinstance(value, str) and re.match(r"^[0-9]*[.]?[0-9]+\Z", value):
        value = float(value)
    return isinstance(value, (int, float)) and low <= value <= high


def _is_ip(value):
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def _host(value):
    return isinstance(value, str) and (_is_ip(value) or bool(_DNS.match(value)))


def _path(value):
    return isinstance(value, str) and bool(_PATH.match(value)) and "/../" not in value + "/"


def _bind(value):
    if not isinstance(value, str):
        return False
    match = re.match(r"^(\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):([0-9]{1,5})\Z", value)
    if not match:
        return False
    address = match.group(2) or match.group(3)
    return _is_ip(address) and _int_in(match.group(4), 1, 65535)


def _port_range(value):
    match = re.match(r"^([0-9]+) ([0-9]+)\Z", value) if isinstance(value, str) else None
    return bool(match) and 1024 <= int(match.group(1)) < int(match.group(2)) <= 65535


def _outside_world_writable(value):
    return _path(value) and not any(value == d or value.startswith(d + "/") for d in _WORLD_WRITABLE)


def _network(value):
    try:
        ipaddress.ip_network(value, strict=False)
        return True
    except ValueError:
        return False


def _headers(value):
    return isinstance(value, dict) and all(
        isinstance(k, str) and _TOKEN.match(k) and isinstance(x, str) and not _CONTROL.search(x)
        for k, x in value.items())


def _listen(value):
    """A listening address systemd can hold: IPV4:PORT, [IPV6]:PORT or an absolute socket path."""
    return _bind(value) or (_path(value) and value.startswith("/"))


def _instances(value):
    return isinstance(value, list) and all(
        isinstance(i, dict) and isinstance(i.get("name"), str) and _INSTANCE.match(i["name"])
        and isinstance(i.get("listen", []), list) and all(_listen(a) for a in i.get("listen", [])) for i in value)


def _backends(value):
    return isinstance(value, list) and all(
        isinstance(b, dict) and _host(b.get("host")) and _int_in(b.get("port"), 1, 65535) for b in value)


def _scopes(value):
    return isinstance(value, list) and all(isinstance(s, str) and _SCOPE.match(s) for s in value)


def _access_rules(value):
    """OIDC access rules: {model: NAME, routes: [inference|metadata|status], scopes: [SCOPE, ...]}."""
    if not isinstance(value, list):
        return False
    for rule in value:
        if not isinstance(rule, dict) or set(rule) - {"model", "routes", "scopes"}:
            return False
        if not (isinstance(rule.get("model"), str) and _MODEL.match(rule["model"])):
            return False
        routes = rule.get("routes", ["inference"])
        if not (isinstance(routes, list) and routes and set(routes) <= set(JWS_ROUTES) and all(isinstance(r, str) for r in routes)):
            return False
        if not (_scopes(rule.get("scopes")) and rule["scopes"]):
            return False
    return True


def _pem(value):
    return value == "" or (isinstance(value, str) and "-----BEGIN " in value
                           and not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", value))


_LIMIT_KEYS = {"max_fds", "max_connections", "max_keep_alive_requests", "max_keep_alive_idle", "max_read_idle",
               "max_write_idle", "limit_nofile"}


def _limits(value):
    return isinstance(value, dict) and set(value) <= _LIMIT_KEYS and all(
        _int_in(x, 0 if k.startswith("max_keep_alive") else 1, 1048576) for k, x in value.items())


def _logrotate(value):
    return (isinstance(value, dict) and set(value) <= {"rotate", "maxsize"}
            and _int_in(value.get("rotate", 1), 1, 3650)
            and bool(re.match(r"^[0-9]+[kMG]?\Z", str(value.get("maxsize", "1")))))


# rule name -> (test, what is allowed)
RULES = {
    "cache_models": (prediction_cache.cache_models_valid,
                     "a list of {model: a model name, routes: a list of " + ", ".join(prediction_cache.CACHE_ROUTES)
                     + " (default [predict])}, each model once"),
    "mib": (lambda v: _int_in(v, 1, 1048576), "MiB 1-1048576 (1 TiB)"),
    "cache_bytes": (lambda v: _int_in(v, 1, 16777216), "bytes 1-16777216 (16 MiB)"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "port": (lambda v: _int_in(v, 1, 65535), "a port number 1-65535"),
    "port_or_0": (lambda v: _int_in(v, 0, 65535), "a port number 1-65535, or 0 for off"),
    "seconds": (lambda v: _int_in(v, 1, 86400), "whole seconds 1-86400"),
    "seconds_or_0": (lambda v: _int_in(v, 0, 86400), "whole seconds 0-86400"),
    "milliseconds": (lambda v: _int_in(v, 1, 3600000), "whole milliseconds 1-3600000"),
    "days": (lambda v: _int_in(v, 1, 3650), "whole days 1-3650"),
    "hsts_max_age": (lambda v: _int_in(v, 0, 2 ** 31 - 1), "whole seconds 0-2147483647"),
    "kib": (lambda v: _int_in(v, 1, 4194304), "KiB 1-4194304 (4 GiB)"),
    "bytes": (lambda v: _int_in(v, 1, 2 ** 50), "a number of bytes >= 1"),
    "count": (lambda v: _int_in(v, 1, 1000000), "a whole number 1-1000000"),
    "count_or_0": (lambda v: _int_in(v, 0, 1000000), "a whole number 1-1000000, or 0 for off"),
    "ipv6_prefix": (lambda v: _int_in(v, 1, 128), "a prefix length 1-128"),
    "nofile": (lambda v: _int_in(v, 1024, 1048576), "a whole number 1024-1048576"),
    "rate": (lambda v: _int_in(v, 1, 1000000), "requests per second 1-1000000"),
    "expected_connections": (lambda v: v is None or _int_in(v, 1, 1000000),
                             "null (from the host's memory) or a whole number 1-1000000"),
    "host": (_host, "an IP address or a DNS name"),
    "hosts": (lambda v: isinstance(v, list) and all(_host(i) for i in v), "a list of IP addresses or DNS names"),
    "dns_names": (lambda v: isinstance(v, list) and all(_host(i) and not _is_ip(i) for i in v), "a list of DNS names"),
    "share": (lambda v: _float_in(v, 0.05, 0.9),
              "a share of the lifetime between 0.05 and 0.9 (0.33: a third)"),
    "email_or_empty": (lambda v: v == "" or (isinstance(v, str) and bool(_EMAIL.match(v))), "an e-mail address, or empty"),
    "token_or_empty": (lambda v: v == "" or (isinstance(v, str) and bool(re.match(r"^[A-Za-z0-9_.:-]{1,200}\Z", v))),
                       "letters, digits and _ . : - (up to 200), or empty"),
    "base64url_or_empty": (lambda v: v == "" or (isinstance(v, str) and bool(re.match(r"^[A-Za-z0-9_-]{16,200}=*\Z", v))),
                           "a base64url key (16-200 characters), or empty"),
    "calendar": (lambda v: isinstance(v, str) and bool(_CALENDAR.match(v)),
                 "a systemd OnCalendar expression (letters, digits, * / : . , ~ - and spaces)"),
    "ratio": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1,
              "a ratio between 0 and 1, both excluded (0.05: 5 %)"),
    "positive_seconds": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 86400,
                         "seconds above 0 (fractions allowed), up to 86400"),
    "duration": (lambda v: isinstance(v, str) and bool(_DURATION.match(v))
                 and any(int(n) > 0 for n in re.findall(r"[0-9]+", v)),
                 "a Prometheus duration such as 30s, 5m, 1h30m (not 0)"),
    "port_range_or_empty": (lambda v: v == "" or _port_range(v),
                            "'LOW HIGH' with 1024 <= LOW < HIGH <= 65535 (a local port range), or empty"),
    "credentials_required": (lambda v: v in ("any", "all"), "any or all"),
    "https_url_or_empty": (lambda v: v == "" or (isinstance(v, str) and bool(_URL.match(v)) and v.startswith("https://")),
                           "an https:// URL without spaces or quotes, or empty"),
    "audiences": (lambda v: isinstance(v, list) and all(isinstance(a, str) and 0 < len(a) <= 256 and not _CONTROL.search(a)
                                                        and '"' not in a for a in v),
                  "a list of audience values (1-256 characters, no quotes or control characters)"),
    "jws_algorithms": (lambda v: isinstance(v, list) and len(v) > 0 and all(a in JWS_ALGORITHMS for a in v),
                       "a non-empty list of " + ", ".join(JWS_ALGORITHMS) + " (never none or HMAC)"),
    "skew_seconds": (lambda v: _int_in(v, 0, 600), "whole seconds 0-600"),
    "claims": (lambda v: isinstance(v, dict) and all(isinstance(k, str) and k and isinstance(x, str) and not _CONTROL.search(x)
                                                     and '"' not in x for k, x in v.items()),
               "a dict of claim name -> string value"),
    "access_rules": (_access_rules, "a list of {model: a model name, routes: a list of " + ", ".join(JWS_ROUTES)
                     + " (default [inference]), scopes: a non-empty list of scopes}"),
    "scopes": (_scopes, "a list of OAuth scopes (printable, no spaces, quotes or backslashes)"),
    "token_bytes": (lambda v: _int_in(v, 512, 65536), "bytes 512-65536"),
    "bind": (_bind, "IPV4:PORT or [IPV6]:PORT"),
    "loopback_bind": (lambda v: _bind(v) and (v.startswith("127.") or v.startswith("[::1]")),
                      "a loopback address with a port (127.x.x.x:PORT or [::1]:PORT)"),
    "bind_or_empty": (lambda v: v == "" or _bind(v), "IPV4:PORT, [IPV6]:PORT, or empty for none"),
    "path": (_path, "an absolute path (letters, digits and _ . / @ + = , : -)"),
    "path_or_empty": (lambda v: v == "" or _path(v), "an absolute path, or empty"),
    # A key kept inside an installed collection is deleted by its next upgrade (and a checkout's
    # would be one `ansible-galaxy collection build` from a tarball).
    "key_dir": (lambda v: _path(v) and "/ansible_collections/" not in v + "/",
                "an absolute path in your project, outside any installed collection (ansible_collections/); "
                "set it when the inventory is not a file (no inventory_dir)"),
    "private_dir": (_outside_world_writable, "an absolute path outside world-writable directories (/tmp, /var/tmp, /dev/shm)"),
    "url": (lambda v: isinstance(v, str) and bool(_URL.match(v)), "an http:// or https:// URL without spaces or quotes"),
    "https_url": (lambda v: isinstance(v, str) and bool(_URL.match(v)) and v.startswith("https://"),
                  "an https:// URL without spaces or quotes"),
    "url_or_empty": (lambda v: v == "" or (isinstance(v, str) and bool(_URL.match(v))), "an http(s):// URL, or empty"),
    "sha256_or_empty": (lambda v: v == "" or (isinstance(v, str) and bool(_SHA256.match(v))), "64 hex digits, or empty"),
    "sha256_list": (lambda v: isinstance(v, list) and all(isinstance(i, str) and _SHA256.match(i) for i in v),
                    "a list of SHA-256 hex digests (64 hex digits each)"),
    "account": (lambda v: isinstance(v, str) and bool(_ACCOUNT.match(v)), "a user or group name (^[a-z_][a-z0-9_-]*, up to 32)"),
    "unprivileged_account": (lambda v: isinstance(v, str) and bool(_ACCOUNT.match(v)) and v not in ("root", "0"),
                             "a user or group name other than root"),
    "package": (lambda v: isinstance(v, str) and bool(_PACKAGE.match(v)), "a Debian package name"),
    "packages": (lambda v: isinstance(v, list) and len(v) > 0 and all(isinstance(i, str) and _PACKAGE.match(i) for i in v),
                 "a non-empty list of Debian package names"),
    "version_or_empty": (lambda v: v == "" or (isinstance(v, str) and bool(_VERSION.match(v))),
                         "a version such as 2.20.1, or empty for the newest"),
    "text": (lambda v: isinstance(v, str) and not _CONTROL.search(v), "text without control characters (no line breaks)"),
    "headers": (_headers, "header names (HTTP tokens) with values without control characters"),
    "group_name": (lambda v: isinstance(v, str) and bool(re.match(r"^[A-Za-z0-9_.-]{1,64}\Z", v)),
                   "an inventory group name (letters, digits, _ . -)"),
    "instance_names": (_instances, "instances named ^[a-z][a-z0-9-]* (up to 23 characters: the account is lighttpd-NAME), "
                                   "each listen entry IPV4:PORT, [IPV6]:PORT or an absolute socket path"),
    "backends": (_backends, "a list of {host: IP address or DNS name, port: 1-65535}"),
    "sources": (lambda v: isinstance(v, list) and all(isinstance(s, str) and _network(s) for s in v),
                "a list of IP addresses or networks (10.0.0.0/8, fd00::/8)"),
    "trusted_proxies": (lambda v: isinstance(v, list) and all(isinstance(s, str) and _network(s)
                                                              and ipaddress.ip_network(s, strict=False).prefixlen > 0 for s in v),
                        "a list of IP addresses or networks of your load balancers (10.0.0.0/8, fd00::/8), not 0.0.0.0/0 or ::/0"),
    "scrapers": (lambda v: isinstance(v, list) and all(isinstance(s, str) and _network(s)
                                                       and ipaddress.ip_network(s, strict=False).prefixlen > 0 for s in v),
                 "a list of IP addresses or networks of your monitoring hosts (10.0.0.0/8, fd00::/8), not 0.0.0.0/0 or ::/0"),
    "pem_or_empty": (_pem, "PEM text (-----BEGIN ...), or empty"),
    "limits": (_limits, "a dict of max_fds, max_connections, max_keep_alive_requests, max_keep_alive_idle, "
               "max_read_idle, max_write_idle, limit_nofile (whole numbers)"),
    "logrotate": (_logrotate, "a dict of rotate (1-3650) and maxsize (a size such as 100M)"),
    "config_texts": (lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
                     "a dict of instance name -> lighttpd configuration text"),
    "flags": (lambda v: isinstance(v, dict) and all(isinstance(x, (str, int, bool)) and not _CONTROL.search(str(x))
                                                    and " " not in str(x) for x in v.values()),
              "a dict of flag -> value (no spaces or control characters)"),
}


def _shown(name, value):
    if any(word in name for word in _SECRET_WORDS) and isinstance(value, str) and value != "":
        return "(secret, %d characters)" % len(str(value))
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_variables(rules, values):
    """Return one message per variable in ``values`` that breaks its rule in ``rules``.

    ``rules`` maps variable names to rule names (RULES); ``values`` maps the same names to
    their values. An unknown rule name is a programming error (ValueError).
    """
    errors = []
    for name in sorted(rules):
        rule = rules[name]
        if rule not in RULES:
            raise ValueError("unknown rule %r for %s" % (rule, name))
        test, allowed = RULES[rule]
        value = values.get(name)
        if not test(value):
            errors.append("%s: got %s; allowed: %s" % (name, _shown(name, value), allowed))
    return errors


def _number(value):
    """VALUE as an int when it is a whole number 0-10**9 (an int or its digits), else None."""
    return int(value) if _int_in(value, 0, 10 ** 9) else None


def _port_of(bind):
    return _number(str(bind).rsplit(":", 1)[-1]) if ":" in str(bind) else None


def lighttpd_relations(values):
    """One message per broken relation between the lighttpd role's variables, in the shape of
    check_variables (``NAME: got VALUE; allowed: WHAT``), the variable that has to change first.

    ``values`` holds the variables by name plus what the role computes from the inventory:
    ``metrics_loopback`` (the exporter listens on loopback), ``metrics_scrapers`` (how many
    scraper addresses), ``served_models`` (the model names the model servers list) and
    ``oidc_enabled``. Each relation is checked only when the values it compares passed their
    own rules (check_variables reports those).
    """
    errors = []

    def broken(name, allowed):
        errors.append("%s: got %s; allowed: %s" % (name, _shown(name, values.get(name)), allowed))

    v = values.get
    edge = v("lighttpd_edge_enabled") is True
    https, http = v("lighttpd_https_port"), v("lighttpd_http_port")
    if _int_in(https, 1, 65535) and _int_in(http, 0, 65535) and int(http) == int(https):
        broken("lighttpd_http_port", "a port other than lighttpd_https_port (%s), or 0" % https)
    rate, burst = v("lighttpd_rate_limit_requests_per_second"), v("lighttpd_rate_limit_burst")
    if _int_in(rate, 1, 10 ** 9) and _int_in(burst, 1, 10 ** 9) and int(burst) < int(rate):
        broken("lighttpd_rate_limit_burst", "at least lighttpd_rate_limit_requests_per_second (%s)" % rate)
    per_second, port_range = v("lighttpd_backend_connections_per_second"), v("lighttpd_local_port_range") or ""
    if edge and v("lighttpd_sysctl_enabled") is True and _int_in(per_second, 1, 10 ** 9):
        bounds = [int(p) for p in str(port_range).split()] if RULES["port_range_or_empty"][0](port_range) else []
        widest = (tuning.WIDEST_LOW_PORT, tuning.DEFAULT_PORT_RANGE[1])
        capacity = (bounds[-1] - bounds[0] + 1) if len(bounds) == 2 else (widest[1] - widest[0] + 1)
        if 2 * int(per_second) > capacity:
            broken("lighttpd_backend_connections_per_second",
                   "at most %d, half the local ports of %s: a port in TIME_WAIT serves a new backend connection "
                   "after about a second. Add backend addresses or edges"
                   % (capacity // 2, "lighttpd_local_port_range (%s)" % port_range if bounds
                      else "the widest range the role sets (%d-%d)" % widest))
    listen = v("lighttpd_metrics_listen")
    if edge and v("lighttpd_metrics_enabled") is True and RULES["bind"][0](listen):
        if not v("metrics_loopback") and not v("metrics_scrapers"):
            broken("lighttpd_metrics_listen",
                   "a loopback address, or any address together with scrapers (hosts in the group "
                   "lighttpd_metrics_scrapers_group=%s, or lighttpd_metrics_allowed_networks): metrics tell an "
                   "attacker which backends fail and which clients are throttled"
                   % v("lighttpd_metrics_scrapers_group"))
        if _port_of(listen) in (_number(https), _number(http), _port_of(v("lighttpd_status_bind"))):
            broken("lighttpd_metrics_listen", "a port other than the edge's HTTPS, HTTP and status ports")
    if v("lighttpd_tls_profile") == "custom" and not v("lighttpd_tls_custom"):
        broken("lighttpd_tls_custom", "settings (at least one) when lighttpd_tls_profile is custom")
    verify = v("lighttpd_tls_client_verify")
    if verify not in (None, "off") and not v("lighttpd_tls_client_ca_file"):
        broken("lighttpd_tls_client_ca_file", "a CA file when lighttpd_tls_client_verify is %s" % verify)
    if verify == "off" and v("lighttpd_tls_client_crl_file"):
        broken("lighttpd_tls_client_crl_file",
               "empty while lighttpd_tls_client_verify is off (optional or required checks client certificates against it)")
    if v("oidc_enabled"):
        if not v("lighttpd_oidc_audiences"):
            broken("lighttpd_oidc_audiences",
                   "the aud values of your tokens (at least one) when lighttpd_oidc_issuer is set")
        served = [str(m) for m in v("served_models")] if isinstance(v("served_models"), list) else []
        rules = v("lighttpd_oidc_access_rules")
        unknown = sorted({str(r.get("model")) for r in rules if isinstance(r, dict)} - set(served)) \
            if served and isinstance(rules, list) else []
        if unknown:
            errors.append("lighttpd_oidc_access_rules: got rules for %s; allowed: models the model servers serve (%s)"
                          % (", ".join(unknown), ", ".join(served)))
    # The edge answers ACME's HTTP-01 challenges on its plain HTTP port (edge_certificate's source).
    if edge and v("edge_certificate_source") == "acme" and _int_in(http, 0, 65535) and int(http) == 0:
        broken("lighttpd_http_port", "a port when edge_certificate_source is acme (the edge answers "
                                     "HTTP-01 challenges there)")
    return errors


def edge_certificate_relations(values):
    """One message per broken relation between the edge_certificate role's variables."""
    errors = []

    def broken(name, allowed):
        errors.append("%s: got %s; allowed: %s" % (name, _shown(name, values.get(name)), allowed))

    v = values.get
    source = v("edge_certificate_source")
    for kind, names in (("files", ("edge_certificate_cert_file", "edge_certificate_key_file")),
                        ("content", ("edge_certificate_cert_content", "edge_certificate_key_content"))):
        if source == kind:
            for name in names:
                if not v(name):
                    broken(name, "a value when edge_certificate_source is %s" % kind)
    if source == "acme" and v("edge_certificate_acme_terms_agreed") is not True:
        broken("edge_certificate_acme_terms_agreed", "true when edge_certificate_source is acme (you agree to the "
                                                     "terms of service of %s)" % v("edge_certificate_acme_directory_url"))
    kid, key = v("edge_certificate_acme_eab_kid") or "", v("edge_certificate_acme_eab_hmac_key") or ""
    if bool(kid) != bool(key):
        broken("edge_certificate_acme_eab_hmac_key" if kid else "edge_certificate_acme_eab_kid",
               "a value together with %s (both or neither)"
               % ("edge_certificate_acme_eab_kid" if kid else "edge_certificate_acme_eab_hmac_key"))
    return errors


RELATIONS = {"lighttpd": lighttpd_relations, "edge_certificate": edge_certificate_relations}


def check_relations(role, values):
    """One message per broken relation between ROLE's variables (see lighttpd_relations)."""
    if role not in RELATIONS:
        raise ValueError("no relations for role %r" % (role,))
    return RELATIONS[role](values)
