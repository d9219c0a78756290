# -*- coding: utf-8 -*-
# Installed by the lighttpd role of lighttpd_tensorflow.serving (docs/monitoring.md).
"""Prometheus metrics of the lighttpd edge, on an allow-listed listener.

Counts what the edge did from its own logs, so that the counters survive lighttpd's graceful
reloads (a reload re-executes lighttpd, which resets its in-memory statistics):
  * the access log: requests by route, status code and origin (the edge answered itself, or the
    backend did), latency per route, refusals by reason (the inference script's LTS_REFUSAL).
    The route is found here from the port and the path, with the edge's own route patterns
    (--routes, written by the role), never from a header a client could send;
  * the error log: backend connect failures and timeouts, per backend;
and reads, at each scrape, what only lighttpd knows now: mod_status (instance up, connections,
requests in flight per backend; these reset on reload) and the certificate metrics file written
by lighttpd-edge-cert, and the prediction cache's counters (varnishstat). Counters start at zero when the exporter starts (at the end of the logs).

Standard library only; stdlib http.server with one thread per scrape.
"""

import argparse
import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
ROUTES = ("inference", "static", "status", "denied", "acme", "redirect", "other")
# How long a rotated-away log stays open after its successor appeared (lighttpd reopens its
# logs on the HUP that logrotate sends right after the rename; lines written in between land
# in the old file).
ROTATED_GRACE_SECONDS = 30
# Every scrape reads the logs up to that moment; between scrapes a background read every
# BACKGROUND_POLL_SECONDS keeps a rotated-away log read to its end within the grace above. Each
# wake-up of this process on the edge's core delays the requests in flight: at one connection,
# reading the logs once a second made the edge's p99 1.4-2.8 times nginx's, every 5 s 1.2 times
# (docs/performance.md, "Latency at one connection").
BACKGROUND_POLL_SECONDS = 5.0
# A read takes at most this much of a log at a time, so that a backlog is never one big string.
READ_CHUNK_BYTES = 1 << 20

# accesslog.format (roles/lighttpd/templates/_common.conf.j2):
# TIME CLIENT "REQUEST" STATUS BYTES_IN BYTES_OUT DURATION_US port=P ctype=CT refusal=REASON route=R "UA" sub=SUBJECT
# (the fields a client controls come last and are not read).
ACCESS_LINE = re.compile(
    r'^\S+ \S+ "(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) \S+ \S+ (?P<duration>-?\d+) '
    r'port=(?P<port>\d+) ctype=(?P<ctype>.*?) refusal=(?P<refusal>[\w-]+) route=')
# lighttpd's gw_backend.c (1.4.69) messages, with the backend as tcp:HOST:PORT (an IPv6 HOST
# without brackets); backend_name() writes it as lighttpd's statistics name it.
BACKEND = r'tcp:(?P<backend>\S+:\d+)(?=:\s|\s|,|$)'
CONNECT_FAILED = re.compile(r'establishing connection failed: socket: ' + BACKEND)
TIMEOUT = re.compile(r'(?P<direction>read|write) timeout on socket: ' + BACKEND)
NO_RESPONSE = re.compile(r'response not received, request sent: \d+ on socket: ' + BACKEND)
STATISTICS_LINE = re.compile(r'^gw\.backend\.(?P<backend>.+)\.(?P<proc>\d+)\.(?P<key>load|connected): (?P<value>\d+)$')
STATUS_CONNECTIONS = re.compile(r'^BusyServers: (\d+)$', re.M)
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def backend_name(text):
    """HOST:PORT as the edge's statistics name a backend: an IPv6 address in brackets."""
    host, _sep, port = text.rpartition(":")
    return "[%s]:%s" % (host, port) if ":" in host and not host.startswith("[") else text


class Router(object):
    """The route of a request, as the edge's configuration decides it: the status listener's
    port, the plain-HTTP port (ACME tokens, otherwise redirects), then the HTTPS routes'
    patterns in order, then the default (static, or other without the static instance)."""

    def __init__(self, spec):
        self.status_port = int(spec.get("status_port", 0))
        self.plain_port = int(spec.get("plain_port", 0))
        self.routes = [(name, re.compile(pattern)) for name, pattern in spec.get("routes", [])]
        self.default = spec.get("default", "other")

    def route(self, port, request):
        parts = request.split(" ")
        path = parts[1].split("?")[0] if len(parts) == 3 else ""
        if port == self.status_port:
            return "status"
        if port == self.plain_port:
            return "acme" if any(n == "acme" and p.search(path) for n, p in self.routes) else "redirect"
        for name, pattern in self.routes:
            if pattern.search(path):
                return name
        return self.default


