"""The edge's inference script (roles/lighttpd/templates/inference.lua.j2), run by Lua 5.4
(the Lua Debian's lighttpd-modules-lua links) against a model of mod_magnet's API with a
simulated clock. The Molecule scenario `lighttpd` proves the same on a real lighttpd; this
runs in milliseconds and shows the algorithm's edges. `make unit` installs lua5.4."""
import os
import re
import shutil
import subprocess

import jinja2
import pytest

# Independent of ansible-core: `make unit` runs it; `make compat` leaves it out of its per-core runs.
pytestmark = pytest.mark.core_independent

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
TEMPLATE = os.path.join(ROOT, "roles", "lighttpd", "templates", "inference.lua.j2")
MOCK = os.path.join(ROOT, "tests", "unit", "roles", "lighttpd", "lua", "mock_lighttpd.lua")
LUA = shutil.which("lua5.4")
VARS = {
    "ansible_managed": "test", "lighttpd_rate_limit_requests_per_second": 20,
    "lighttpd_rate_limit_burst": 20, "lighttpd_rate_limit_concurrent": 8,
    "lighttpd_rate_limit_enabled": True, "lighttpd_rate_limit_max_clients": 5000,
    "lighttpd_rate_limit_ipv6_prefix": 64, "lighttpd_api_key_failures_per_minute": 10,
    "lighttpd_tls_client_verify": "off", "lighttpd_trusted_proxies": [],
    "lighttpd_api_key_sha256": ["digest"], "__lighttpd_graceful_timeout": 43,
    "lighttpd_inference_credentials_required": "any", "__lighttpd_oidc_enabled": False,
    "__lighttpd_cache_retry_max_bytes": 16384, "__lighttpd_cache_retry_path": "/lts-edge-cache-retry",
    "__lighttpd_cache_retries_at_once": 2, "__lighttpd_cache_models": [{"model": "m"}],
}


@pytest.fixture()
def run(tmp_path):
    if LUA is None:
        pytest.fail("lua5.4 is missing: `make unit` installs it (apt-get install lua5.4)")

    def _run(**overrides):
        script = tmp_path / "inference.lua"
        text = jinja2.Template(open(TEMPLATE).read()).render(**dict(VARS, **overrides))
        script.write_text(text)
        out = subprocess.run([LUA, MOCK, str(script)], capture_output=True, text=True, check=True).stdout
        return dict(re.findall(r"(\w+)=(\S+)", out))
    return _run


def test_aborted_requests_never_lock_a_client_out(run):
    out = run(lighttpd_api_key_sha256=[])
    assert out["aborted"] == "200/0"      # every aborted request was admitted (12/s, cap 8)
    assert out["ordinary"] == "300/0"     # and none of the 300 that followed was refused


def test_ipv6_clients_share_their_64(run):
    out = run(lighttpd_api_key_sha256=[])
    assert out["same64"] == "429" and out["other64"] == "0"


def test_ipv6_prefix_is_configurable(run):
    out = run(lighttpd_api_key_sha256=[], lighttpd_rate_limit_ipv6_prefix=128)
    assert out["same64"] == "0"


def test_failed_keys_use_up_a_budget(run):
    out = run()
    assert out["wrong401"] == "10" and out["wrong429"] == "10"
    assert out["right_same"] == "429" and out["right_other"] == "0"


def test_the_cache_takes_requests_only_while_its_up_file_exists(run, tmp_path):
    # edge.conf routes the cached models to the prediction cache only when the query string
    # lighttpd's conditions see is the mark: set while the cache's unit shows it up, cleared
    # otherwise (a client sending the mark itself is then sent straight to the model servers).
    up = tmp_path / "up"
    os.environ["CACHE_UP_FILE"] = str(up)
    try:
        out = run(__lighttpd_cache_enabled=True, __common_cache_up_file=str(up), __lighttpd_cache_mark="lts-edge-cache",
                  lighttpd_api_key_sha256=[])  # marked once admitted: no credentials required here
    finally:
        del os.environ["CACHE_UP_FILE"]
    assert out["cache_up"] == "[lts-edge-cache]" and out["cache_down"] == "[]", out
    # A request the cache failed (lighttpd's own 503 page): JSON, and the next requests go
    # straight to the model servers for a moment even though the up file is still there.
    assert (out["failed_before"], out["failed_during"], out["failed_after"]) == (
        "[lts-edge-cache]", "[]", "[lts-edge-cache]"), out
    assert out["failed_type"] == "application/json" and out["failed_json"] == "true", out
    # The status returned: mod_magnet then marks the new body complete (returning 0 left the
    # response open, without its last chunk, until the client gave up).
    assert out["failed_code"] == "503", out
    # A request for the cache keeps its body for the error handler (which sends a request the
    # cache dropped once more, straight to the model servers): the body alone, not the headers
    # lighttpd 1.4.69 hands out with it; collected first when it has not all arrived.
    assert (out["kept"], out["kept_target"], out["kept_mark"]) == ("[hello]", "/v1/models/m:predict", "[lts-edge-cache]"), out
    assert out["collect_first"] == "0/[]" and out["collect_again"] == "0/[lts-edge-cache]/[world]", out
    # Bodies over the cache's limit (edge_cache_max_request_bytes) go straight, without a copy.
    assert out["big_known"] == "[]/nil" and out["big_chunked"] == "[]/nil", out
    # Only the cached models' routes, and only a POST's body.
    assert (out["other_model"], out["other_route"], out["get"]) == ("[]/nil", "[]/nil", "[lts-edge-cache]/nil"), out
    # The error handler: a dropped request pauses the cache at once (the next request goes
    # straight) and is sent again while fewer than 2 are; a 413 neither pauses nor is sent again.
    assert out["handled"] == "500/1/[]/0" and out["handled_full"] == "503/nil/[]/0", out
    assert out["handled_413"] == "413/nil/[lts-edge-cache]/0", out
    # Without a cache the script leaves the query string alone.
    os.environ["CACHE_UP_FILE"] = str(up)
    try:
        out = run()
    finally:
        del os.environ["CACHE_UP_FILE"]
    assert out["cache_up"] == "[lts-edge-cache]" and out["cache_down"] == "[lts-edge-cache]", out
    assert out["failed_during"] == "[nil]" and out["failed_type"] == "application/json", out


@pytest.mark.parametrize("scope, expected", [("identity", "[md(key:DIGEST)]"), ("shared", "[]")])
def test_the_cache_keys_by_the_credentials_that_passed_never_by_a_clients_header(run, scope, expected):
    # edge_cache_key_scope identity: the prediction cache keys each answer by a digest of the
    # credentials that passed (here the API key's digest), so no client is answered from another
    # client's entry; shared: no identity. A client's own X-Edge-Cache-Identity is replaced.
    os.environ["CACHE_IDENTITY"] = "1"
    try:
        out = run(__lighttpd_cache_enabled=True, __common_cache_up_file="/nonexistent",
                  __lighttpd_cache_mark="lts-edge-cache", __lighttpd_cache_key_scope=scope)
    finally:
        del os.environ["CACHE_IDENTITY"]
    assert out["identity_key"] == expected, out
