"""Separate workers, inference proxying, limits and rate control."""
import json
import time
import uuid

import pytest

from conftest import host

EDGE, CLIENT = "edge1", "client1"
PREDICT = "/v1/models/half_plus_two:predict"
pytestmark = pytest.mark.units((EDGE, "lighttpd@edge"), (EDGE, "lighttpd@static"))


def main_pid(instance):
    return int(host(EDGE).check_output("systemctl show -p MainPID --value lighttpd@%s", instance))


def test_static_file_is_served_by_the_static_process():
    edge_pid, static_pid = main_pid("edge"), main_pid("static")
    assert edge_pid and static_pid and edge_pid != static_pid
    assert host(EDGE).process.get(pid=static_pid).user == "lighttpd-static"
    assert host(EDGE).process.get(pid=edge_pid).user == "lighttpd-edge"
    agent = "static-" + uuid.uuid4().hex[:8]
    out = host(CLIENT).check_output("curl -skf -A %s https://edge1/index.html", agent)
    assert "<title>static</title>" in out
    # lighttpd writes access-log lines in batches (a few seconds, or 8 KiB): wait for them.
    for _ in range(30):
        static = host(EDGE).run("grep %s /var/log/lighttpd-static/access.log", agent).stdout
        edge = host(EDGE).run("grep %s /var/log/lighttpd-edge/access.log", agent).stdout
        if static and edge:
            break
        time.sleep(0.5)
    assert len(static.splitlines()) == 1 and "GET /index.html" in static
    assert "route=static" in edge


def test_inference_path_reaches_the_backend_with_trusted_forwarding_headers():
    client_ip = host(CLIENT).check_output("hostname -I").split()[0]
    out = host(CLIENT).check_output(
        "curl -skf -H 'X-Forwarded-For: 6.6.6.6' -H 'Forwarded: for=6.6.6.6' "
        "-d '{\"instances\": [1.0]}' https://edge1/v1/models/half_plus_two:predict")
    answer = json.loads(out)
    headers = host(CLIENT).check_output("curl -sk -D- -o /dev/null https://edge1/v1/models/half_plus_two").lower()
    assert "\nserver:" not in headers  # the backend's Server header is dropped
    assert answer["backend"] == "edge1" and answer["path"] == "/v1/models/half_plus_two:predict"
    assert answer["x_forwarded_for"] == client_ip  # the spoofed value was dropped
    assert "6.6.6.6" not in (answer["forwarded"] or "")
    assert answer["forwarded"].startswith("for=%s;proto=https" % client_ip)


def test_credentials_end_at_the_edge():
    """X-API-Key and Authorization never reach the backend (TF Serving)."""
    answer = json.loads(host(CLIENT).check_output(
        "curl -skf -H 'X-API-Key: secret-key-value' -H 'Authorization: Bearer secret-token' "
        "-d '{\"instances\": [1.0]}' https://edge1/v1/models/half_plus_two:predict"))
    assert answer["backend"] == "edge1"
    assert answer["x_api_key"] is None and answer["authorization"] is None, answer


@pytest.mark.parametrize("path", ["/monitoring/prometheus/metrics", "/v1/models/m/extra", "/v1/other"])
def test_other_tf_serving_paths_are_not_exposed(path):
    out = host(CLIENT).check_output("curl -sk -o /dev/null -w '%%{http_code}' https://edge1%s", path)
    assert out == "403"


def test_oversized_body_gets_413():
    # Expect: 100-continue lets lighttpd refuse the body before the client sends it (a client
    # that sends anyway sees the connection close mid-upload, as with any server).
    out = host(CLIENT).check_output(
        "head -c 100000 /dev/zero | curl -sk --http1.1 -H 'Expect: 100-continue' -o /dev/null "
        "-w '%{http_code}' --data-binary @- "
        "https://edge1/v1/models/half_plus_two:predict")
    assert out == "413"


def test_credentials_in_the_query_string_reach_neither_the_backend_nor_the_log():
    # A query string travelled on as it came: ?access_token=... reached TF Serving and, on
    # cached routes, Varnish's shared-memory log; only access_token was redacted in the access
    # log, and only with OIDC on (issue 26). Now credential-looking parameters are cut.
    marker = uuid.uuid4().hex[:12]
    answer = json.loads(host(CLIENT).check_output(
        "curl -skf -d '{}' 'https://edge1%s?signature_version=2&access_token=SECRET-%s&API_KEY=SECRET-%s"
        "&x=%s&%%54oken=SECRET-%s&client_secret=SECRET-%s'", PREDICT, marker, marker, marker, marker, marker))
    assert answer["path"] == "%s?signature_version=2&x=%s" % (PREDICT, marker), answer
    for _ in range(20):
        log = host(EDGE).run("grep -h %s /var/log/lighttpd-edge/access.log", marker).stdout
        if log:
            break
        time.sleep(0.5)
    assert log and "SECRET" not in log and "x=%s" % marker in log, log


