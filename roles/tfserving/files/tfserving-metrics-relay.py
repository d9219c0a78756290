# -*- coding: utf-8 -*-
# Installed by the tfserving role of lighttpd_tensorflow.serving (docs/monitoring.md).
"""TF Serving's Prometheus metrics for the monitoring hosts, without opening its REST port.

TF Serving serves its metrics on the REST port, which only loopback and the edge hosts may
reach (whoever reaches it can also predict). This relay listens on its own allow-listed port
and, at each scrape, reads the metrics from TF Serving over loopback and adds:
  tfserving_up                         1 when TF Serving answered, 0 when it did not;
  tfserving_model_available{model}     1 when the model has a version in state AVAILABLE.
Standard library only.
"""

import argparse
import ipaddress
import json
import socket
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def model_available(rest, model, timeout):
    """1 when GET /v1/models/MODEL lists a version in state AVAILABLE, else 0."""
    try:
        with urllib.request.urlopen("%s/v1/models/%s" % (rest, model), timeout=timeout) as resp:
            status = json.loads(resp.read().decode("utf-8"))
    # No answer, an error, or not JSON: not available.
    except Exception:  # pylint: disable=broad-except
        return 0
    versions = status.get("model_version_status", []) if isinstance(status, dict) else []
    return 1 if any(isinstance(v, dict) and v.get("state") == "AVAILABLE" for v in versions) else 0


def scrape(rest, metrics_path, models, timeout=3.0):
    lines = []
    try:
        with urllib.request.urlopen(rest + metrics_path, timeout=timeout) as resp:
            lines.append(resp.read().decode("utf-8", "replace").rstrip("\n"))
        up = 1
    # Any failure to read the metrics: down.
    except Exception:  # pylint: disable=broad-except
        up = 0
    lines.append("# HELP tfserving_up 1 when TF Serving answered this scrape on its REST port.")
    lines.append("# TYPE tfserving_up gauge")
    lines.append("tfserving_up %d" % up)
    lines.append("# HELP tfserving_model_available 1 when the model has a version in state AVAILABLE.")
    lines.append("# TYPE tfserving_model_available gauge")
    for model in models:
        available = model_available(rest, model, timeout) if up else 0
        lines.append('tfserving_model_available{model="%s"} %d' % (model, available))
    return ("\n".join(line for line in lines if line) + "\n").encode("utf-8")


def allowed(networks, address):
    try:
        peer = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if getattr(peer, "ipv4_mapped", None):
        peer = peer.ipv4_mapped
    return any(peer.version == net.version and peer in net for net in networks)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="ADDRESS:PORT ([IPv6]:PORT)")
    parser.add_argument("--allow", action="append", default=[], help="network allowed to scrape (loopback always is)")
    parser.add_argument("--rest-port", type=int, required=True)
    parser.add_argument("--metrics-path", required=True)
    parser.add_argument("--model", action="append", default=[])
    args = parser.parse_args(argv)
    rest = "http://127.0.0.1:%d" % args.rest_port
    networks = list(LOOPBACK) + [ipaddress.ip_network(n, strict=False) for n in args.allow]

    class Handler(BaseHTTPRequestHandler):
        server_version = "tfserving-metrics-relay"
        sys_version = ""

        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = scrape(rest, args.metrics_path, args.model)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # pylint: disable=redefined-builtin
            return

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def verify_request(self, request, client_address):
            # Outside the allow-list: closed before anything is read or sent.
            return allowed(networks, client_address[0])

    host, _sep, port = args.listen.rpartition(":")
    host = host.strip("[]")
    Server.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
    Server((host, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
