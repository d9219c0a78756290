"""The program the edge's error handler runs (roles/lighttpd/templates/edge-cache-retry.py.j2, a
CGI program): it sends a request the prediction cache dropped once more, straight to the model
servers, on loopback here against model servers that count what reaches them."""
import http.server
import json
import os
import socket
import subprocess
import threading

import jinja2
import pytest

pytestmark = pytest.mark.core_independent

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
TEMPLATE = os.path.join(ROOT, "roles", "lighttpd", "templates", "edge-cache-retry.py.j2")
TARGET = "/v1/models/m/labels/stable:predict"


class ModelServer:
    """Answers each POST with what it got (path, body, headers); or, with silent_close, reads the
    request and closes the connection without an answer."""

    def __init__(self, silent_close=False):
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append((self.path, body, dict(self.headers)))
                if silent_close:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                data = json.dumps({"path": self.path, "body": body.decode("latin-1"),
                                   "encoding": self.headers.get("Content-Encoding")}).encode()
                self.send_response(404 if "missing" in self.path else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def program(tmp_path):
    def _program(ports, body=b'{"instances": [1.0]}', target=TARGET, encoding=None):
        path = tmp_path / "retry.py"
        # Rendered as Ansible's template module does (trim_blocks), and run by its own first line.
        path.write_text(jinja2.Template(open(TEMPLATE).read(), trim_blocks=True).render(
            ansible_managed="test", lighttpd_proxy_connect_timeout=2, lighttpd_proxy_read_timeout=5,
            __lighttpd_backends=[{"host": "127.0.0.1", "port": port} for port in ports]))
        env = {"CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json", "LTS_RETRY_TARGET": target,
               "REQUEST_METHOD": "GET", "PATH": os.environ.get("PATH", "")}
        if encoding:
            env["HTTP_CONTENT_ENCODING"] = encoding
        path.chmod(0o755)
        out = subprocess.run([str(path)], input=body, env=env, capture_output=True,
                             check=True, timeout=30).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        return int(lines[0].split(" ")[1]), headers, payload
    return _program


def test_the_request_is_posted_whole_to_the_first_model_server_that_takes_a_connection(program):
    first, second = ModelServer(), ModelServer()
    try:
        body = b'\x1f\x8b binary \x00 body'
        status, headers, payload = program([closed_port(), first.port, second.port], body=body, encoding="gzip")
    finally:
        first.close()
        second.close()
    assert status == 200 and headers["Content-Type"] == "application/json"
    # The method the error handler lost is POST again; the body, its type and encoding as sent.
    assert [(p, b, h["Content-Type"], h["Content-Encoding"]) for p, b, h in first.requests] == [
        (TARGET, body, "application/json", "gzip")]
    assert second.requests == []
    assert json.loads(payload)["path"] == TARGET


def test_a_model_servers_own_error_is_relayed_as_it_came(program):
    server = ModelServer()
    try:
        status, headers, payload = program([server.port], target="/v1/models/missing:predict")
    finally:
        server.close()
    assert status == 404 and headers["Content-Type"] == "application/json" and len(server.requests) == 1


def test_a_request_that_reached_a_model_server_is_never_sent_to_another(program):
    silent, other = ModelServer(silent_close=True), ModelServer()
    try:
        status, headers, payload = program([silent.port, other.port])
    finally:
        silent.close()
        other.close()
    assert (status, len(silent.requests), len(other.requests)) == (502, 1, 0)
    assert headers["Content-Type"] == "application/json" and json.loads(payload)["error"]


def test_no_model_server_answering_is_a_json_503(program):
    status, headers, payload = program([closed_port(), closed_port()])
    assert status == 503 and json.loads(payload) == {"error": "the edge got no answer from its backend (503)"}


def test_a_target_the_inference_script_did_not_set_is_refused(program):
    server = ModelServer()
    try:
        status, _, _ = program([server.port], target="http://elsewhere/")
    finally:
        server.close()
    assert status == 500 and server.requests == []
