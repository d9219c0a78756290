#!/usr/bin/python3
"""A tiny HTTP backend for the lighttpd scenario (stands for TF Serving's REST API).

Answers every request with JSON naming itself, its PID, the path and the forwarding headers
it received, so tests can see which backend served a request and what the edge forwarded.
A query `delay=SECONDS` (at most 60) makes it answer that much later: a slow model.
GET /__served answers the number of requests it has served (its own count, as TF Serving's
metrics would have it; the edge never forwards that path).
Usage: backend.py PORT NAME
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    served = 0
    served_lock = threading.Lock()

    def answer(self):
        if self.path == "/__served":
            data = b"%d\n" % Handler.served
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        with Handler.served_lock:
            Handler.served += 1
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = dict(p.split("=", 1) for p in self.path.partition("?")[2].split("&") if "=" in p)
        if "delay" in query:
            time.sleep(min(float(query["delay"]), 60))
        data = json.dumps({
            "backend": sys.argv[2], "pid": os.getpid(), "path": self.path, "method": self.command,
            "bytes": len(body), "x_forwarded_for": self.headers.get("X-Forwarded-For"),
            "forwarded": self.headers.get("Forwarded"), "x_route": self.headers.get("X-Route"),
            "x_api_key": self.headers.get("X-API-Key"), "authorization": self.headers.get("Authorization"),
        }).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = answer


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
