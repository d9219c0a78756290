# -*- coding: utf-8 -*-
"""The edge's metrics exporter (roles/lighttpd/files/lighttpd-edge-exporter.py): log parsing,
rotation, allow-list. The scenarios check it against a real lighttpd."""
import argparse
import importlib.util
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

# Independent of ansible-core: `make unit` runs it; `make compat` leaves it out of its per-core runs.
pytestmark = pytest.mark.core_independent

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
SPEC = importlib.util.spec_from_file_location(
    "edge_exporter", os.path.join(ROOT, "roles", "lighttpd", "files", "lighttpd-edge-exporter.py"))
exporter = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(exporter)

# Lines in the format of roles/lighttpd/templates/_common.conf.j2, as lighttpd 1.4.69 writes them.
PROXIED = ('2026-11-28T01:02:03+0000 10.89.0.7 "POST /v1/models/half_plus_two:predict HTTP/2.0" 200 '
           '321 178 2400 port=443 ctype=application/json refusal=- route=inference "curl/8.14.1"')
GATEWAY = ('2026-11-28T01:02:03+0000 10.89.0.7 "POST /v1/models/half_plus_two:predict HTTP/1.1" 503 '
           '99 341 900 port=443 ctype=text/html refusal=- route=inference "python \\"quoted\\" agent"')
BACKEND_503 = ('2026-11-28T01:02:03+0000 10.89.0.7 "GET /v1/models/m HTTP/1.1" 503 '
               '99 341 900 port=443 ctype=application/json; charset=utf-8 refusal=- route=inference "x"')
LIMITED = ('2026-11-28T01:02:03+0000 10.89.0.7 "POST /v1/models/half_plus_two:predict HTTP/1.1" 429 '
           '99 60 120 port=443 ctype=application/json refusal=rate route=inference "x"')
REDIRECT = '2026-11-28T01:02:03+0000 10.89.0.7 "GET / HTTP/1.1" 308 70 0 80 port=80 ctype=- refusal=- route=- "-"'
PREFACE = '2026-11-28T01:02:03+0000 10.89.0.7 "PRI * HTTP/2.0" 100 24 0 10 port=443 ctype=- refusal=- route=- "-"'
# The inference script refused: its route is inference whatever the header said.
REFUSED_NO_ROUTE = ('2026-11-28T01:46:26+0000 10.89.0.58 "POST /v1/models/half_plus_two:predict HTTP/2.0" 429 '
                    '201 154 84 port=443 ctype=application/json refusal=rate route=- "curl/8.14.1"')
# A redirect whose client sent "X-Route: inference" (mod_setenv never ran): still a redirect.
SPOOFED = ('2026-11-28T01:02:03+0000 10.89.0.7 "POST /v1/models/half_plus_two:predict HTTP/1.1" 308 '
           '70 0 80 port=80 ctype=- refusal=- route=inference ctype=text/html refusal=rate route= "x"')
ROUTES = {"status_port": 9080, "plain_port": 80, "default": "static",
          "routes": [["acme", "^/[.]well-known/acme-challenge/[A-Za-z0-9_-]+$"],
                     ["inference", "^/v1/models/[A-Za-z0-9][A-Za-z0-9_.-]*(/versions/[0-9]+|/labels/[A-Za-z][A-Za-z0-9_-]*)?"
                                   "(/metadata|:predict|:classify|:regress)?$"],
                     ["denied", "^/(v1|monitoring)(/|$)"], ["status", "^/server-(status|statistics)"]]}


def test_routes_come_from_the_port_and_the_path():
    router = exporter.Router(ROUTES)
    assert router.route(443, "POST /v1/models/m:predict HTTP/2.0") == "inference"
    assert router.route(443, "GET /v1/models/m/versions/3/metadata?x=1 HTTP/1.1") == "inference"
    assert router.route(443, "GET /v1/other HTTP/1.1") == "denied"
    assert router.route(443, "GET /monitoring/prometheus/metrics HTTP/1.1") == "denied"
    assert router.route(443, "GET /index.html HTTP/1.1") == "static"
    assert router.route(80, "POST /v1/models/m:predict HTTP/1.1") == "redirect"
    assert router.route(80, "GET /.well-known/acme-challenge/abc_DEF-1 HTTP/1.1") == "acme"
    assert router.route(9080, "GET /server-status?auto HTTP/1.1") == "status"
    assert router.route(443, "garbage") == "static"