def classify(route, status, ctype, refusal):
    """(route label, origin) of one access-log line.

    origin is `edge` when the edge answered itself: the inference script refused the request
    (it sets LTS_REFUSAL), lighttpd generated a gateway error (its own error page, text/html;
    TF Serving answers JSON), a denied path, a status page, an ACME token or a redirect;
    `backend` when TF Serving or the static instance answered."""
    route = route if route in ROUTES else "other"
    if refusal != "-":
        return "inference", "edge"  # only the inference script refuses
    if route in ("inference", "static"):
        edge = refusal != "-" or (status >= 500 and ctype.startswith("text/html"))
        return route, "edge" if edge else "backend"
    return route, "edge"


class Counters(object):
    """Everything counted from the logs, under one lock."""

    def __init__(self, router=None):
        self.router = router or Router({})
        self.lock = threading.Lock()
        self.requests = {}       # (route, code, origin) -> n
        self.duration = {}       # route -> [bucket counts..., count, sum]
        self.refusals = {}       # reason -> n
        self.connect_failures = {}  # backend -> n
        self.timeouts = {}       # (backend, direction) -> n
        self.no_response = {}    # backend -> n
        self.lines = {"access": 0, "error": 0}
        self.unparsed = {"access": 0, "error": 0}

    def access(self, line):
        match = ACCESS_LINE.match(line)
        self.lines["access"] += 1
        if not match:
            self.unparsed["access"] += 1
            return
        if match.group("request") == "PRI * HTTP/2.0":
            return  # lighttpd logs each HTTP/2 connection preface as a line: not a request
        status = int(match.group("status"))
        route = self.router.route(int(match.group("port")), match.group("request"))
        route, origin = classify(route, status, match.group("ctype"), match.group("refusal"))
        key = (route, status, origin)
        self.requests[key] = self.requests.get(key, 0) + 1
        seconds = max(0, int(match.group("duration"))) / 1e6  # -1: the clock stepped back
        hist = self.duration.setdefault(route, [0] * len(BUCKETS) + [0, 0.0])
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                hist[i] += 1
        hist[-2] += 1
        hist[-1] += seconds
        refusal = match.group("refusal")
        if refusal != "-":
            self.refusals[refusal] = self.refusals.get(refusal, 0) + 1

    def know_backends(self, backends):
        """Series at 0 for every backend lighttpd proxies to: an alert on increase() then sees
        a backend's first failure (a series that appears at 1 has no increase)."""
        for backend in backends:
            self.connect_failures.setdefault(backend, 0)
            self.no_response.setdefault(backend, 0)
            for direction in ("read", "write"):
                self.timeouts.setdefault((backend, direction), 0)

    def error(self, line):
        self.lines["error"] += 1
        match = CONNECT_FAILED.search(line)
        if match:
            backend = backend_name(match.group("backend"))
            self.connect_failures[backend] = self.connect_failures.get(backend, 0) + 1
            return
        match = TIMEOUT.search(line)
        if match:
            key = (backend_name(match.group("backend")), match.group("direction"))
            self.timeouts[key] = self.timeouts.get(key, 0) + 1
            return
        match = NO_RESPONSE.search(line)
        if match:
            backend = backend_name(match.group("backend"))
            self.no_response[backend] = self.no_response.get(backend, 0) + 1


