#!/usr/bin/env python3
"""TEST ONLY: answers GET /v1/models/m like TF Serving's REST API, following a schedule.

Usage: fake_model_server.py HOST PORT AVAILABLE_FROM [LABEL_FROM]
The first AVAILABLE_FROM - 1 requests get 404 "Servable not found"; from request number
AVAILABLE_FROM on, version 1 is AVAILABLE. AVAILABLE_FROM 0 means never: version 1 stays in
state END with a load error, as TF Serving reports a model that failed to load.
GET /v1/models/m/labels/stable/metadata answers version 2 for the first LABEL_FROM - 1 asks
of it, then version 1 (0: never 1), as a label TF Serving has not moved yet.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

HOST, PORT, AVAILABLE_FROM = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
LABEL_FROM = int(sys.argv[4]) if len(sys.argv) > 4 else 1
COUNT = [0]
LABEL_COUNT = [0]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/v1/models/m/labels/stable/metadata":
            LABEL_COUNT[0] += 1
            moved = LABEL_FROM and LABEL_COUNT[0] >= LABEL_FROM
            return self.answer(200, {"model_spec": {"name": "m", "signature_name": "", "version": "1" if moved else "2"}})
        COUNT[0] += 1
        if AVAILABLE_FROM == 0:
            status, body = 200, {"model_version_status": [{"version": "1", "state": "END", "status": {
                "error_code": "NOT_FOUND", "error_message": "Could not find SavedModel .pb or .pbtxt at /m/1"}}]}
        elif COUNT[0] < AVAILABLE_FROM:
            status, body = 404, {"error": "Servable not found for request: Latest(m)"}
        else:
            status, body = 200, {"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": {
                "error_code": "OK", "error_message": ""}}]}
        self.answer(status, body)

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


HTTPServer((HOST, PORT), Handler).serve_forever()
