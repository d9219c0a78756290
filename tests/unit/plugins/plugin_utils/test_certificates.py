"""Certificate decisions: which names a leaf carries, and when it is issued again."""
import datetime

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.certificates import (
    certificate_names, renewal_reason)

UTC = datetime.timezone.utc
FACTS = {"fqdn": "edge1.example.org", "hostname": "edge1",
         "all_ipv4_addresses": ["10.0.0.5", "192.168.1.5"],
         "all_ipv6_addresses": ["fe80::1", "fd00::5", "2001:db8:0:0::5"]}
NAMES = ["DNS:api.example.org", "DNS:edge1", "IP:10.0.0.5"]
LEAF = {"not_before": "20260101000000Z", "not_after": "20260401000000Z",  # 90 days
        "public_key": "KEY", "authority_key_identifier": "CA:01",
        "subject_alt_name": ["IP:10.0.0.5", "DNS:edge1", "DNS:api.example.org"]}


def at(day):
    return datetime.datetime(2026, 1, 1, tzinfo=UTC) + datetime.timedelta(days=day)


def test_names_server_name_first_then_host_names_and_addresses():
    names = certificate_names(FACTS, "api.example.org", inventory_hostname="edge1", extra=["10.9.9.9", "Alias.Example.org."])
    assert names == ["DNS:api.example.org", "DNS:edge1", "DNS:edge1.example.org", "DNS:localhost",
                     "IP:10.9.9.9", "DNS:alias.example.org", "IP:10.0.0.5", "IP:192.168.1.5", "IP:127.0.0.1",
                     "IP:fd00::5", "IP:2001:db8::5", "IP:::1"]


def test_names_leave_out_link_local_and_duplicates():
    names = certificate_names(FACTS, "10.0.0.5")
    assert names[0] == "IP:10.0.0.5"
    assert "IP:fe80::1" not in names
    assert len(names) == len(set(names))


def test_names_without_network_facts():
    assert certificate_names({}, "edge1") == ["DNS:edge1", "DNS:localhost", "IP:127.0.0.1", "IP:::1"]


def test_a_good_leaf_stays():
    assert renewal_reason(LEAF, NAMES, "KEY", ca_key_id="CA:01", now=at(30)) == ""


def test_less_than_a_third_left_is_renewed():
    assert renewal_reason(LEAF, NAMES, "KEY", ca_key_id="CA:01", now=at(59)) == ""
    assert "lifetime left" in renewal_reason(LEAF, NAMES, "KEY", ca_key_id="CA:01", now=at(61))
    assert "lifetime left" in renewal_reason(LEAF, NAMES, "KEY", ca_key_id="CA:01", now=at(120))
    assert renewal_reason(LEAF, NAMES, "KEY", ca_key_id="CA:01", remaining_share="0.5", now=at(46))


def test_missing_other_key_other_ca_other_names():
    assert renewal_reason({}, NAMES, "KEY") == "no certificate yet"
    assert "key" in renewal_reason(LEAF, NAMES, "OTHER", ca_key_id="CA:01", now=at(1))
    assert "another CA" in renewal_reason(LEAF, NAMES, "KEY", ca_key_id="CA:02", now=at(1))
    assert "names" in renewal_reason(LEAF, NAMES + ["IP:10.0.0.6"], "KEY", ca_key_id="CA:01", now=at(1))


def test_self_signed_leaf_ignores_the_ca():
    assert renewal_reason(dict(LEAF, authority_key_identifier=None), NAMES, "KEY", ca_key_id=None, now=at(1)) == ""


def test_ipv6_names_compare_in_compressed_form():
    leaf = dict(LEAF, subject_alt_name=["IP:2001:db8::5"])
    assert renewal_reason(leaf, ["IP:2001:db8:0:0::5"], "KEY", now=at(1)) == ""