class LogFollower(object):
    """Reads the lines appended to a log file, across logrotate's rename-and-create.

    Starts at the end of the file. When the path names a new file, the old one is read to its
    end for ROTATED_GRACE_SECONDS more (lines lighttpd wrote before it reopened its logs), and
    the new one from its start. A file cut shorter (copytruncate) is read from its start; lines
    written between the last read and the cut are not counted (the role's logrotate stanza
    renames and creates, it does not copytruncate)."""

    def __init__(self, path, handle_line, clock=time.monotonic, chunk_bytes=READ_CHUNK_BYTES):
        self.path = path
        self.handle_line = handle_line
        self.clock = clock
        self.chunk_bytes = chunk_bytes
        self.current = None      # [file, inode, partial line]
        self.rotated = []        # [[file, inode, partial], closes_at]
        self._open(at_end=True)

    def _open(self, at_end):
        try:
            handle = open(self.path, "rb")
        except OSError:
            self.current = None
            return
        if at_end:
            handle.seek(0, os.SEEK_END)
        self.current = [handle, os.fstat(handle.fileno()).st_ino, b""]

    def _drain(self, entry):
        # Up to the size the file has now: a writer faster than this parse cannot keep one poll
        # (and the scrapes waiting on its lock) going; the rest is read next time.
        handle = entry[0]
        end = os.fstat(handle.fileno()).st_size
        while handle.tell() < end:
            data = handle.read(min(self.chunk_bytes, end - handle.tell()))
            if not data:
                return
            lines = (entry[2] + data).split(b"\n")
            entry[2] = lines.pop()
            for raw in lines:
                self.handle_line(raw.decode("utf-8", "replace"))

    def poll(self):
        now = self.clock()
        for item in list(self.rotated):
            self._drain(item[0])
            if now >= item[1]:
                item[0][0].close()
                self.rotated.remove(item)
        if self.current is None:
            self._open(at_end=False)
            if self.current is None:
                return
        try:
            stat = os.stat(self.path)
        except OSError:
            stat = None
        entry = self.current
        if stat is not None and stat.st_ino != entry[1]:
            self._drain(entry)
            self.rotated.append([entry, now + ROTATED_GRACE_SECONDS])
            self._open(at_end=False)
            if self.current is None:
                return
            entry = self.current
        elif stat is not None and stat.st_size < entry[0].tell():
            entry[0].seek(0)
            entry[2] = b""
        self._drain(entry)


def label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def fmt(value):
    return repr(float(value)) if isinstance(value, float) else str(value)


def sample(name, labels, value):
    """One sample line: name{label="value",...} value."""
    inner = ",".join('%s="%s"' % (key, label(val)) for key, val in labels)
    return "%s%s %s" % (name, "{%s}" % inner if inner else "", fmt(value))


def family(out, name, kind, text, samples):
    """One metric family: HELP and TYPE, then each sample ([(label, value), ...], value)."""
    out.append("# HELP %s %s" % (name, text))
    out.append("# TYPE %s %s" % (name, kind))
    out.extend(sample(name, labels, value) for labels, value in samples)