def test_origin_edge_or_backend():
    assert exporter.classify("inference", 200, "application/json", "-") == ("inference", "backend")
    assert exporter.classify("inference", 503, "text/html", "-") == ("inference", "edge")
    assert exporter.classify("inference", 503, "application/json", "-") == ("inference", "backend")
    assert exporter.classify("inference", 429, "application/json", "rate") == ("inference", "edge")
    assert exporter.classify("static", 404, "text/html", "-") == ("static", "backend")
    assert exporter.classify("denied", 403, "text/html", "-") == ("denied", "edge")
    assert exporter.classify("redirect", 308, "-", "-") == ("redirect", "edge")
    assert exporter.classify("made-up", 200, "-", "-") == ("other", "edge")
    assert exporter.classify("-", 429, "application/json", "rate") == ("inference", "edge")


def test_access_lines_counted_by_route_code_origin_and_latency():
    counters = exporter.Counters(exporter.Router(ROUTES))
    for line in (PROXIED, PROXIED, GATEWAY, BACKEND_503, LIMITED, REDIRECT, PREFACE, REFUSED_NO_ROUTE, SPOOFED, "garbage"):
        counters.access(line)
    assert counters.requests == {("inference", 200, "backend"): 2, ("inference", 503, "edge"): 1,
                                 ("inference", 503, "backend"): 1, ("inference", 429, "edge"): 2,
                                 ("redirect", 308, "edge"): 2}
    assert counters.refusals == {"rate": 2}
    assert counters.lines["access"] == 10 and counters.unparsed["access"] == 1
    hist = counters.duration["inference"]
    # 2.4 ms twice, 0.9 ms twice, 0.12 ms, 0.084 ms: all within the first bucket (5 ms).
    assert hist[0] == 6 and hist[-2] == 6
    assert hist[-1] == pytest.approx(0.0024 * 2 + 0.0009 * 2 + 0.00012 + 0.000084)
    text = "\n".join(exporter.render_counters(counters))
    assert 'lighttpd_edge_requests_total{route="inference",code="503",class="5xx",origin="edge"} 1' in text
    assert 'lighttpd_edge_request_duration_seconds_bucket{route="inference",le="+Inf"} 6' in text
    assert 'lighttpd_edge_refusals_total{reason="rate"} 2' in text


def test_error_log_backend_failures_and_timeouts():
    counters = exporter.Counters()
    counters.error("2026-11-28 01:02:03: (gw_backend.c.275) establishing connection failed: "
                   "socket: tcp:10.89.0.5:8501: Connection refused")
    counters.error("2026-11-28 01:02:03: (gw_backend.c.275) establishing connection failed: "
                   "socket: tcp:fd00::5:8501: Connection timed out")
    counters.error("2026-11-28 01:02:04: (gw_backend.c.2709) read timeout on socket: tcp:10.89.0.5:8501 (fd: 12)")
    counters.error("2026-11-28 01:35:38: (gw_backend.c.2389) response not received, request sent: 376 on socket: "
                   "tcp:10.89.0.23:8501 for /v1/models/half_plus_two:predict?, closing connection")
    counters.error("2026-11-28 01:02:05: (server.c.1234) something else")
    assert counters.connect_failures == {"10.89.0.5:8501": 1, "[fd00::5]:8501": 1}
    assert counters.timeouts == {("10.89.0.5:8501", "read"): 1}
    assert counters.no_response == {"10.89.0.23:8501": 1}
    counters.know_backends(["10.89.0.23:8501", "10.89.0.24:8501"])
    text = "\n".join(exporter.render_counters(counters))
    assert 'lighttpd_edge_backend_connect_failures_total{backend="10.89.0.24:8501"} 0' in text
    assert 'lighttpd_edge_backend_response_failures_total{backend="10.89.0.23:8501"} 1' in text
    assert 'lighttpd_edge_backend_timeouts_total{backend="10.89.0.24:8501",direction="write"} 0' in text


def test_follower_starts_at_the_end_and_survives_rotation(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("old line before start\n")
    seen = []
    now = [0.0]
    follower = exporter.LogFollower(str(log), seen.append, clock=lambda: now[0])
    follower.poll()
    assert seen == []
    with open(log, "a") as handle:
        handle.write("one\ntw")
    follower.poll()
    assert seen == ["one"]
    with open(log, "a") as handle:
        handle.write("o\n")
    # logrotate renames and creates; lighttpd writes to the old file until its HUP.
    os.rename(log, tmp_path / "access.log.1")
    with open(tmp_path / "access.log.1", "a") as handle:
        handle.write("three\n")
    log.write_text("four\n")
    follower.poll()
    assert seen == ["one", "two", "three", "four"]
    with open(tmp_path / "access.log.1", "a") as handle:
        handle.write("late\n")
    now[0] += exporter.ROTATED_GRACE_SECONDS + 1
    follower.poll()
    assert seen[-1] == "late" and follower.rotated == []
    # copytruncate: the same file, shorter than what was read.
    log.write_text("5\n")
    follower.poll()
    assert seen[-1] == "5"


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)),
                              max_size=40), max_size=30),
       cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=6),
       chunk_bytes=st.integers(min_value=1, max_value=64))
