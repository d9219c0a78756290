#!/usr/bin/python3
# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)
"""TEST STAND-IN for tensorflow_model_server. NOT TensorFlow Serving.

The real binary cannot be downloaded on the machines the collection is tested on, so the
Molecule scenarios install this protocol-compatible stand-in, packaged as
`tensorflow-model-server` in a local signed apt repository. It is never installed by a
production default of the collection.

What it does like the real server (TF Serving 2.20, model_servers/main.cc):
  * accepts exactly the real flag set (--name=value; booleans also as --name), exits 255
    with a usage text on a malformed value, and (stricter than the real one) on an unknown
    flag;
  * refuses the combinations the real server refuses (no model source, both sources,
    batching parameters without --enable_batching, --port=0 without --grpc_socket_path);
  * reads models.config, the batching parameters and the monitoring config (text protos)
    and refuses malformed ones; re-reads models.config every
    --model_config_file_poll_wait_seconds (a bad new file is logged and the old one kept);
  * discovers numeric version directories every --file_system_poll_wait_seconds and
    honours the version policy (latest N / specific / all) and version labels;
  * takes time to load a version after start (LOADING until the next file-system poll, at
    least LOAD_SECONDS) and keeps the versions it unloads AVAILABLE until the new ones are
    (the real server's availability-preserving policy): a label pointing at a version still
    loading answers 404, as on the real server;
  * binds REST on all interfaces at --rest_api_port, TCP gRPC on all interfaces at --port
    (when not 0) and the gRPC Unix socket at --grpc_socket_path (it accepts connections
    there but does not speak gRPC);
  * answers GET /v1/models/NAME[/versions/N|/labels/L][/metadata] and
    POST ...:predict with TF Serving's JSON formats and status codes, and serves Prometheus
    metrics at the configured path.
It evaluates only TF Serving's half_plus_two (y = 0.5 x + 2) and half_plus_three (y = 0.5 x + 3)
test models, recognised by the sha256 of their saved_model.pb; other SavedModels load but their
predictions are refused.
"""

import gzip
import hashlib
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LIBDIR = "/usr/lib/tensorflow-model-server-standin"
# How long a version loads after the server started (a real SavedModel takes seconds).
LOAD_SECONDS = 1.0
sys.path.insert(0, LIBDIR)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import textproto  # noqa: E402  (shipped beside this file)

VERSION = "@VERSION@"

# name -> (type, default). Types: bool, int, float, str.
FLAGS = {
    "allow_version_labels_for_unavailable_models": ("bool", False),
    "batching_parameters_file": ("str", ""),
    "enable_batching": ("bool", False),
    "enable_grpc_healthcheck_service": ("bool", False),
    "enable_model_warmup": ("bool", True),
    "enable_per_model_batching_parameters": ("bool", False),
    "enable_profiler": ("bool", True),
    "enable_serialization_as_tensor_content": ("bool", False),
    "enable_signature_method_name_check": ("bool", False),
    "file_system_poll_wait_seconds": ("int", 1),
    "flush_filesystem_caches": ("bool", True),
    "grpc_channel_arguments": ("str", ""),
    "grpc_max_threads": ("int", 0),
    "grpc_socket_path": ("str", ""),
    "load_retry_interval_micros": ("int", 60 * 1000 * 1000),
    "max_num_load_retries": ("int", 5),
    "mixed_precision": ("str", ""),
    "model_base_path": ("str", ""),
    "model_config_file": ("str", ""),
    "model_config_file_poll_wait_seconds": ("int", 0),
    "model_name": ("str", "default"),
    "monitoring_config_file": ("str", ""),
    "num_load_threads": ("int", 0),
    "num_request_iterations_for_warmup": ("int", 1),
    "num_tflite_interpreters_per_pool": ("int", 1),
    "num_tflite_pools": ("int", 1),
    "num_unload_threads": ("int", 0),
    "per_process_gpu_memory_fraction": ("float", 0.0),
    "platform_config_file": ("str", ""),
    "port": ("int", 8500),
    "prefer_tflite_model": ("bool", False),
    "remove_unused_fields_from_bundle_metagraph": ("bool", True),
    "rest_api_enable_cors_support": ("bool", False),
    "rest_api_num_threads": ("int", 0),
    "rest_api_port": ("int", 0),
    "rest_api_timeout_in_ms": ("int", 30000),
    "saved_model_tags": ("str", "serve"),
    "skip_initialize_tpu": ("bool", True),
    "ssl_config_file": ("str", ""),
    "tensorflow_inter_op_parallelism": ("int", 0),
    "tensorflow_intra_op_parallelism": ("int", 0),
    "tensorflow_session_config_file": ("str", ""),
    "tensorflow_session_parallelism": ("int", 0),
    "thread_pool_factory_config_file": ("str", ""),
    "use_alts_credentials": ("bool", False),
    "version": ("bool", False),
    "xla_cpu_compilation_enabled": ("bool", False),
    "xla_gpu_compilation_enabled": ("bool", False),
}

