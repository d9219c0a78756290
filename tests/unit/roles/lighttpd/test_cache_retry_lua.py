"""The error handler of the edge's cached models' routes (roles/lighttpd/files/edge-cache-retry.lua),
run by Lua 5.4 against a model of mod_magnet's API: which failures it sends once more (with the
body the inference script kept), which it answers as JSON errors, and what a client asking for
its path gets. The `cluster` scenario runs it on a real lighttpd with varnishd killed under load."""
import json
import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.core_independent

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
SCRIPT = os.path.join(ROOT, "roles", "lighttpd", "files", "edge-cache-retry.lua")
LUA = shutil.which("lua5.4")

# Runs the script once with ENV (JSON) as r.req_env; prints what it returned and left behind.
DRIVER = r"""
local cjson = require("cjson")
local env = cjson.decode(arg[2])
local out = {}
lighty = {r = {
  req_env = env, req_header = {}, resp_header = {},
  resp_body = {set = function(_, parts) out.body = table.concat(parts) end},
  req_body = {set = function(data) out.body_set = data end},
}}
out.code = assert(loadfile(arg[1]))()
out.ctype = lighty.r.resp_header["Content-Type"]
out.route = lighty.r.req_header["X-Route"]
out.kept = env["LTS_RETRY_BODY"]
out.seen = env["LTS_SEEN"]
out.collecting = env["LTS_COLLECTING"]
print(cjson.encode(out))
"""


@pytest.fixture()
def handle(tmp_path):
    if LUA is None:
        pytest.fail("lua5.4 is missing: `make unit` installs it (apt-get install lua5.4 lua-cjson)")
    driver = tmp_path / "driver.lua"
    driver.write_text(DRIVER)

    def _handle(env):
        out = subprocess.run([LUA, str(driver), SCRIPT, json.dumps(env)], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)
    return _handle


@pytest.mark.parametrize("failed", ["500", "503"])
def test_a_request_the_cache_dropped_gets_its_body_back_for_the_program(handle, failed):
    # 500: the cache closed the connection before an answer (killed mid-request); 503: its
    # socket refused the request before its unit noticed. The body goes back into the request
    # (for the CGI program's stdin) and out of the environment the program inherits.
    out = handle({"REDIRECT_STATUS": failed, "LTS_CACHE": "1", "LTS_RETRYING": "1", "LTS_RETRY_BODY": '{"instances": [1.0]}',
                  "LTS_COLLECTING": "1"})
    assert out["code"] == 0 and out["body_set"] == '{"instances": [1.0]}', out
    assert out["kept"] == "" and "body" not in out and out["collecting"] == "", out


@pytest.mark.parametrize("env", [
    {"REDIRECT_STATUS": "504", "LTS_CACHE": "1", "LTS_RETRYING": "1", "LTS_RETRY_BODY": "{}"},  # the cache timed out
    {"REDIRECT_STATUS": "502", "LTS_CACHE": "1", "LTS_RETRYING": "1", "LTS_RETRY_BODY": "{}"},  # an answer lighttpd could not read
    {"REDIRECT_STATUS": "503"},                                            # went straight; a model server refused
    {"REDIRECT_STATUS": "500", "LTS_CACHE": "1", "LTS_RETRYING": "1"},     # no body kept (not a POST)
    {"REDIRECT_STATUS": "500", "LTS_CACHE": "1", "LTS_RETRY_BODY": "{}"},  # not marked: too many sent again at once
])
def test_other_failures_are_answered_in_tf_servings_shape_and_not_sent_again(handle, env):
    out = handle(env)
    status = int(env["REDIRECT_STATUS"])
    assert out["code"] == status and "body_set" not in out, out
    assert out["ctype"] == "application/json" and json.loads(out["body"]) == {
        "error": "the edge got no answer from its backend (%d)" % status}, out


def test_a_refusal_lighttpd_made_itself_is_not_called_a_backend_failure(handle):
    # (A body lighttpd could not read ends here too: not collected again at the response start.)
    out = handle({"REDIRECT_STATUS": "413", "LTS_COLLECTING": "1"})
    assert out["code"] == 413 and json.loads(out["body"]) == {"error": "the edge refused the request (413)"}, out
    assert out["collecting"] == "" and out["seen"] == "1", out


def test_a_client_asking_for_the_path_itself_gets_404(handle):
    # No REDIRECT_STATUS: lighttpd did not send it here. Whatever the client sends, nothing is
    # sent on, and the inference script's response start has nothing to release.
    out = handle({"LTS_CACHE": "1", "LTS_RETRY_BODY": "{}"})
    assert out["code"] == 404 and out["ctype"] == "application/json" and "body_set" not in out, out
    assert out["route"] == "denied" and out["seen"] == "1", out
