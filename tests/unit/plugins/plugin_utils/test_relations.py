"""The relations between the lighttpd and edge_certificate roles' variables
(checks.lighttpd_relations and edge_certificate_relations, the check_relations filter): one message per broken relation, naming the variable to change, in
check_variables' shape (issue 28: one source per fact; issue 27: one message per broken rule)."""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import checks

VALID = {
    "lighttpd_edge_enabled": True, "lighttpd_https_port": 443, "lighttpd_http_port": 80,
    "lighttpd_rate_limit_requests_per_second": 20, "lighttpd_rate_limit_burst": 40,
    "lighttpd_sysctl_enabled": True, "lighttpd_backend_connections_per_second": 1000,
    "lighttpd_local_port_range": "", "lighttpd_metrics_enabled": True, "lighttpd_metrics_listen": "0.0.0.0:9146",
    "lighttpd_metrics_scrapers_group": "monitoring", "lighttpd_status_bind": "127.0.0.1:9080",
    "metrics_loopback": False, "metrics_scrapers": 1, "lighttpd_tls_profile": "intermediate", "lighttpd_tls_custom": {},
    "edge_certificate_source": "internal_ca", "edge_certificate_cert_file": "", "edge_certificate_key_file": "",
    "edge_certificate_cert_content": "", "edge_certificate_key_content": "", "lighttpd_tls_client_verify": "off",
    "lighttpd_tls_client_ca_file": "", "lighttpd_tls_client_crl_file": "", "oidc_enabled": True,
    "lighttpd_oidc_audiences": ["api"], "lighttpd_oidc_access_rules": [{"model": "m", "routes": ["inference"],
                                                                         "scopes": ["predict"]}],
    "served_models": ["m"], "edge_certificate_acme_terms_agreed": False, "edge_certificate_acme_directory_url": "https://acme.example/dir",
    "edge_certificate_acme_eab_kid": "", "edge_certificate_acme_eab_hmac_key": "",
}

BROKEN = [
    ({"lighttpd_http_port": 443}, "lighttpd_http_port: got 443; allowed: a port other than lighttpd_https_port"),
    ({"lighttpd_rate_limit_burst": 10}, "lighttpd_rate_limit_burst: got 10; allowed: at least"),
    ({"lighttpd_backend_connections_per_second": 30000}, "lighttpd_backend_connections_per_second: got 30000; allowed: at most 25380"),
    ({"lighttpd_local_port_range": "40000 40999"}, "lighttpd_backend_connections_per_second: got 1000; allowed: at most 500"),
    ({"metrics_scrapers": 0}, "lighttpd_metrics_listen: got '0.0.0.0:9146'; allowed: a loopback address"),
    ({"lighttpd_metrics_listen": "0.0.0.0:443"}, "lighttpd_metrics_listen: got '0.0.0.0:443'; allowed: a port other than"),
    ({"lighttpd_tls_profile": "custom"}, "lighttpd_tls_custom: got {}; allowed: settings"),
    ({"lighttpd_tls_client_verify": "required"}, "lighttpd_tls_client_ca_file: got ''; allowed: a CA file when lighttpd_tls_client_verify is required"),
    ({"lighttpd_tls_client_crl_file": "/etc/crl.pem"}, "lighttpd_tls_client_crl_file: got '/etc/crl.pem'; allowed: empty"),
    ({"lighttpd_oidc_audiences": []}, "lighttpd_oidc_audiences: got []; allowed: the aud values"),
    ({"lighttpd_oidc_access_rules": [{"model": "fraud"}]}, "lighttpd_oidc_access_rules: got rules for fraud; allowed: models"),
    ({"edge_certificate_acme_eab_kid": "kid-1"}, "edge_certificate_acme_eab_hmac_key: got"),
]
ROLE_OF = {"edge_certificate_acme_eab_kid": "edge_certificate"}


def role_of(change):
    return ROLE_OF.get(next(iter(change)), "lighttpd")


def test_valid_values_break_no_relation():
    assert checks.check_relations("lighttpd", VALID) == []
    assert checks.check_relations("edge_certificate", VALID) == []


@pytest.mark.parametrize("change, message", BROKEN)
def test_each_broken_relation_gives_one_message_naming_its_variable(change, message):
    errors = checks.check_relations(role_of(change), dict(VALID, **change))
    assert len(errors) == 1 and errors[0].startswith(message), errors


def test_a_certificate_source_names_each_missing_value():
    errors = checks.check_relations("edge_certificate", dict(VALID, edge_certificate_source="files"))
    assert [e.split(":")[0] for e in errors] == ["edge_certificate_cert_file", "edge_certificate_key_file"]
    values = dict(VALID, edge_certificate_source="acme", lighttpd_http_port=0)
    errors = checks.check_relations("edge_certificate", values)
    assert [e.split(":")[0] for e in errors] == ["edge_certificate_acme_terms_agreed"]
    assert "edge_certificate_source is acme" in errors[0]
    # The edge answers HTTP-01 on its plain port: a relation of the lighttpd role's variable.
    errors = checks.check_relations("lighttpd", values)
    assert [e.split(":")[0] for e in errors] == ["lighttpd_http_port"]
    assert "edge_certificate_source is acme" in errors[0]


def test_the_eab_secret_is_never_shown():
    errors = checks.check_relations("edge_certificate", dict(VALID, edge_certificate_acme_eab_hmac_key="c2VjcmV0LWtleQ"))
    assert len(errors) == 1 and "c2VjcmV0LWtleQ" not in errors[0] and errors[0].startswith("edge_certificate_acme_eab_kid:")


def test_every_broken_relation_counts_once_however_many_break():
    broken = dict(VALID)
    for change, _ in BROKEN[:3] + BROKEN[5:7]:
        broken.update(change)
    assert len(checks.check_relations("lighttpd", broken)) == 5


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(sorted(VALID)), st.one_of(
    st.none(), st.booleans(), st.integers(-5, 70000), st.text(max_size=20), st.lists(st.text(max_size=5), max_size=3))))
def test_any_values_give_messages_never_an_exception(change):
    """Relations are checked after check_variables, but a value of any type must not crash them."""
    for role in ("lighttpd", "edge_certificate"):
        for message in checks.check_relations(role, dict(VALID, **change)):
            assert ": got " in message and "; allowed: " in message


def test_an_unknown_role_is_a_programming_error():
    with pytest.raises(ValueError, match="no relations"):
        checks.check_relations("nope", {})