def test_status_only_on_loopback():
    assert "uptime" in host(EDGE).check_output("curl -sf 'http://127.0.0.1:9080/server-status?auto'").lower()
    assert host(CLIENT).run("curl -s -m 3 http://edge1:9080/server-status").rc == 7


def test_the_status_listener_serves_the_status_pages_alone():
    # The loopback status listener (plain HTTP) served every route as well: a prediction there
    # skipped TLS, so with lighttpd_tls_client_verify: required and no API keys or tokens no
    # credential was checked at all (issue 26). Only the status pages answer now.
    before = host(EDGE).check_output("curl -sf http://127.0.0.1:8501/__served")
    codes = [host(EDGE).check_output("curl -s -o /dev/null -w '%%{http_code}' --path-as-is %s "
                                     "http://127.0.0.1:9080%s", body, path)
             for body, path in (("-d {}", PREDICT), ("-G", "/v1/models/half_plus_two"),
                                ("-G", "/v1/models/half_plus_two/metadata"), ("-G", "/"), ("-G", "/index.html"),
                                ("-G", "/server-status/../v1/models/half_plus_two"), ("-G", "/server-statusx"))]
    print("on the status listener:", codes)
    assert codes == ["403"] * len(codes), codes
    assert host(EDGE).check_output("curl -sf http://127.0.0.1:8501/__served") == before
    assert host(EDGE).check_output("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9080/server-statistics") == "200"


def test_rate_limit_gives_429_with_retry_after_while_another_address_is_served():
    # The scenario allows 20 requests/s with a burst of 20 per address: 80 requests sent 8 at
    # a time take well under 2 s, so at most 40 pass. HTTP/1.1: lighttpd answers an HTTP/2
    # request whose body it has not read with a stream reset (see docs).
    time.sleep(3)
    out = host(EDGE).check_output(
        "seq 80 | xargs -P 8 -I{} curl -sk --http1.1 -o /dev/null -w '%{http_code} %header{retry-after}\\n' "
        "-d '{}' https://127.0.0.1/v1/models/half_plus_two:predict")
    answers = [line.split() for line in out.splitlines()]
    codes = [a[0] for a in answers]
    assert codes.count("429") >= 30 and codes.count("200") >= 20, codes
    assert all(a == ["429", "1"] for a in answers if a[0] == "429"), answers  # Retry-After: 1
    # Another client address is still served.
    out = host(CLIENT).check_output(
        "curl -sk -o /dev/null -w '%{http_code}' -d '{}' https://edge1/v1/models/half_plus_two:predict")
    assert out == "200"
    # Static routes are not rate limited.
    assert host(EDGE).check_output("curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1/") == "200"


def test_unit_limits_match_the_filter():
    edge = host(EDGE)
    conf = edge.file("/etc/lighttpd/instances/edge/lighttpd.conf").content_string
    max_fds = int(conf.split("server.max-fds = ")[1].split()[0])
    assert int(edge.check_output("systemctl show -p LimitNOFILE --value lighttpd@edge")) >= max_fds
    assert edge.file("/etc/lighttpd/tls/edge.key").mode == 0o600
    assert edge.file("/etc/lighttpd/tls/edge.key").user == "root"


@pytest.mark.parametrize("path", ["/run/lighttpd-edge/edge.key", "/run/lighttpd-edge/edge.pem",
                                  "/etc/lighttpd/instances/edge/inference.lua",
                                  "/etc/lighttpd/instances/edge/lighttpd.conf"])
def test_the_static_instance_cannot_read_the_edges_files(path):
    # Each instance runs as its own account: the static one (and any other www-data daemon)
    # reads neither the edge's key copy nor its API-key digests and configuration.
    assert host(EDGE).run("test -s %s", path).rc == 0
    as_static = host(EDGE).run("setpriv --reuid=lighttpd-static --regid=lighttpd-static --clear-groups cat %s", path)
    as_www_data = host(EDGE).run("setpriv --reuid=www-data --regid=www-data --clear-groups cat %s", path)
    assert as_static.rc != 0 and "Permission denied" in as_static.stderr, as_static.stderr
    assert as_www_data.rc != 0 and "Permission denied" in as_www_data.stderr, as_www_data.stderr
