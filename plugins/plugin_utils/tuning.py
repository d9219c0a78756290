# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)
"""Tuning logic behind the collection's filters, in plain Python (no Ansible import).

Every function validates its arguments and raises ``TuningError`` (a ``ValueError``)
whose message names the argument and what was expected; the filter wrappers turn it
into ``AnsibleFilterError``. docs/tuning.md explains each formula and its source.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

try:  # inside a collection
    from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import textproto
except ImportError:  # plain Python (stand-in, ad-hoc use)
    import textproto  # type: ignore


class TuningError(ValueError):
    """Invalid input to a tuning function."""


# ---------------------------------------------------------------- helpers

def _int(name, value, minimum=None, maximum=None):
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and re.match(r"^\s*\d+\s*$", value):
            value = int(value)
        else:
            raise TuningError("%s must be an integer, got %r" % (name, value))
    if minimum is not None and value < minimum:
        raise TuningError("%s must be >= %d, got %d" % (name, minimum, value))
    if maximum is not None and value > maximum:
        raise TuningError("%s must be <= %d, got %d" % (name, maximum, value))
    return value


def _choice(name, value, choices):
    if value not in choices:
        raise TuningError("%s must be one of %s, got %r" % (name, ", ".join(choices), value))
    return value


def parse_version(name, value):
    """'1.4.69' (or '1.4.69-1+deb12u1', 'OpenSSL 3.0.19') -> (1, 4, 69)."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", str(value))
    if not match:
        raise TuningError("%s must be a version like 1.4.69, got %r" % (name, value))
    return tuple(int(part or 0) for part in match.groups())


# ---------------------------------------------------------------- TF Serving threads

