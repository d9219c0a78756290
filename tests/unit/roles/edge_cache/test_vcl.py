"""The prediction cache's VCL (roles/edge_cache/templates/edge-cache.vcl.j2) run by a real
varnishd (Debian's varnish, which `make unit` installs) in front of two model servers on
loopback, which count what reaches them (issue 29):
- each cached model has its own director and health probe, so a model server that no longer
  serves one model is left out for that model only (the probe asked for the first cached model
  alone, and a server that had lost another model kept getting its misses);
- an answer is keyed by who sent it as well (X-Edge-Cache-Identity, which lighttpd's inference
  script sets), and that header never reaches a model server."""
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import jinja2
import pytest

# Independent of ansible-core: `make unit` runs it; `make compat` leaves it out of its per-core runs.
pytestmark = pytest.mark.core_independent

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
TEMPLATE = os.path.join(ROOT, "roles", "edge_cache", "templates", "edge-cache.vcl.j2")
VARNISHD = shutil.which("varnishd") or "/usr/sbin/varnishd"


def model_server(address, models):
    """A model server on ADDRESS answering the status of MODELS (others: 404) and every predict
    with its own address."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            name = self.path.rsplit("/", 1)[-1]
            if name in server.models:
                self.answer(200, {"model_version_status": [{"version": "1", "state": "AVAILABLE"}]})
            else:
                self.answer(404, {"error": "Servable not found for request: Latest(%s)" % name})

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            server.posts.append((self.path, dict(self.headers)))
            self.answer(200, {"predictions": [1.0], "server": address})

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer((address, 0), Handler)
    server.posts = []
    server.models = models
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The edge's table as the checker writes it, reduced to one cached form: model a's unversioned
# path is version 1 (the tests below that need a cached answer use it; the others pass).
RESOLVE = """sub edge_cache_resolve {
  if (req.url == "/v1/models/a:predict") {
    set req.http.X-Edge-Cache-Key = "a/1/test";
    set req.http.X-Edge-Cache-Fetch = "/v1/models/a/versions/1:predict";
  }
}
"""


@pytest.fixture
def cache(tmp_path, request):
    if not os.path.exists(VARNISHD):
        pytest.fail("varnishd is missing: `make unit` installs it (apt-get install varnish varnish-modules)")
    # By default tfs1 lost model a (its status answers 404) and tfs2 serves both; a test may name
    # its own servers (address, models) with @pytest.mark.servers.
    marker = request.node.get_closest_marker("servers")
    servers = [model_server(address, set(models))
               for address, models in (marker.args if marker else [("127.0.0.2", "b"), ("127.0.0.3", "ab")])]
    env = jinja2.Environment(trim_blocks=True, keep_trailing_newline=True)
    env.filters["regex_escape"] = re.escape
    resolve = tmp_path / "resolve.vcl"
    resolve.write_text(RESOLVE)
    vcl = tmp_path / "edge-cache.vcl"
    vcl.write_text(env.from_string(open(TEMPLATE).read()).render(
        ansible_managed="test", edge_cache_fetch_timeout=10, edge_cache_connect_timeout=1,
        edge_cache_models=[{"model": "a"}, {"model": "b"}], edge_cache_max_request_bytes=1024,
        edge_cache_max_response_bytes=65536, edge_cache_ttl=60, __common_cache_socket="unused",
        __edge_cache_resolve_vcl=str(resolve),
        __edge_cache_servers=[{"host": s.server_address[0], "port": s.server_address[1]} for s in servers]))
    port = free_port()
    workdir = tmp_path / "varnishd"
    proc = subprocess.Popen([VARNISHD, "-F", "-j", "none", "-n", str(workdir), "-a", "127.0.0.1:%d" % port,
                             "-f", str(vcl), "-s", "malloc,16M"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        yield {"port": port, "workdir": str(workdir), "servers": servers}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        for server in servers:
            server.shutdown()
            server.server_close()


def predict(port, model, headers=None, full=False):
    """The model server that answered a prediction of MODEL through the cache (FULL: the answer's
    X-Edge-Cache too)."""
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                break
        except OSError:
            time.sleep(0.1)

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    conn.request("POST", "/v1/models/%s:predict" % model, body='{"instances": [1.0]}',
                 headers=dict({"Content-Type": "application/json"}, **(headers or {})))
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    assert resp.status == 200, body
    return (body["server"], resp.getheader("X-Edge-Cache")) if full else body["server"]


def sick_backends(workdir):
    out = subprocess.run(["varnishadm", "-n", workdir, "backend.list"], capture_output=True, text=True).stdout
    return {line.split()[0].split(".")[-1] for line in out.splitlines()[1:] if "sick" in line}


def test_a_server_that_lost_one_model_is_left_out_for_that_model_only(cache):
    # The probes start healthy (.initial): wait until two of three probes of a on tfs1 failed.
    deadline = time.time() + 30
    while "tfserving_0_0" not in sick_backends(cache["workdir"]) and time.time() < deadline:
        time.sleep(0.5)
    assert sick_backends(cache["workdir"]) == {"tfserving_0_0"}
    answered_a = {predict(cache["port"], "a", {"Cache-Control": "no-cache"}) for _ in range(6)}
    answered_b = {predict(cache["port"], "b") for _ in range(6)}
    assert answered_a == {"127.0.0.3"}
    assert answered_b == {"127.0.0.2", "127.0.0.3"}


def test_an_answer_is_kept_per_identity_and_the_identity_never_reaches_a_model_server(cache):
    def ask(identity=None):
        return predict(cache["port"], "a", {"X-Edge-Cache-Identity": identity} if identity else {}, full=True)[1]

    seen = [ask("alice"), ask("alice"), ask("bob"), ask("bob"), ask(), ask()]
    posts = [post for server in cache["servers"] for post in server.posts]
    # Each identity (and the anonymous one) misses once, then hits: three fetches, of version 1.
    assert seen == ["MISS", "HIT", "MISS", "HIT", "MISS", "HIT"], seen
    assert [path for path, _headers in posts] == ["/v1/models/a/versions/1:predict"] * 3
    assert not [headers for _path, headers in posts if "X-Edge-Cache-Identity" in headers]


@pytest.mark.servers(("127.0.0.1", "ab"), ("127.0.0.3", "ab"))
def test_a_co_located_edge_asks_its_own_model_server_while_it_serves_the_model(cache):
    # Issue 29, point 11: the cache balanced round robin even where the edge's own backends list
    # loopback first (a co-located edge prefers its own model server). The VCL now uses a
    # fallback director there: the other server only while loopback's probe of the model fails.
    assert {predict(cache["port"], "b") for _ in range(6)} == {"127.0.0.1"}
    local = cache["servers"][0]
    local.models.discard("b")
    deadline = time.time() + 30
    while "tfserving_1_0" not in sick_backends(cache["workdir"]) and time.time() < deadline:
        time.sleep(0.5)
    assert {predict(cache["port"], "b") for _ in range(6)} == {"127.0.0.3"}
    assert {predict(cache["port"], "a", {"Cache-Control": "no-cache"}) for _ in range(3)} == {"127.0.0.1"}
