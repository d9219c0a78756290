"""The listening addresses of each lighttpd instance (lighttpd_listen filter) and the
loopback test (loopback_listen), which replaced a Jinja program and three copies of a regex
(issue 28). The property test renders the old Jinja program beside the filter."""
import jinja2
import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import checks, tuning

# The Jinja program roles/lighttpd/vars/main.yml held before 0.4.0 (flattened).
OLD_PROGRAM = """
{%- set out = {} -%}
{%- if lighttpd_edge_enabled -%}
{%-   set edge = [] -%}
{%-   for port in [lighttpd_https_port, lighttpd_http_port] if port | int > 0 -%}
{%-     set _ = edge.append('0.0.0.0:%d' % port | int) -%}
{%-     if ipv6 -%}{%- set _ = edge.append('[::]:%d' % port | int) -%}{%- endif -%}
{%-   endfor -%}
{%-   set _ = edge.append(lighttpd_status_bind) -%}
{%-   set _ = out.update({'edge': edge}) -%}
{%- endif -%}
{%- if lighttpd_static_enabled -%}
{%-   set _ = out.update({'static': [lighttpd_static_socket] + ([lighttpd_static_bind] if lighttpd_static_bind | length > 0 else [])}) -%}
{%- endif -%}
{%- for instance in lighttpd_extra_instances -%}
{%-   set _ = out.update({instance.name: instance.listen | default([])}) -%}
{%- endfor -%}
{{ out }}
"""


def old(values):
    env = jinja2.Environment()
    return eval(env.from_string(OLD_PROGRAM).render(**values))  # the dict's repr


def new(values):
    return tuning.lighttpd_listen({
        "edge": values["lighttpd_edge_enabled"], "https_port": values["lighttpd_https_port"],
        "http_port": values["lighttpd_http_port"], "ipv6": values["ipv6"], "status_bind": values["lighttpd_status_bind"],
        "static": values["lighttpd_static_enabled"], "static_socket": values["lighttpd_static_socket"],
        "static_bind": values["lighttpd_static_bind"], "extra_instances": values["lighttpd_extra_instances"]})


BINDS = st.sampled_from(["127.0.0.1:9080", "[::1]:9080", "10.0.0.1:8080", "/run/x/y.sock"])
INSTANCES = st.lists(st.fixed_dictionaries({"name": st.sampled_from(["api", "docs", "a-1"])},
                                           optional={"listen": st.lists(BINDS, max_size=3)}), max_size=3,
                     unique_by=lambda i: i["name"])


@settings(max_examples=300, deadline=None)
@given(edge=st.booleans(), https=st.integers(1, 65535), http=st.one_of(st.just(0), st.integers(1, 65535)),
       ipv6=st.booleans(), status=BINDS, static=st.booleans(), static_bind=st.sampled_from(["", "127.0.0.1:8081"]),
       extra=INSTANCES)
def test_the_filter_gives_what_the_jinja_program_gave(edge, https, http, ipv6, status, static, static_bind, extra):
    values = {"lighttpd_edge_enabled": edge, "lighttpd_https_port": https, "lighttpd_http_port": http, "ipv6": ipv6,
              "lighttpd_status_bind": status, "lighttpd_static_enabled": static,
              "lighttpd_static_socket": "/run/lighttpd-static/static.sock", "lighttpd_static_bind": static_bind,
              "lighttpd_extra_instances": extra}
    assert new(values) == old(values)


def test_the_default_layout():
    assert tuning.lighttpd_listen({
        "edge": True, "https_port": 443, "http_port": "80", "ipv6": True, "status_bind": "127.0.0.1:9080",
        "static": True, "static_socket": "/run/lighttpd-static/static.sock", "static_bind": "",
        "extra_instances": [{"name": "docs"}]}) == {
        "edge": ["0.0.0.0:443", "[::]:443", "0.0.0.0:80", "[::]:80", "127.0.0.1:9080"],
        "static": ["/run/lighttpd-static/static.sock"], "docs": []}


def test_a_port_that_is_not_a_number_is_refused_by_name():
    with pytest.raises(tuning.TuningError, match="port must be an integer"):
        tuning.lighttpd_listen({"edge": True, "https_port": "https", "http_port": 80, "status_bind": "127.0.0.1:1"})


@pytest.mark.parametrize("listen, loopback", [
    ("127.0.0.1:9146", True), ("127.1.2.3:1", True), ("[::1]:9146", True), ("0.0.0.0:9146", False),
    ("[::]:9146", False), ("10.0.0.1:9146", False), ("1270.0.0.1:1", False), (None, False), (9146, False)])
def test_loopback_listen(listen, loopback):
    assert tuning.loopback_listen(listen) is loopback


@pytest.mark.parametrize("entry, valid", [
    ("0.0.0.0:8080", True), ("[::]:8080", True), ("/run/lighttpd-docs/docs.sock", True),
    ("localhost:8080", False), ("8080", False), ("run/x.sock", False), ('/run/x"; include "/etc/shadow', False)])
def test_an_extra_instance_listen_entry_is_checked_with_its_instance(entry, valid):
    errors = checks.check_variables({"lighttpd_extra_instances": "instance_names"},
                                    {"lighttpd_extra_instances": [{"name": "docs", "listen": [entry]}]})
    assert (errors == []) is valid, errors