LOCK = threading.Lock()
METRICS = {}  # (model, status) -> count


def log(message):
    sys.stderr.write("%s standin-tfserving: %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), message))
    sys.stderr.flush()


def usage_exit(message):
    sys.stderr.write("%s\nusage: tensorflow_model_server [--name=value]... (TEST STAND-IN)\n" % message)
    for name in sorted(FLAGS):
        sys.stderr.write("\t--%s=%s\t%s\n" % (name, FLAGS[name][1], FLAGS[name][0]))
    sys.exit(255)


def parse_flags(argv):
    values = {name: default for name, (_, default) in FLAGS.items()}
    for arg in argv:
        match = re.match(r"^--?([A-Za-z0-9_]+)(?:=(.*))?$", arg, re.S)
        if not match:
            sys.stderr.write("unknown argument: %s (the stand-in refuses unknown arguments)\n" % arg)
            sys.exit(1)
        name, raw = match.group(1), match.group(2)
        if name not in FLAGS:
            sys.stderr.write("unknown argument: %s (the stand-in refuses unknown arguments)\n" % arg)
            sys.exit(1)
        kind = FLAGS[name][0]
        if kind == "bool":
            if raw is None or raw in ("true", "1"):
                values[name] = True
            elif raw in ("false", "0"):
                values[name] = False
            else:
                usage_exit("Error parsing command-line flag --%s: %r is not a boolean" % (name, raw))
        elif raw is None:
            usage_exit("Error parsing command-line flag --%s: a value is required" % name)
        elif kind == "int":
            if not re.match(r"^-?\d+$", raw):
                usage_exit("Error parsing command-line flag --%s: %r is not an integer" % (name, raw))
            values[name] = int(raw)
        elif kind == "float":
            try:
                values[name] = float(raw)
            except ValueError:
                usage_exit("Error parsing command-line flag --%s: %r is not a number" % (name, raw))
        else:
            values[name] = raw
    return values


def read_textproto(path, what):
    try:
        with open(path) as handle:
            return textproto.parse(handle.read())
    except (OSError, ValueError) as err:
        raise ValueError("%s %s: %s" % (what, path, err))


def check_fields(parsed, allowed, what):
    unknown = set(parsed) - set(allowed)
    if unknown:
        raise ValueError("%s: unknown field(s) %s" % (what, ", ".join(sorted(unknown))))


def load_model_config(path):
    """models.config -> {name: {base_path, policy, labels}}; raises ValueError when malformed."""
    parsed = read_textproto(path, "model config")
    check_fields(parsed, ["model_config_list"], "model config")
    models = {}
    for config in parsed.get("model_config_list", [{}])[0].get("config", []):
        check_fields(config, ["name", "base_path", "model_platform", "model_version_policy",
                              "version_labels", "logging_config"], "model config entry")
        name = config.get("name", [""])[0]
        base = config.get("base_path", [""])[0]
        if not isinstance(name, str) or not name:
            raise ValueError("model config: a config entry has no name")
        if name in models:
            raise ValueError("model config: duplicate model name %s" % name)
        if not isinstance(base, str) or not base.startswith("/"):
            raise ValueError("model config: model %s needs an absolute base_path" % name)
        platform = config.get("model_platform", ["tensorflow"])[0]
        if platform not in ("tensorflow", "tflite"):
            raise ValueError("model config: model %s: unsupported platform %s" % (name, platform))
        policy_msg = config.get("model_version_policy", [{}])[0]
        check_fields(policy_msg, ["latest", "specific", "all"], "model_version_policy")
        if len(policy_msg) > 1:
            raise ValueError("model config: model %s has more than one version policy" % name)
        if "specific" in policy_msg:
            versions = policy_msg["specific"][0].get("versions", [])
            if not versions or not all(isinstance(v, int) and v > 0 for v in versions):
                raise ValueError("model config: model %s: specific policy needs positive versions" % name)
            policy = ("specific", sorted(versions))
        elif "all" in policy_msg:
            policy = ("all", None)
        else:
            num = (policy_msg.get("latest") or [{}])[0].get("num_versions", [1])[0]
            if not isinstance(num, int) or num < 1:
                raise ValueError("model config: model %s: latest.num_versions must be >= 1" % name)
            policy = ("latest", num)
        labels = {}
        for entry in config.get("version_labels", []):
            key, value = entry.get("key", [None])[0], entry.get("value", [None])[0]
            if not isinstance(key, str) or not isinstance(value, int):
                raise ValueError("model config: model %s: malformed version_labels entry" % name)
            labels[key] = value
        models[name] = {"base_path": base, "policy": policy, "labels": labels}
    return models


def check_batching(path):
    parsed = read_textproto(path, "batching parameters")
    wrapped = ["max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads",
               "thread_pool_name"]
    check_fields(parsed, wrapped + ["allowed_batch_sizes", "pad_variable_length_inputs"],
                 "batching parameters")
    for name in wrapped:
        for value in parsed.get(name, []):
            if not isinstance(value, dict) or list(value) != ["value"]:
                raise ValueError("batching parameters: %s needs a wrapper value { value: N }" % name)
    sizes = parsed.get("allowed_batch_sizes", [])
    if sizes:
        maximum = parsed.get("max_batch_size", [{"value": [0]}])[0]["value"][0]
        if any(b <= a for a, b in zip(sizes, sizes[1:])) or sizes[-1] != maximum:
            raise ValueError("batching parameters: allowed_batch_sizes must increase and end "
                             "at max_batch_size")
    return parsed


def load_monitoring(path):
    parsed = read_textproto(path, "monitoring config")
    check_fields(parsed, ["prometheus_config"], "monitoring config")
    conf = parsed.get("prometheus_config", [{}])[0]
    check_fields(conf, ["enable", "path"], "prometheus_config")
    if conf.get("enable", [False])[0]:
        return conf.get("path", ["/monitoring/prometheus/metrics"])[0]
    return None


class Server(object):
    """Model state: which versions are loaded, per the config and the file system."""

    def __init__(self, flags):
        self.flags = flags
        self.models = {}
        self.state = {}  # name -> {version: (state, error)}
        self.loading = {}  # (name, version) -> when its load started (time.monotonic())
        self.known_hashes = {}  # sha256 of saved_model.pb -> the model's offset (y = 0.5 x + offset)
        hashes_file = os.path.join(LIBDIR, "models.sha256")
        if os.path.exists(hashes_file):
            with open(hashes_file) as handle:
                for line in handle:
                    digest, offset = line.split()
                    self.known_hashes[digest] = float(offset)
        self.metadata = {}
        meta_file = os.path.join(LIBDIR, "half_plus_two_metadata.json")
        if os.path.exists(meta_file):
            with open(meta_file) as handle:
                self.metadata = json.load(handle)

    def configure(self, models):
        unavailable = []
        if not self.flags["allow_version_labels_for_unavailable_models"]:
            for name, model in models.items():
                for label, version in model["labels"].items():
                    if self.state.get(name, {}).get(version, ("", ""))[0] != "AVAILABLE":
                        unavailable.append("%s:%s->%d" % (name, label, version))
        if unavailable:
            raise ValueError("version labels point at versions that are not available: %s "
                             "(see --allow_version_labels_for_unavailable_models)" % ", ".join(unavailable))
        with LOCK:
            self.models = models
            for name in list(self.state):
                if name not in models:
                    log("unloading model %s (no longer in the config)" % name)
                    del self.state[name]

    def poll(self, instant=False):
        """Load and unload versions as the config and the disk say. INSTANT: load at once (at
        start, before the REST port opens, as the real server does); else a new version is
        LOADING for LOAD_SECONDS first."""
        with LOCK:
            models = dict(self.models)
        now = time.monotonic()
        for name, model in models.items():
            base = model["base_path"]
            try:
                dirs = {int(d): d for d in os.listdir(base) if d.isdigit()}
            except OSError:
                dirs = {}
            found = sorted(dirs)
            kind, value = model["policy"]
            if kind == "latest":
                wanted = found[-value:]
            elif kind == "specific":
                wanted = [v for v in value if v in found]
            else:
                wanted = found
            states = {}
            for version in wanted:
                previous = self.state.get(name, {}).get(version)
                if previous and previous[0] == "AVAILABLE":
                    states[version] = previous
                    continue
                path = os.path.join(base, dirs[version])
                pb = os.path.join(path, "saved_model.pb")
                if not os.path.exists(pb):
                    states[version] = ("END", "Could not find SavedModel .pb or .pbtxt at supplied "
                                              "export directory path: %s" % path)
                    continue
                started = self.loading.setdefault((name, version), now)
                if instant or now - started >= LOAD_SECONDS:
                    log("loaded servable version {name: %s version: %d}" % (name, version))
                    states[version] = ("AVAILABLE", "")
                    self.loading.pop((name, version), None)
                else:
                    if not previous:
                        log("loading servable version {name: %s version: %d}" % (name, version))
                    states[version] = ("LOADING", "")
            if any(state == "LOADING" for state, _ in states.values()):
                # Availability preserving: what goes stays until what comes is AVAILABLE.
                for version, previous in self.state.get(name, {}).items():
                    if version not in states and previous[0] == "AVAILABLE":
                        states[version] = previous
            if kind == "specific":
                for version in value:
                    if version not in found:
                        states[version] = ("START", "")
            for key in [key for key in self.loading if key[0] == name and key[1] not in states]:
                del self.loading[key]
            with LOCK:
                for version in self.state.get(name, {}):
                    if version not in states:
                        log("unloaded servable version {name: %s version: %d}" % (name, version))
                self.state[name] = states
            for version, (state, error) in states.items():
                if error and not (self.state.get(name, {}).get(version, ("",))[0] == "END"):
                    log("servable %s version %d failed: %s" % (name, version, error))

    def offset(self, name, version):
        """The offset of the test model at NAME/VERSION (y = 0.5 x + offset); None if unknown."""
        base = self.models[name]["base_path"]
        try:
            dirname = [d for d in os.listdir(base) if d.isdigit() and int(d) == version][0]
            pb = os.path.join(base, dirname, "saved_model.pb")
            with open(pb, "rb") as handle:
                return self.known_hashes.get(hashlib.sha256(handle.read()).hexdigest())
        except (OSError, IndexError):
            return None


def bind_grpc(flags):
    sockets = []
    if flags["port"]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", flags["port"]))
        sock.listen(16)
        sockets.append(sock)
        log("Running gRPC ModelServer at 0.0.0.0:%d (stand-in: accepts, does not speak gRPC)" % flags["port"])
    if flags["grpc_socket_path"]:
        path = flags["grpc_socket_path"]
        if os.path.exists(path):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        sock.listen(16)
        sockets.append(sock)
        log("Running gRPC ModelServer at UNIX socket %s (stand-in: accepts, does not speak gRPC)" % path)

    def accept_loop(sock):
        while True:
            try:
                conn, _ = sock.accept()
                conn.close()
            except OSError:
                return

    for sock in sockets:
        threading.Thread(target=accept_loop, args=(sock,), daemon=True).start()
    return sockets


def make_handler(server, metrics_path):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "tensorflow-model-server-standin"

        def log_message(self, fmt, *args):  # quiet: TF Serving logs no access lines
            pass

        def reply(self, status, body, content_type="application/json"):
            data = body if isinstance(body, bytes) else (json.dumps(body, indent=1) + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def error(self, status, message):
            self.reply(status, {"error": message})

        def resolve(self, name, version, label):
            """-> (version or None, error status, message)."""
            with LOCK:
                states = dict(server.state.get(name, {}))
                model = server.models.get(name)
            if model is None:
                return None, 404, "Servable not found for request: Latest(%s)" % name
            if label is not None:
                if label not in model["labels"]:
                    return None, 400, "Unrecognized servable version label: %s" % label
                version = model["labels"][label]
            available = sorted(v for v, (s, _) in states.items() if s == "AVAILABLE")
            if version is None:
                if not available:
                    return None, 404, "Servable not found for request: Latest(%s)" % name
                return available[-1], 0, ""
            if version not in available:
                return None, 404, "Servable not found for request: Specific(%s, %d)" % (name, version)
            return version, 0, ""

        def route(self):
            match = re.match(r"^/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?"
                             r"(/metadata|:predict|:classify|:regress)?$", self.path)
            if not match:
                return None
            name, version, label, verb = match.groups()
            return name, int(version) if version else None, label, verb

        def count(self, name, status):
            with LOCK:
                METRICS[(name, status)] = METRICS.get((name, status), 0) + 1

        def do_GET(self):
            if metrics_path and self.path == metrics_path:
                return self.reply(200, self.metrics(), "text/plain; version=0.0.4")
            route = self.route()
            if route is None or route[3] in (":predict", ":classify", ":regress"):
                return self.error(404, "Malformed request: GET %s" % self.path)
            name, version, label, verb = route
            if verb == "/metadata":
                resolved, status, message = self.resolve(name, version, label)
                if status:
                    return self.error(status, message)
                body = dict(server.metadata)
                body["model_spec"] = {"name": name, "signature_name": "", "version": str(resolved)}
                return self.reply(200, body)
            with LOCK:
                model = server.models.get(name)
                states = dict(server.state.get(name, {}))
            if model is None:
                return self.error(404, "Could not find any versions of model %s" % name)
            if label is not None:
                if label not in model["labels"]:
                    return self.error(404, "Unrecognized servable version label: %s" % label)
                version = model["labels"][label]
            if version is not None:
                states = {v: s for v, s in states.items() if v == version}
                if not states:
                    return self.error(404, "Could not find version %d of model %s" % (version, name))
            if not states:
                return self.error(404, "Could not find any versions of model %s" % name)
            body = {"model_version_status": [
                {"version": str(v), "state": s,
                 "status": {"error_code": "UNKNOWN" if e else "OK", "error_message": e}}
                for v, (s, e) in sorted(states.items(), reverse=True)]}
            return self.reply(200, body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            route = self.route()
            if route is None or route[3] not in (":predict", ":classify", ":regress"):
                return self.error(404, "Malformed request: POST %s" % self.path)
            name, version, label, verb = route
            resolved, status, message = self.resolve(name, version, label)
            if status:
                self.count(name, "NOT_FOUND")
                return self.error(status, message)
            if verb != ":predict":
                return self.error(400, "stand-in: %s is not implemented (only :predict)" % verb)
            offset = server.offset(name, resolved)
            if offset is None:
                return self.error(400, "stand-in: cannot evaluate model %s version %d "
                                       "(only the half_plus_two and half_plus_three test models)"
                                  % (name, resolved))
            # TF Serving's REST server inflates a body sent with Content-Encoding: gzip.
            if self.headers.get("Content-Encoding", "").strip().lower() == "gzip":
                try:
                    raw = gzip.decompress(raw)
                except (OSError, EOFError) as err:
                    self.count(name, "INVALID_ARGUMENT")
                    return self.error(400, "Failed to decompress gzip body: %s" % err)
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as err:
                self.count(name, "INVALID_ARGUMENT")
                return self.error(400, "JSON Parse error: %s" % err)
            if not isinstance(body, dict) or ("instances" in body) == ("inputs" in body):
                self.count(name, "INVALID_ARGUMENT")
                return self.error(400, "Missing 'inputs' or 'instances' key")

            def compute(value):
                if isinstance(value, list):
                    return [compute(v) for v in value]
                if isinstance(value, dict) and list(value) == ["x"]:
                    return compute(value["x"])
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError("Expected a number for input x, got %r" % (value,))
                return 0.5 * value + offset

            try:
                if "instances" in body:
                    if not isinstance(body["instances"], list):
                        raise ValueError("'instances' must be a list")
                    result = {"predictions": compute(body["instances"])}
                else:
                    inputs = body["inputs"]
                    if isinstance(inputs, dict):
                        inputs = inputs.get("x")
                    result = {"outputs": compute(inputs)}
            except ValueError as err:
                self.count(name, "INVALID_ARGUMENT")
                return self.error(400, str(err))
            self.count(name, "OK")
            return self.reply(200, result)

        def metrics(self):
            lines = ["# TYPE :tensorflow:serving:request_count counter"]
            with LOCK:
                for (model, status), value in sorted(METRICS.items()):
                    lines.append(':tensorflow:serving:request_count{model_name="%s",status="%s"} %d'
                                 % (model, status, value))
                lines.append("# TYPE :tensorflow:cc:saved_model:load_attempt_count counter")
                for name, states in sorted(server.state.items()):
                    for version, (state, _) in sorted(states.items()):
                        lines.append(':tensorflow:cc:saved_model:load_attempt_count{model_path="%s/%d",'
                                     'status="%s"} 1' % (server.models[name]["base_path"], version,
                                                         "success" if state == "AVAILABLE" else "failure"))
            return ("\n".join(lines) + "\n").encode()

    return Handler


def main(argv):
    flags = parse_flags(argv)
    if flags["version"]:
        print("TensorFlow ModelServer: %s-standin (TEST STAND-IN, not TensorFlow Serving)" % VERSION)
        print("TensorFlow Library: none (stand-in)")
        return 0
    if flags["model_config_file"] and flags["model_base_path"]:
        usage_exit("Only one of --model_config_file and --model_base_path may be set")
    if not flags["model_config_file"] and not flags["model_base_path"]:
        usage_exit("Both server_options.model_base_path and server_options.model_config_file are empty!")
    if flags["batching_parameters_file"] and not flags["enable_batching"]:
        usage_exit("--batching_parameters_file requires --enable_batching")
    if flags["port"] == 0 and not flags["grpc_socket_path"]:
        usage_exit("--port=0 disables TCP gRPC; then --grpc_socket_path is required")
    for name in ("port", "rest_api_port"):
        if not 0 <= flags[name] <= 65535:
            usage_exit("--%s must be between 0 and 65535" % name)
    if flags["rest_api_port"] and flags["rest_api_port"] == flags["port"]:
        usage_exit("--rest_api_port and --port must differ")
    if flags["rest_api_num_threads"] == 1:
        log("warning: --rest_api_num_threads=1 freezes the real server's REST API")

    try:
        if flags["model_config_file"]:
            models = load_model_config(flags["model_config_file"])
        else:
            models = {flags["model_name"]: {"base_path": flags["model_base_path"],
                                            "policy": ("latest", 1), "labels": {}}}
        if flags["enable_batching"] and flags["batching_parameters_file"]:
            check_batching(flags["batching_parameters_file"])
        metrics_path = load_monitoring(flags["monitoring_config_file"]) if flags["monitoring_config_file"] else None
        if flags["ssl_config_file"]:
            ssl = read_textproto(flags["ssl_config_file"], "ssl config")
            check_fields(ssl, ["server_key", "server_cert", "custom_ca", "client_verify"], "ssl config")
    except ValueError as err:
        log("error: %s" % err)
        return 1

    server = Server(flags)
    # Labels are applied after the first load, as a config reload does on the real server.
    labels = {name: model["labels"] for name, model in models.items()}
    server.configure({name: dict(model, labels={}) for name, model in models.items()})
    server.poll(instant=True)
    try:
        server.configure({name: dict(model, labels=labels[name]) for name, model in models.items()})
    except ValueError as err:
        log("error: %s" % err)
        return 1

    sockets = bind_grpc(flags)
    http = None
    if flags["rest_api_port"]:
        ThreadingHTTPServer.daemon_threads = True
        ThreadingHTTPServer.allow_reuse_address = True
        # A listen backlog like a real server's (socketserver's default is 5: under a proxy that
        # connects per request, SYNs overflowed it and waited 1-3 s for their retransmission).
        ThreadingHTTPServer.request_queue_size = 128
        http = ThreadingHTTPServer(("0.0.0.0", flags["rest_api_port"]), make_handler(server, metrics_path))
        threading.Thread(target=http.serve_forever, daemon=True).start()
        log("Exporting HTTP/REST API at:localhost:%d ..." % flags["rest_api_port"])

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    fs_wait = flags["file_system_poll_wait_seconds"]
    cfg_wait = flags["model_config_file_poll_wait_seconds"]
    last_fs = last_cfg = time.monotonic()
    config_mtime = os.path.getmtime(flags["model_config_file"]) if flags["model_config_file"] else None
    while not stop.wait(0.2):
        now = time.monotonic()
        if cfg_wait > 0 and now - last_cfg >= cfg_wait:
            last_cfg = now
            try:
                mtime = os.path.getmtime(flags["model_config_file"])
                if mtime != config_mtime:
                    new = load_model_config(flags["model_config_file"])
                    server.configure(new)
                    config_mtime = mtime
                    log("reloaded model config %s" % flags["model_config_file"])
                    server.poll()
            except (OSError, ValueError) as err:
                log("error: model config reload failed, keeping the previous config: %s" % err)
        if fs_wait > 0 and now - last_fs >= fs_wait:
            last_fs = now
            server.poll()
    log("shutting down")
    if http:
        http.shutdown()
    for sock in sockets:
        sock.close()
    if flags["grpc_socket_path"] and os.path.exists(flags["grpc_socket_path"]):
        os.unlink(flags["grpc_socket_path"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