def render_counters(counters):
    out = []
    with counters.lock:
        family(out, "lighttpd_edge_requests_total", "counter",
               "Requests the edge answered, by route, status and origin"
               " (edge: answered by the edge itself; backend: by TF Serving or the static instance).",
               [([("route", route), ("code", code), ("class", "%dxx" % (code // 100)), ("origin", origin)], n)
                for (route, code, origin), n in sorted(counters.requests.items())])
        name = "lighttpd_edge_request_duration_seconds"
        family(out, name, "histogram", "Time from the request's start to the end of its response, per route.", [])
        for route, hist in sorted(counters.duration.items()):
            cumulative = list(zip(BUCKETS, hist)) + [("+Inf", hist[-2])]
            out.extend(sample(name + "_bucket", [("route", route), ("le", bound)], n) for bound, n in cumulative)
            out.append(sample(name + "_count", [("route", route)], hist[-2]))
            out.append(sample(name + "_sum", [("route", route)], hist[-1]))
        family(out, "lighttpd_edge_refusals_total", "counter",
               "Inference requests the edge refused itself, by reason"
               " (rate, in_flight, credentials, token, scope, failed_credentials_budget, client_certificate).",
               [([("reason", reason)], n) for reason, n in sorted(counters.refusals.items())])
        family(out, "lighttpd_edge_backend_connect_failures_total", "counter",
               "Connections to a backend that failed (refused, unreachable, connect timeout);"
               " the edge then leaves it out for a while.",
               [([("backend", backend)], n) for backend, n in sorted(counters.connect_failures.items())])
        family(out, "lighttpd_edge_backend_timeouts_total", "counter",
               "Requests a backend did not read or answer in time (proxy read/write timeout).",
               [([("backend", backend), ("direction", direction)], n)
                for (backend, direction), n in sorted(counters.timeouts.items())])
        family(out, "lighttpd_edge_backend_response_failures_total", "counter",
               "Requests sent to a backend that closed or reset the connection without an answer (the edge answers 500).",
               [([("backend", backend)], n) for backend, n in sorted(counters.no_response.items())])
        family(out, "lighttpd_edge_exporter_log_lines_total", "counter",
               "Log lines read, and those not in the expected format.",
               [([("log", log), ("result", result)], n) for log in ("access", "error")
                for result, n in (("parsed", counters.lines[log] - counters.unparsed[log]),
                                  ("unparsed", counters.unparsed[log]))])
    return out


def render_status(status_url, timeout=2.0):
    """Instance up, busy connections and requests in flight per backend, from mod_status;
    and the backends lighttpd knows (its statistics name them HOST:PORT)."""
    out = []
    up_text = "1 when the edge's lighttpd answered its status page at this scrape."
    try:
        with urllib.request.urlopen(status_url + "/server-status?auto", timeout=timeout) as resp:
            status = resp.read().decode("ascii", "replace")
        with urllib.request.urlopen(status_url + "/server-statistics", timeout=timeout) as resp:
            statistics = resp.read().decode("ascii", "replace")
    # Any failure to read the status page: down.
    except Exception:  # pylint: disable=broad-except
        family(out, "lighttpd_edge_up", "gauge", up_text, [([], 0)])
        return out, []
    family(out, "lighttpd_edge_up", "gauge", up_text, [([], 1)])
    match = STATUS_CONNECTIONS.search(status)
    if match:
        family(out, "lighttpd_edge_connections", "gauge", "Client connections open now (mod_status BusyServers).",
               [([], int(match.group(1)))])
    load, connected = {}, {}
    for line in statistics.splitlines():
        match = STATISTICS_LINE.match(line.strip())
        if match:
            table = load if match.group("key") == "load" else connected
            backend = match.group("backend")
            table[backend] = table.get(backend, 0) + int(match.group("value"))
    family(out, "lighttpd_edge_backend_requests_in_flight", "gauge", "Requests the edge has open to each backend now.",
           [([("backend", backend)], n) for backend, n in sorted(load.items())])
    family(out, "lighttpd_edge_backend_connections_total", "counter",
           "Connections the edge opened to each backend (lighttpd's statistics: reset by a reload).",
           [([("backend", backend)], n) for backend, n in sorted(connected.items())])
    return out, sorted(set(load) | set(connected))


def render_textfile(path):
    """Metrics other programs write (Prometheus text already): lighttpd-edge-cert's certificate
    dates, lighttpd-edge-oidc-keys' fetches. A missing file adds nothing."""
    try:
        with open(path, encoding="utf-8") as handle:
            return [line.rstrip("\n") for line in handle if line.strip()]
    except OSError:
        return []


# The prediction cache's counters: Varnish's name -> (metric, kind, help). The storage is named
# "cache" by lighttpd-edge-cache.service.
CACHE_COUNTERS = [
    ("MAIN.cache_hit", "lighttpd_edge_cache_hits_total", "counter",
     "Requests the prediction cache answered from a stored answer."),
    ("MAIN.cache_miss", "lighttpd_edge_cache_misses_total", "counter",
     "Cacheable requests the prediction cache fetched from TF Serving."),
    ("MAIN.s_pass", "lighttpd_edge_cache_bypasses_total", "counter",
     "Requests routed to the cache that passed uncached (no-cache, too big, undeclared version)."),
    ("MAIN.n_lru_nuked", "lighttpd_edge_cache_evictions_total", "counter",
     "Stored answers evicted (least recently used) to stay within edge_cache_memory_mb."),
    ("MAIN.n_expired", "lighttpd_edge_cache_expired_total", "counter",
     "Stored answers removed at the end of their TTL."),
    ("MAIN.n_object", "lighttpd_edge_cache_objects", "gauge",
     "Answers stored now."),
    ("SMA.cache.g_bytes", "lighttpd_edge_cache_bytes", "gauge",
     "Bytes of stored answers (headers and bodies)."),
]


def render_cache(workdir, timeout=2.0):
    """The prediction cache's counters from varnishstat; lighttpd_edge_cache_up 0 if it cannot
    be read (cache stopped)."""
    try:
        result = subprocess.run(["varnishstat", "-n", workdir, "-j", "-t", "1"], capture_output=True,
                                timeout=timeout, check=True)
        counters = json.loads(result.stdout.decode("utf-8"))
        counters = counters.get("counters", counters)  # varnishstat 6.5+ nests them
        values = {name: counters[name]["value"] for name, _m, _k, _t in CACHE_COUNTERS}
        space = counters["SMA.cache.g_space"]["value"]
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError):
        out = []
        family(out, "lighttpd_edge_cache_up", "gauge", "1 when the prediction cache's counters could be read.",
               [([], 0)])
        return out
    out = []
    family(out, "lighttpd_edge_cache_up", "gauge", "1 when the prediction cache's counters could be read.", [([], 1)])
    for name, metric, kind, text in CACHE_COUNTERS:
        family(out, metric, kind, text, [([], values[name])])
    family(out, "lighttpd_edge_cache_bytes_limit", "gauge",
           "Bytes the prediction cache may use for stored answers (edge_cache_memory_mb).",
           [([], values["SMA.cache.g_bytes"] + space)])
    return out


class Exporter(object):
    def __init__(self, args):
        self.args = args
        router = {}
        if args.routes:
            with open(args.routes, encoding="utf-8") as handle:
                router = json.load(handle)
        self.counters = Counters(Router(router))
        self.allowed = list(LOOPBACK) + [ipaddress.ip_network(n, strict=False) for n in args.allow]
        self.followers = [LogFollower(args.access_log, self.counters.access),
                          LogFollower(args.error_log, self.counters.error)]
        self.poll_lock = threading.Lock()
        self.started = time.time()

    def allows(self, address):
        try:
            peer = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return False
        if getattr(peer, "ipv4_mapped", None):
            peer = peer.ipv4_mapped
        return any(peer.version == net.version and peer in net for net in self.allowed)

    def poll(self):
        with self.poll_lock:
            for follower in self.followers:
                with self.counters.lock:
                    follower.poll()

    def render(self):
        self.poll()
        lines, backends = render_status(self.args.status_url)
        with self.counters.lock:
            self.counters.know_backends(backends)
        lines += render_counters(self.counters)
        for path in self.args.textfile:
            lines += render_textfile(path)
        if self.args.cache_workdir:
            lines += render_cache(self.args.cache_workdir)
        family(lines, "lighttpd_edge_exporter_start_time_seconds", "gauge",
               "When the exporter started (its counters start at zero then).", [([], self.started)])
        return ("\n".join(lines) + "\n").encode("utf-8")


def make_handler(exporter):
    class Handler(BaseHTTPRequestHandler):
        server_version = "lighttpd-edge-exporter"
        sys_version = ""

        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = exporter.render()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # pylint: disable=redefined-builtin
            return

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    exporter = None

    def verify_request(self, request, client_address):
        # Outside the allow-list: the connection is closed before anything is read or sent.
        return self.exporter.allows(client_address[0])


def parse_listen(listen):
    host, _sep, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="ADDRESS:PORT ([IPv6]:PORT)")
    parser.add_argument("--allow", action="append", default=[], help="network allowed to scrape (loopback always is)")
    parser.add_argument("--access-log", required=True)
    parser.add_argument("--error-log", required=True)
    parser.add_argument("--status-url", required=True, help="http://ADDRESS:PORT of the edge's mod_status listener")
    parser.add_argument("--textfile", action="append", default=[],
                        help="Prometheus text file appended to every scrape (certificate, access-token keys)")
    parser.add_argument("--cache-workdir", default="", help="the prediction cache's varnishd work directory")
    parser.add_argument("--routes", default="", help="JSON: the edge's ports and route patterns (see Router)")
    parser.add_argument("--poll-seconds", type=float, default=BACKGROUND_POLL_SECONDS,
                        help="the background read of the logs between scrapes")
    args = parser.parse_args(argv)
    exporter = Exporter(args)
    host, port = parse_listen(args.listen)
    Server.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
    Server.exporter = exporter
    server = Server((host, port), make_handler(exporter))

    def follow():
        while True:
            exporter.poll()
            time.sleep(args.poll_seconds)

    threading.Thread(target=follow, daemon=True).start()
    sys.stdout.write("lighttpd-edge-exporter: serving %s, allowed: loopback %s\n" % (args.listen, " ".join(args.allow)))
    sys.stdout.flush()
    # serve_forever wakes every poll_interval only to see whether shutdown() was called, which
    # nothing calls: a long interval spares the edge's core two wake-ups a second.
    server.serve_forever(poll_interval=3600)


if __name__ == "__main__":
    main()