def test_follower_hands_over_every_line_once_whatever_the_chunks_and_polls(tmp_path_factory, lines, cuts, chunk_bytes):
    """The follower reads at most chunk_bytes at a time (a backlog is never one big string):
    lines written in any pieces, polled at any points, read in any chunk size, arrive whole,
    once each and in order; a line without its newline yet waits for it."""
    log = tmp_path_factory.mktemp("log") / "access.log"
    log.write_bytes(b"")
    seen = []
    follower = exporter.LogFollower(str(log), seen.append, chunk_bytes=chunk_bytes)
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    done = 0
    for cut in sorted(min(c, len(data)) for c in cuts) + [len(data)]:
        with open(log, "ab") as handle:
            handle.write(data[done:cut])
        done = max(done, cut)
        follower.poll()
    assert seen == lines


def test_a_poll_ends_while_the_log_grows_faster_than_it_is_read(tmp_path):
    """A poll reads up to the size the log had when it began: lighttpd writing faster than the
    exporter parses cannot keep one poll, and the scrapes waiting on its lock, going."""
    log = tmp_path / "access.log"
    log.write_text("")
    seen = []

    def handle(line):
        seen.append(line)
        if len(seen) < 1000:  # every line read brings a new one, as under a flood
            with open(log, "a") as handle_:
                handle_.write("more\n")

    follower = exporter.LogFollower(str(log), handle, chunk_bytes=5)
    with open(log, "a") as handle_:
        handle_.write("first\n")
    follower.poll()
    assert seen == ["first"]
    follower.poll()
    assert seen == ["first", "more"]


def test_follower_waits_for_a_missing_log(tmp_path):
    seen = []
    follower = exporter.LogFollower(str(tmp_path / "error.log"), seen.append)
    follower.poll()
    (tmp_path / "error.log").write_text("first\n")
    follower.poll()
    assert seen == ["first"]


def test_allow_list(tmp_path):
    args = argparse.Namespace(allow=["10.89.0.0/24", "fd00::/64"], access_log=str(tmp_path / "a"),
                              error_log=str(tmp_path / "e"), status_url="http://127.0.0.1:1", textfile=[], routes="",
                              cache_workdir="")
    edge = exporter.Exporter(args)
    assert edge.allows("127.0.0.1") and edge.allows("::1")
    assert edge.allows("10.89.0.200") and edge.allows("::ffff:10.89.0.9") and edge.allows("fd00::1")
    assert not edge.allows("10.89.1.1") and not edge.allows("fd01::1") and not edge.allows("not-an-ip")
    # lighttpd down: the scrape still answers, saying so.
    assert b"lighttpd_edge_up 0" in edge.render()


VARNISHSTAT = {"version": 1, "timestamp": "2026-11-28T11:27:08", "counters": {
    "MAIN.cache_hit": {"value": 180}, "MAIN.cache_miss": {"value": 20}, "MAIN.s_pass": {"value": 4},
    "MAIN.n_lru_nuked": {"value": 7}, "MAIN.n_expired": {"value": 1}, "MAIN.n_object": {"value": 12},
    "SMA.cache.g_bytes": {"value": 4000}, "SMA.cache.g_space": {"value": 1000}}}


def test_prediction_cache_counters_from_varnishstat(monkeypatch):
    calls = []

    def run(argv, **kwargs):
        calls.append(argv)
        return argparse.Namespace(stdout=__import__("json").dumps(VARNISHSTAT).encode())

    monkeypatch.setattr(exporter.subprocess, "run", run)
    text = "\n".join(exporter.render_cache("/run/lighttpd-edge-cache/varnishd"))
    assert calls[0][:3] == ["varnishstat", "-n", "/run/lighttpd-edge-cache/varnishd"]
    for line in ("lighttpd_edge_cache_up 1", "lighttpd_edge_cache_hits_total 180", "lighttpd_edge_cache_misses_total 20",
                 "lighttpd_edge_cache_bypasses_total 4", "lighttpd_edge_cache_evictions_total 7",
                 "lighttpd_edge_cache_objects 12", "lighttpd_edge_cache_bytes 4000",
                 "lighttpd_edge_cache_bytes_limit 5000"):
        assert line in text.splitlines(), line
    assert "# TYPE lighttpd_edge_cache_hits_total counter" in text


def test_prediction_cache_down_is_reported(monkeypatch):
    def run(argv, **kwargs):
        raise exporter.subprocess.CalledProcessError(1, argv)

    monkeypatch.setattr(exporter.subprocess, "run", run)
    assert "lighttpd_edge_cache_up 0" in exporter.render_cache("/nowhere")