def _overrides(variable, overrides, keys):
    """A user's partial dict over a computed one: known keys only, the rest stays computed."""
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise TuningError("%s: got %r; allowed: a dict with some of the keys %s"
                          % (variable, overrides, ", ".join(keys)))
    unknown = sorted(str(k) for k in overrides if k not in keys)
    if unknown:
        raise TuningError("%s: got the unknown key%s %s; allowed: %s"
                          % (variable, "s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(keys)))
    return dict(overrides)


THREAD_KEYS = ("rest_api_num_threads", "tensorflow_intra_op_parallelism", "tensorflow_inter_op_parallelism")


def tfserving_threads(cpus, op_parallelism=False, overrides=None):
    """Thread settings for tensorflow_model_server.

    rest_api_num_threads follows TF Serving's own default (4 x CPUs) with a floor of 2,
    because 1 freezes the REST server. intra/inter-op parallelism stay 0 (TensorFlow
    decides) unless op_parallelism is true. `overrides` (tfserving_threads) replaces the
    values it names and keeps the computed rest.
    """
    cpus = _int("cpus (tfserving_cpus)", cpus, minimum=1)
    if not isinstance(op_parallelism, bool):
        raise TuningError("op_parallelism must be a boolean, got %r" % (op_parallelism,))
    result = {
        "rest_api_num_threads": max(2, 4 * cpus),
        "tensorflow_intra_op_parallelism": cpus if op_parallelism else 0,
        "tensorflow_inter_op_parallelism": max(1, cpus // 2) if op_parallelism else 0,
    }
    result.update(_overrides("tfserving_threads", overrides, THREAD_KEYS))
    return result


# ---------------------------------------------------------------- TF Serving batching

_BATCH_DEFAULTS = {
    # accelerator: (max_batch_size, batch_timeout_micros)
    "cpu": (32, 0),
    "gpu": (512, 2000),
}


BATCHING_KEYS = ("max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads",
                 "allowed_batch_sizes", "pad_variable_length_inputs")


def tfserving_batching(cpus, accelerator="cpu", max_batch_size=None, batch_timeout_micros=None,
                       online=True, max_allowed_sizes=6, overrides=None):
    """Batching parameters after TF Serving's batching guide.

    num_batch_threads = CPUs; max_enqueued_batches = num_batch_threads for online serving
    (bounded queue, low latency) or 1000 x for offline throughput; allowed_batch_sizes are
    powers of two below max_batch_size, increasing and ending at max_batch_size.
    `overrides` (tfserving_batching) replaces the values it names and keeps the computed rest;
    a max_batch_size given there also sets the allowed sizes, unless they are given too.
    """
    given = _overrides("tfserving_batching", overrides, BATCHING_KEYS)
    max_batch_size = given.get("max_batch_size", max_batch_size)
    batch_timeout_micros = given.get("batch_timeout_micros", batch_timeout_micros)
    cpus = _int("cpus (tfserving_cpus)", cpus, minimum=1)
    accelerator = _choice("accelerator", accelerator, sorted(_BATCH_DEFAULTS))
    default_size, default_timeout = _BATCH_DEFAULTS[accelerator]
    size = _int("max_batch_size", default_size if max_batch_size is None else max_batch_size,
                minimum=1, maximum=1 << 20)
    timeout = _int("batch_timeout_micros",
                   default_timeout if batch_timeout_micros is None else batch_timeout_micros,
                   minimum=0, maximum=10 * 1000 * 1000)
    if not isinstance(online, bool):
        raise TuningError("online must be a boolean, got %r" % (online,))
    count = _int("max_allowed_sizes", max_allowed_sizes, minimum=1, maximum=64)
    threads = cpus
    powers = []
    step = 1
    while step < size:
        powers.append(step)
        step *= 2
    allowed = powers[-(count - 1):] if count > 1 else []
    allowed.append(size)
    result = {
        "max_batch_size": size,
        "batch_timeout_micros": timeout,
        "max_enqueued_batches": threads if online else threads * 1000,
        "num_batch_threads": threads,
        "allowed_batch_sizes": allowed,
        "pad_variable_length_inputs": False,
    }
    result.update(given)
    result["max_batch_size"], result["batch_timeout_micros"] = size, timeout
    return result


# ---------------------------------------------------------------- lighttpd connection limits

def lighttpd_max_connections_cap(max_fds, lighttpd_version):
    """Highest server.max-connections the given lighttpd version accepts for max_fds."""
    version = parse_version("lighttpd_version", lighttpd_version)
    return max_fds // 10 if version >= (1, 4, 83) else max_fds // 2


def lighttpd_connection_limits(memory_mb, lighttpd_version, nofile_limit=1048576,
                               expected_connections=None, keep_alive_requests=1000,
                               keep_alive_idle=5):
    """server.max-fds, server.max-connections and keep-alive settings for one instance.

    A proxied connection holds up to three descriptors (client, backend, a file or pipe),
    so max-fds = 3 x expected connections, rounded up to a power of two, between 1024 and
    the process's hard nofile limit. Expected connections default to 2 per MiB of memory
    (a judgement: about 0.5 MiB of buffers per busy connection), capped at 65536.
    """
    memory_mb = _int("memory_mb", memory_mb, minimum=1)
    nofile_limit = _int("nofile_limit", nofile_limit, minimum=64)
    version = parse_version("lighttpd_version", lighttpd_version)
    if expected_connections is None:
        expected = min(65536, 2 * memory_mb)
    else:
        expected = _int("expected_connections", expected_connections, minimum=1, maximum=1 << 20)
    requests = _int("keep_alive_requests", keep_alive_requests, minimum=1, maximum=1 << 20)
    idle = _int("keep_alive_idle", keep_alive_idle, minimum=1, maximum=3600)

    max_fds = 1024
    while max_fds < 3 * expected and max_fds < (1 << 20):
        max_fds *= 2
    max_fds = max(64, min(max_fds, nofile_limit))
    cap = lighttpd_max_connections_cap(max_fds, ".".join(str(v) for v in version))
    # Leave a third of the descriptors for backends and files below the version's cap.
    max_connections = max(1, min(cap, max_fds // 3, expected))
    return {
        "max_fds": max_fds,
        "max_connections": max_connections,
        "max_keep_alive_requests": requests,
        "max_keep_alive_idle": idle,
        "max_read_idle": 60,
        "max_write_idle": 360,
        "limit_nofile": max_fds,
    }


# ---------------------------------------------------------------- kernel settings for backend connections

# Linux's default ephemeral port range (net.ipv4.ip_local_port_range).
DEFAULT_PORT_RANGE = (32768, 60999)
# With net.ipv4.tcp_tw_reuse=1, a port in TIME_WAIT may serve a new connection to the same
# backend one second after its last packet (TCP timestamps); two seconds of margin.
_REUSE_SECONDS = 2
# The widest range the filter chooses on its own: ports below stay for services that bind.
WIDEST_LOW_PORT = 10240


def _is_loopback(host):
    host = str(host).strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _port_range(name, value):
    match = re.match(r"^\s*([0-9]+)\s+([0-9]+)\s*\Z", str(value))
    if not match:
        raise TuningError("%s must be 'LOW HIGH' (two port numbers), got %r" % (name, value))
    low, high = int(match.group(1)), int(match.group(2))
    if not 1024 <= low < high <= 65535:
        raise TuningError("%s must satisfy 1024 <= LOW < HIGH <= 65535, got %r" % (name, value))
    return low, high


def lighttpd_kernel_settings(backend_hosts, connections_per_second, port_range=""):
    """sysctl values an edge needs to open one backend connection per proxied request.

    lighttpd's mod_proxy asks every backend for `Connection: close`, so each proxied request
    is a new TCP connection. When the edge's side closes first (when it has read the whole
    answer before the backend's FIN arrived: 2-16 % of the connections measured against the TF
    Serving stand-in; every one for a backend that leaves closing to the client), the edge's
    socket stays 60 s in TIME_WAIT and keeps its local port
    for that backend's address and port. With the kernel defaults (tcp_tw_reuse=2: loopback
    only; 28,232 local ports) a remote backend then gets at most 28232 / 60 = 470 such
    connections per second from one edge; above that connect() fails and clients get 503.

    net.ipv4.tcp_tw_reuse=1 lets the kernel reuse a TIME_WAIT port for a new outgoing
    connection one second after its last packet, so the ports needed are about
    connections_per_second x 2 s; the port range is widened (down to 10240) only when the
    default range is too small for that. Loopback backends need nothing (the default covers
    them): the result is empty when every backend is on loopback.
    """
    rate = _int("connections_per_second", connections_per_second, minimum=1, maximum=1000000)
    hosts = list(backend_hosts or [])
    if not any(not _is_loopback(h) for h in hosts):
        return {}
    needed = rate * _REUSE_SECONDS
    if port_range:
        low, high = _port_range("port_range", port_range)
    else:
        low, high = DEFAULT_PORT_RANGE
        if high - low + 1 < needed:
            low = max(WIDEST_LOW_PORT, high - needed + 1)
    if high - low + 1 < needed:
        raise TuningError(
            "%d new backend connections per second need about %d local ports per backend, more than the %d of %d-%d; "
            "add backend addresses or edges" % (rate, needed, high - low + 1, low, high))
    return {"net.ipv4.tcp_tw_reuse": "1", "net.ipv4.ip_local_port_range": "%d %d" % (low, high)}


# ---------------------------------------------------------------- TLS

_TLS13_SUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
_INTERMEDIATE_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)
TLS_PROFILES = ("modern", "intermediate")


def lighttpd_tls_settings(profile, lighttpd_version, openssl_version, session_tickets=False):
    """ssl.openssl.ssl-conf-cmd values for a Mozilla profile (guideline 6.0).

    modern: TLS 1.3 only. intermediate: TLS 1.2 and 1.3 with the ECDHE AEAD suites (6.0
    dropped the DHE suites). X25519MLKEM768 leads the groups where OpenSSL >= 3.5. Neither
    profile prefers the server's order. Session tickets are off unless asked for, because
    lighttpd keeps a ticket key for 8 h and offers no lifetime knob (with OpenSSL >= 3.0 also
    NumTickets 0, so TLS 1.3 sends no ticket at all).
    """
    profile = _choice("profile", profile, TLS_PROFILES)
    lighttpd = parse_version("lighttpd_version", lighttpd_version)
    openssl = parse_version("openssl_version", openssl_version)
    if lighttpd < (1, 4, 56):
        raise TuningError("lighttpd_version must be >= 1.4.56 (ssl.openssl.ssl-conf-cmd), got %s"
                          % ".".join(map(str, lighttpd)))
    if not isinstance(session_tickets, bool):
        raise TuningError("session_tickets must be a boolean, got %r" % (session_tickets,))
    groups = "X25519:prime256v1:secp384r1"
    if openssl >= (3, 5, 0):
        groups = "X25519MLKEM768:" + groups
    options = ["-ServerPreference", "SessionTicket" if session_tickets else "-SessionTicket"]
    conf = {"MinProtocol": "TLSv1.3" if profile == "modern" else "TLSv1.2"}
    if profile == "intermediate":
        conf["CipherString"] = _INTERMEDIATE_CIPHERS
    conf["Ciphersuites"] = _TLS13_SUITES
    conf["Groups"] = groups
    # One Options key: repeating it is lighttpd's "Duplicate array-key" error.
    conf["Options"] = ",".join(options)
    if not session_tickets and openssl >= (3, 0, 0):
        # -SessionTicket alone still sends TLS 1.3 (stateful) tickets; NumTickets 0 sends none.
        conf["NumTickets"] = "0"
    return conf


# ---------------------------------------------------------------- log rotation

def _size_suffix(value):
    for suffix, factor in (("G", 1 << 30), ("M", 1 << 20), ("k", 1 << 10)):
        if value >= factor:
            return "%d%s" % (value // factor, suffix)
    return str(value)


def logrotate_policy(disk_bytes, daily_log_bytes, instances=1, budget_percent=5,
                     compression_ratio=0.15, min_rotate=1, max_rotate=90):
    """Daily rotation count and size cap that keep one instance's logs in its disk budget.

    The budget is budget_percent of the disk, shared by the instances. The live file and
    the one delaycompress keeps plain take 2 x a day's volume; each older, compressed
    day takes compression_ratio of a day's volume.
    """
    disk = _int("disk_bytes", disk_bytes, minimum=1 << 20)
    daily = _int("daily_log_bytes", daily_log_bytes, minimum=1)
    count = _int("instances", instances, minimum=1, maximum=1024)
    percent = _int("budget_percent", budget_percent, minimum=1, maximum=50)
    try:
        ratio = float(compression_ratio)
    except (TypeError, ValueError):
        raise TuningError("compression_ratio must be a number, got %r" % (compression_ratio,))
    if not 0.01 <= ratio <= 1:
        raise TuningError("compression_ratio must be between 0.01 and 1, got %r" % (ratio,))
    low = _int("min_rotate", min_rotate, minimum=1)
    high = _int("max_rotate", max_rotate, minimum=low)

    budget = disk * percent // 100 // count
    rotate = int((budget - 2 * daily) // max(1, int(daily * ratio)))
    rotate = max(low, min(high, rotate))
    # Cap one file at a quarter of the budget so a burst rotates early (at the next run).
    maxsize = max(1 << 20, budget // 4)
    return {"rotate": rotate, "maxsize_bytes": maxsize, "maxsize": _size_suffix(maxsize),
            "budget_bytes": budget}


# ---------------------------------------------------------------- TF Serving text protos

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}\Z")
_PATH = re.compile(r"^/[A-Za-z0-9_./@+=,-]*\Z")
MODEL_PLATFORMS = ("tensorflow", "tflite")
VERSION_POLICIES = ("latest", "specific", "all")


def _check_name(what, value):
    if not isinstance(value, str) or not _NAME.match(value):
        raise TuningError("%s: got %r; allowed: 1-128 letters, digits, '_', '.' and '-', starting with a "
                          "letter or digit" % (what, value))
    return value


def _check_path(what, value):
    if not isinstance(value, str) or not _PATH.match(value) or "/../" in value + "/":
        raise TuningError("%s: got %r; allowed: an absolute path of letters, digits and _./@+=,- "
                          "(no quotes, spaces or '..')" % (what, value))
    return value


def _check_policy(where, policy):
    """Normalise a version policy to {'latest': N} / {'specific': [..]} / {'all': True}."""
    if policy is None:
        return {"latest": 1}
    if policy == "all":
        return {"all": True}
    if not isinstance(policy, dict) or len(policy) != 1:
        raise TuningError("%s.version_policy must be 'all' or a dict with one key of %s, got %r"
                          % (where, ", ".join(VERSION_POLICIES), policy))
    kind, value = next(iter(policy.items()))
    _choice("%s.version_policy" % where, kind, VERSION_POLICIES)
    if kind == "latest":
        return {"latest": _int("%s.version_policy.latest" % where, value, minimum=1, maximum=1000)}
    if kind == "all":
        return {"all": True}
    if not isinstance(value, list) or not value:
        raise TuningError("%s.version_policy.specific must be a non-empty list of versions, got %r"
                          % (where, value))
    versions = [_int("%s.version_policy.specific[]" % where, v, minimum=1) for v in value]
    if len(set(versions)) != len(versions):
        raise TuningError("%s.version_policy.specific has duplicate versions: %r" % (where, value))
    return {"specific": sorted(versions)}


def normalize_models(models):
    """Validate the list of model definitions and return it in canonical form."""
    if not isinstance(models, list) or not models:
        raise TuningError("models must be a non-empty list of model definitions, got %r" % (models,))
    out = []
    seen = set()
    for index, model in enumerate(models):
        where = "models[%d]" % index
        if not isinstance(model, dict):
            raise TuningError("%s must be a dict with name and base_path, got %r" % (where, model))
        unknown = set(model) - {"name", "base_path", "platform", "version_policy", "labels"}
        if unknown:
            raise TuningError("%s has unknown keys %s (allowed: name, base_path, platform, "
                              "version_policy, labels)" % (where, ", ".join(sorted(unknown))))
        name = _check_name("%s.name" % where, model.get("name"))
        if name in seen:
            raise TuningError("%s.name %r is defined twice" % (where, name))
        seen.add(name)
        labels = model.get("labels") or {}
        if not isinstance(labels, dict):
            raise TuningError("%s.labels must be a dict of label -> version, got %r" % (where, labels))
        checked_labels = {}
        for label, version in sorted(labels.items()):
            if not isinstance(label, str) or not _LABEL.match(label):
                raise TuningError("%s.labels: got the label %r; allowed: 1-64 letters, digits, '_' and '-', "
                                  "starting with a letter" % (where, label))
            checked_labels[label] = _int("%s.labels.%s" % (where, label), version, minimum=1)
        out.append({
            "name": name,
            "base_path": _check_path("%s.base_path" % where, model.get("base_path")),
            "platform": _choice("%s.platform" % where, model.get("platform", "tensorflow"),
                                MODEL_PLATFORMS),
            "version_policy": _check_policy(where, model.get("version_policy")),
            "labels": checked_labels,
        })
    return out


def tfserving_models_config(models):
    """Render a ModelServerConfig text proto (models.config) from model definitions."""
    configs = []
    for model in normalize_models(models):
        policy_kind, policy_value = next(iter(model["version_policy"].items()))
        if policy_kind == "latest":
            policy = {"latest": {"num_versions": policy_value}}
        elif policy_kind == "specific":
            policy = {"specific": {"versions": policy_value}}
        else:
            policy = {"all": {}}
        config = {
            "name": model["name"],
            "base_path": model["base_path"],
            "model_platform": model["platform"],
            "model_version_policy": policy,
        }
        if model["labels"]:
            config["version_labels"] = [{"key": k, "value": v} for k, v in model["labels"].items()]
        configs.append(config)
    return textproto.render({"model_config_list": {"config": configs}}) + "\n"


def models_from_config(text):
    """Parse models.config text back into canonical model definitions (inverse of above)."""
    parsed = textproto.parse(text)
    lists = parsed.get("model_config_list", [])
    if len(lists) != 1:
        raise TuningError("models.config must hold exactly one model_config_list")
    models = []
    for config in lists[0].get("config", []):
        policy_msg = config.get("model_version_policy", [{}])[0]
        if "latest" in policy_msg:
            policy = {"latest": policy_msg["latest"][0].get("num_versions", [1])[0]}
        elif "specific" in policy_msg:
            policy = {"specific": sorted(policy_msg["specific"][0].get("versions", []))}
        elif "all" in policy_msg:
            policy = {"all": True}
        else:
            policy = {"latest": 1}
        labels = {}
        for entry in config.get("version_labels", []):
            labels[entry["key"][0]] = entry["value"][0]
        models.append({
            "name": config["name"][0],
            "base_path": config["base_path"][0],
            "platform": config.get("model_platform", ["tensorflow"])[0],
            "version_policy": policy,
            "labels": dict(sorted(labels.items())),
        })
    return models


def _running_models(running_config):
    """{name: model} of the models.config TF Serving runs now ('' or unparsable: none)."""
    if not running_config:
        return {}
    try:
        return {model["name"]: model for model in models_from_config(running_config)}
    except (TuningError, ValueError, KeyError, IndexError):
        return {}


def label_moves(models, running_config):
    """The labels this change moves: [{model, label, from, to}], ``from`` None for a new label.

    ``running_config`` is the models.config TF Serving runs now ('' when there is none: nothing
    moves, there is nothing to keep answering). A label moves when it is new or points at
    another version than it does now.
    """
    running = _running_models(running_config)
    if not running:
        return []
    moves = []
    for model in normalize_models(models):
        now = running.get(model["name"], {}).get("labels", {})
        for label, version in model["labels"].items():
            if now.get(label) != version:
                moves.append({"model": model["name"], "label": label, "from": now.get(label), "to": version})
    return moves


def _answers(results):
    """{(model, label): version} from the tfserving role's label questions (uri results whose
    item is a label_moves entry); a label that did not answer 200 with a version is left out."""
    found = {}
    for result in results or []:
        item = result.get("item") or {}
        try:
            if result.get("status") == 200:
                found[(item["model"], item["label"])] = int(result["json"]["model_spec"]["version"])
        except (KeyError, TypeError, ValueError):
            continue
    return found


def held_models(models, running_config, answers=None):
    """The models to load first, so that no label ever points at a version still loading.

    TF Serving answers a label whose version is not AVAILABLE yet with 404 (or, without
    --allow_version_labels_for_unavailable_models, refuses the whole config). So a change is
    applied in two steps: first MODELS with every moving label (label_moves) kept where it points
    now, its version kept loaded (added to a specific policy), and a new label left out; then,
    once every version is AVAILABLE, MODELS as they are. Returns the canonical model list of the
    first step (equal to normalize_models(MODELS) when no label moves).
    ANSWERS (the tfserving role's questions to TF Serving, uri results) holds a label only if TF
    Serving answers it with the version it moves from now: a label already broken (its version
    failed or is gone) moves at once rather than being held at a version that never answers.
    Under latest or all, TF Serving loads what is on disk: a held version may be unloaded
    meanwhile, so labels are held only under specific.
    """
    answering = _answers(answers) if answers is not None else None
    moves = {(m["model"], m["label"]): m for m in label_moves(models, running_config)}
    held = []
    for model in normalize_models(models):
        policy = model["version_policy"]
        labels = {}
        keep = set()
        for label, version in model["labels"].items():
            move = moves.get((model["name"], label))
            if move is None or "specific" not in policy:
                labels[label] = version
            elif move["from"] is not None and (answering is None
                                               or answering.get((model["name"], label)) == move["from"]):
                labels[label] = move["from"]
                keep.add(move["from"])
            elif move["from"] is not None:
                labels[label] = version  # broken now: nothing to keep answering
        if keep:
            policy = {"specific": sorted(set(policy["specific"]) | keep)}
        held.append(dict(model, version_policy=policy, labels=labels))
    return held


def expected_versions(models, versions=()):
    """{model: [versions]} each model must report AVAILABLE: its labelled and specific
    versions, and under latest or all the newest of VERSIONS (the role's deployed versions,
    dicts with name and version) for that model."""
    out = {}
    for model in normalize_models(models):
        wanted = set(model["labels"].values())
        policy = model["version_policy"]
        if "specific" in policy:
            wanted |= set(policy["specific"])
        else:
            declared = [_int("%s version" % model["name"], v["version"], minimum=1)
                        for v in versions if v.get("name") == model["name"]]
            if declared:
                wanted.add(max(declared))
        out[model["name"]] = sorted(wanted)
    return out


def versions_above_declared(models, versions, on_disk):
    """The version directories a roll-back under latest or all must remove before TF Serving
    serves the declared version again: [path].

    Under latest or all TF Serving serves the version directories on disk, not the declared
    list. A version taken out of VERSIONS (the role's deployed versions, dicts with name and
    version) while its directory stays would stay served: the newest under latest, beside the
    others under all. So for such a model, every directory numbered above its newest declared
    version goes, unless some model with the same base_path declares it, labels it or lists it
    under specific. A model that declares no version (its versions come from elsewhere) and
    models under specific keep everything. ON_DISK is {model: [version directory paths]} (the
    directory's name is its number, leading zeros allowed)."""
    canonical = normalize_models(models)
    declared = {}
    for version in versions:
        declared.setdefault(version.get("name"), set()).add(
            _int("%s version" % version.get("name"), version["version"], minimum=1))
    needed = {}
    for model in canonical:
        wanted = needed.setdefault(model["base_path"].rstrip("/"), set())
        wanted |= declared.get(model["name"], set()) | set(model["labels"].values())
        wanted |= set(model["version_policy"].get("specific", []))
    out = []
    for model in canonical:
        if "specific" in model["version_policy"] or not declared.get(model["name"]):
            continue
        newest = max(declared[model["name"]])
        keep = needed[model["base_path"].rstrip("/")]
        for path in sorted((on_disk or {}).get(model["name"]) or []):
            name = str(path).rstrip("/").rsplit("/", 1)[-1]
            if name.isdigit() and int(name) > newest and int(name) not in keep and path not in out:
                out.append(path)
    return out


def expected_labels(models):
    """[{model, label, version}]: the version each label of MODELS must answer with."""
    return [{"model": model["name"], "label": label, "version": version}
            for model in normalize_models(models) for label, version in sorted(model["labels"].items())]


def tfserving_batching_config(params):
    """Render batching_parameters.txt (wrapper values) from tfserving_batching output."""
    if not isinstance(params, dict):
        raise TuningError("params must be a dict such as tfserving_batching returns, got %r" % (params,))
    required = ("max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads")
    missing = [key for key in required if key not in params]
    if missing:
        raise TuningError("params is missing %s" % ", ".join(missing))
    size = _int("params.max_batch_size", params["max_batch_size"], minimum=1)
    fields = {
        "max_batch_size": {"value": size},
        "batch_timeout_micros": {"value": _int("params.batch_timeout_micros",
                                               params["batch_timeout_micros"], minimum=0)},
        "max_enqueued_batches": {"value": _int("params.max_enqueued_batches",
                                               params["max_enqueued_batches"], minimum=1)},
        "num_batch_threads": {"value": _int("params.num_batch_threads",
                                            params["num_batch_threads"], minimum=1)},
    }
    allowed = params.get("allowed_batch_sizes") or []
    if allowed:
        sizes = [_int("params.allowed_batch_sizes[]", s, minimum=1) for s in allowed]
        if any(b <= a for a, b in zip(sizes, sizes[1:])):
            raise TuningError("params.allowed_batch_sizes must increase strictly, got %r" % (sizes,))
        if sizes[-1] != size:
            raise TuningError("params.allowed_batch_sizes must end at max_batch_size (%d), got %r"
                              % (size, sizes))
        fields["allowed_batch_sizes"] = sizes
    pad = params.get("pad_variable_length_inputs", False)
    if not isinstance(pad, bool):
        raise TuningError("params.pad_variable_length_inputs must be a boolean, got %r" % (pad,))
    if pad:
        fields["pad_variable_length_inputs"] = True
    return textproto.render(fields) + "\n"


def tfserving_monitoring_config(path="/monitoring/prometheus/metrics", enable=True):
    """Render monitoring.config enabling Prometheus metrics on the REST port at path."""
    if not isinstance(enable, bool):
        raise TuningError("enable must be a boolean, got %r" % (enable,))
    if not isinstance(path, str) or not re.match(r"^/[A-Za-z0-9_./-]*\Z", path):
        raise TuningError("path must be a URL path such as /monitoring/prometheus/metrics, got %r"
                          % (path,))
    return textproto.render({"prometheus_config": {"enable": enable, "path": path}}) + "\n"


# ---------------------------------------------------------------- fleet addresses

def fleet_addresses(hosts, hostvars):
    """The address by which each of ``hosts`` is reached, validated as an IP address.

    ``hostvars`` maps each host name to its variables (Ansible's ``hostvars``). The first
    that is set wins: the explicit ``fleet_address`` host variable, the host's default IPv4
    address from its facts, then ``ansible_host`` when it is an IP address. Every value used
    must be an IP address, so no host variable or fact can put anything else into a
    configuration. Returns ``[{"host": NAME, "address": "normalised IP"}]`` in order.
    """
    if isinstance(hosts, str) or not isinstance(hosts, (list, tuple)):
        raise TuningError("hosts must be a list of inventory host names, got %r" % (hosts,))
    out = []
    for name in hosts:
        variables = hostvars[name]
        facts = variables.get("ansible_facts") or {}
        candidates = [
            ("its fleet_address host variable", variables.get("fleet_address")),
            ("the default IPv4 address in its facts", (facts.get("default_ipv4") or {}).get("address")),
        ]
        address = None
        for source, value in candidates:
            if value in (None, ""):
                continue
            try:
                address = str(ipaddress.ip_address(value if isinstance(value, str) else ""))
            except ValueError:
                raise TuningError("host %s: %s must be an IP address, got %r" % (name, source, value))
            break
        if address is None:
            try:
                address = str(ipaddress.ip_address(str(variables.get("ansible_host") or "")))
            except ValueError:
                raise TuningError(
                    "host %s: no address; set its fleet_address host variable (an IP address) or "
                    "gather its facts" % name)
        out.append({"host": name, "address": address})
    return out


# The port of each component's metrics endpoint (the edge's exporter, the model server's relay):
# the one definition the lighttpd and tfserving roles' listen defaults and the monitoring role's
# scrape targets use.
METRICS_PORTS = {"lighttpd": 9146, "tfserving": 9147}


def metrics_listen(component, scrapers, host):
    """The default listen address of ``component``'s metrics endpoint on ``host``: every
    address once ``scrapers`` (the hosts of its scrapers group) holds a host other than this
    one, else loopback."""
    if component not in METRICS_PORTS:
        raise TuningError("component must be one of %s, got %r" % (", ".join(sorted(METRICS_PORTS)), component))
    if isinstance(scrapers, str) or not isinstance(scrapers, (list, tuple)):
        raise TuningError("scrapers must be a list of inventory host names, got %r" % (scrapers,))
    others = [name for name in scrapers if name != host]
    return "%s:%d" % ("0.0.0.0" if others else "127.0.0.1", METRICS_PORTS[component])


def loopback_listen(listen):
    """True when the listen address ``listen`` (ADDRESS:PORT) is reachable on its own host only
    (127.x.x.x or [::1]): nothing for a firewall to guard, and no other host can scrape it."""
    return isinstance(listen, str) and bool(re.match(r"^(127[.]|\[::1\]:)", listen))


def lighttpd_listen(settings):
    """The listening addresses of each lighttpd instance, which systemd holds open
    (lighttpd@NAME.socket) so that no reload or restart refuses a connection.

    ``settings``: ``edge`` (bool), ``https_port`` and ``http_port`` (0: none), ``ipv6`` (also
    listen on [::]), ``status_bind``, ``static`` (bool), ``static_socket``, ``static_bind``
    (empty: none), ``extra_instances`` (each ``{name, listen}``; without ``listen`` lighttpd
    binds the instance's addresses itself, and its list is empty). Returns ``{instance: [ADDRESS,
    ...]}`` with the edge's public ports on every address, then its status address.
    """
    out = {}
    if settings.get("edge"):
        edge = []
        for port in (settings.get("https_port"), settings.get("http_port")):
            port = _int("port", port, 0, 65535)
            if port > 0:
                edge.append("0.0.0.0:%d" % port)
                if settings.get("ipv6"):
                    edge.append("[::]:%d" % port)
        edge.append(settings["status_bind"])
        out["edge"] = edge
    if settings.get("static"):
        out["static"] = [settings["static_socket"]] + ([settings["static_bind"]] if settings.get("static_bind") else [])
    for instance in settings.get("extra_instances") or []:
        out[instance["name"]] = list(instance.get("listen") or [])
    return out


def _as_bool(value):
    """Ansible's ``bool`` filter: true for True, 1 and the strings yes/on/1/true."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("yes", "on", "1", "true")


def scrape_targets(jobs, groups, hostvars, host):
    """The monitoring host's scrape targets: ``{job: [{host, target, loopback}]}``.

    ``jobs`` maps a job name to ``{component, group, prefix, enabled, state}``: the inventory
    group of its hosts, the prefix of their variables (``PREFIX_listen``,
    ``PREFIX_scrapers_group``), the boolean host variables that must all be true (default
    true) and the host variable whose value must be ``present`` (the default). A target is the
    host's address (loopback for ``host`` itself) and the port of its ``PREFIX_listen``, or of
    :func:`metrics_listen`'s default. ``loopback`` marks a listener only reachable on its own
    host, from another one.
    """
    out = {}
    for job, spec in jobs.items():
        found = []
        for peer in fleet_addresses(list(groups.get(spec["group"], [])), hostvars):
            peer_vars = hostvars[peer["host"]]
            if peer_vars.get(spec["state"], "present") != "present":
                continue
            if not all(_as_bool(peer_vars.get(flag, True)) for flag in spec["enabled"]):
                continue
            scrapers = list(groups.get(peer_vars.get(spec["prefix"] + "_scrapers_group", "monitoring"), []))
            listen = str(peer_vars.get(spec["prefix"] + "_listen", metrics_listen(spec["component"], scrapers, peer["host"])))
            local = peer["host"] == host
            address = "127.0.0.1" if local else peer["address"]
            found.append({"host": peer["host"],
                          "loopback": loopback_listen(listen) and not local,
                          "target": "%s:%s" % ("[%s]" % address if ":" in address else address,
                                               re.sub(r"^.*:", "", listen))})
        out[job] = found
    return out


def edge_backends(backends, hostvars, host, group_hosts, port):
    """The model servers an edge host (or its cache) sends inference requests to.

    ``backends`` (the user's explicit list of ``{host, port}``) wins when it is not empty.
    Otherwise, on a host that is itself one of ``group_hosts``, loopback comes first (the edge's
    "fair" balancing prefers it while it keeps up) and the other model servers follow as
    fall-back; elsewhere every model server. A peer's port is its ``tfserving_rest_port`` host
    variable, else ``port``; its address comes from :func:`fleet_addresses`.
    """
    if backends:
        return list(backends)
    if isinstance(group_hosts, str) or not isinstance(group_hosts, (list, tuple)):
        raise TuningError("group_hosts must be a list of inventory host names, got %r" % (group_hosts,))
    out = [{"host": "127.0.0.1", "port": int(port)}] if host in group_hosts else []
    peers = [name for name in group_hosts if name != host]
    for peer in fleet_addresses(peers, hostvars):
        peer_port = hostvars[peer["host"]].get("tfserving_rest_port", port)
        out.append({"host": peer["address"], "port": int(peer_port)})
    return out
