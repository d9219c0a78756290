# -*- coding: utf-8 -*-
# Installed by the lighttpd role of lighttpd_tensorflow.serving (docs/cache.md).
"""Keep the edge's prediction cache in step with what the model servers serve
(lighttpd-edge-cache-versions.service).

The role writes the cache's table (--config, JSON): for every cached model, each URL form (the
model alone, a label, an explicit version) with the version the inventory's tfserving_models
resolves it to, and the model servers. Every --interval seconds this asks each model server how
it resolves each form itself (GET /v1/models/M: the AVAILABLE versions, the highest answering
the model alone; GET /v1/models/M/labels/L/metadata: the label's version) and writes the VCL
that Varnish's edge_cache_resolve runs (its "include" file): a form is cached only while every model server
that answers resolves it to the table's version (or, for a label deploy_models.yml is moving to that
version, still answers the version it moves from while it has the new one loaded: the edges answer
with the new version before any model server moves the label). Any other form passes to TF Serving uncached,
so the cache never gives an answer of a version the model servers have moved away from, however
they got there (a run with --tags or --limit that skipped the edges, a batch that failed, a
change by hand): at most --interval seconds and a VCL switch after the first server moved.

The cache unit is switched (systemctl reload: varnishreload compiles, then switches only if that
worked) whenever the source of the VCL varnishd runs (`varnishadm vcl.show -v`) differs from the
files, so a switch that failed or never ran (a run that died between writing and switching) is
made on the next check.
A model server that does not answer at all is left out (Varnish's probe sends it no misses
either); when none answers, nothing is cached. Writes STATE_DIR/metrics.prom for the edge's
exporter. Standard library only. Usage: lighttpd-edge-cache-versions.py --config FILE [--once]
"""
import argparse
import fcntl
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

TIMEOUT = 3
MAX_ANSWER = 1024 * 1024


def ask(server, path, timeout=TIMEOUT):
    """(status, JSON) of GET PATH on SERVER ({host, port}); (None, None) when it does not answer."""
    conn = http.client.HTTPConnection(server["host"], int(server["port"]), timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        response = conn.getresponse()
        body = response.read(MAX_ANSWER + 1)
        try:
            data = json.loads(body) if len(body) <= MAX_ANSWER else None
        except ValueError:
            data = None
        return response.status, data
    except (OSError, http.client.HTTPException):
        return None, None
    finally:
        conn.close()


def server_view(server, models, asker=ask):
    """How SERVER resolves each cached model: {model: {"available": [versions], "labels": {L: V|None}}},
    or None when it does not answer at all."""
    view = {}
    for model in models:
        name = model["name"]
        quoted = urllib.parse.quote(name, safe="")
        status, data = asker(server, "/v1/models/%s" % quoted)
        if status is None:
            return None
        available = []
        if status == 200 and isinstance(data, dict):
            for entry in data.get("model_version_status") or []:
                try:
                    if isinstance(entry, dict) and entry.get("state") == "AVAILABLE":
                        available.append(int(entry.get("version")))
                except (TypeError, ValueError):
                    continue
        labels = {}
        for label in sorted({f["label"] for f in model["forms"] if f.get("kind") == "label"}):
            status, data = asker(server, "/v1/models/%s/labels/%s/metadata" % (quoted, urllib.parse.quote(label, safe="")))
            if status is None:
                return None
            version = None
            if status == 200 and isinstance(data, dict) and isinstance(data.get("model_spec"), dict):
                try:
                    version = int(data["model_spec"].get("version"))
                except (TypeError, ValueError):
                    version = None
            labels[label] = version
        view[name] = {"available": sorted(set(available)), "labels": labels}
    return view


def resolves_to(form, model_view):
    """The version one model server answers FORM with, or None (it would not answer it)."""
    if model_view is None:
        return None
    available = model_view["available"]
    if form["kind"] == "model":
        return max(available) if available else None
    if form["kind"] == "label":
        version = model_view["labels"].get(form["label"])
        return version if version in available else None
    return form["version"] if form["version"] in available else None


def agrees(form, model_view, accepting=False):
    """Whether the edge may answer FORM with the table's version, as this model server stands.

    It must answer FORM with that version too; or, for a label the model servers are moving to
    it (deploy_models.yml: the table's "accept", while ACCEPTING, see AcceptWindows), still answer
    with a version it moves from while it has the table's version loaded, so every miss can be
    fetched from it. Once the window is over (a roll-out stopped half-way) only the table's
    version counts."""
    version = form["version"]
    if resolves_to(form, model_view) == version:
        return True
    accept = (form.get("accept") or []) if accepting else []
    return (form["kind"] == "label" and model_view is not None and version in model_view["available"]
            and model_view["labels"].get(form["label"]) in accept)


def cached_forms(models, views, accepting=lambda form: False):
    """The forms to cache: those every answering server agrees with (agrees()).

    MODELS is the table's models; VIEWS one server_view per model server (None: no answer);
    ACCEPTING(form) whether a moving label's "accept" holds now (AcceptWindows.holds).
    """
    answering = [view for view in views if view is not None]
    kept = []
    for model in models:
        for form in model["forms"]:
            moving = accepting(form)  # asked for every form: a window opens when first seen
            if answering and all(agrees(form, view.get(model["name"]), moving) for view in answering):
                kept.append(form)
    return kept


def boottime():
    """Seconds since boot, suspend included (CLOCK_BOOTTIME): no step of the wall clock moves it."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def boot_id():
    return (read("/proc/sys/kernel/random/boot_id") or "").strip()


class AcceptWindows:
    """How long a moving label's "accept" holds, measured on this host alone.

    The table gives a duration ("accept_for", seconds) and the run that wrote it ("accept_run").
    The window closes accept_for seconds after the table was written, on CLOCK_BOOTTIME from the
    first check that sees that form of that run: the table's age then (this host's wall clock
    against the file's mtime, WRITTEN; between 0 and accept_for) counts against the window, so a
    checker that was down when the table came, or a lost windows file, does not lengthen it. So
    neither a controller whose clock differs from this host's nor a step of this host's wall
    clock once the window is open moves it (0.6.0's absolute deadline, written with the
    controller's clock and compared with this host's, was moved by both). The windows are kept in
    PATH with the boot's id, so the service and the role's --once share them and a restarted
    checker keeps them; a window opened before a reboot, or while the boot's id cannot be read,
    is over. A window first seen while this host's wall clock is behind the table's mtime (by more
    than CLOCK_SLACK) cannot be measured: the clock stepped back since the table was written, by an
    unknown amount, so it is over (counting it as new would give a lost windows file a whole
    window again)."""

    CLOCK_SLACK = 2.0  # file times are coarser than time.time()

    def __init__(self, path, written=0.0, clock=boottime, boot=boot_id, wall=time.time):
        self.path = path
        self.written = written
        self.clock = clock
        self.wall = wall
        self.boot = boot()
        try:
            saved = json.loads(read(path) or "{}")
        except ValueError:
            saved = {}
        if not isinstance(saved, dict):
            saved = {}
        windows = saved.get("windows")
        windows = {key: value for key, value in windows.items()
                   if isinstance(key, str) and (value is None or isinstance(value, (int, float)))} \
            if isinstance(windows, dict) else {}
        if not self.boot or saved.get("boot") != self.boot:
            windows = dict.fromkeys(windows)  # opened before a reboot (or by an unknown boot): over
        self.windows = windows

    @staticmethod
    def key(form):
        return "%s %s" % (form["path"], form.get("accept_run", ""))

    def holds(self, form):
        """Whether FORM's "accept" holds now; its window is placed on the first question."""
        if not self.boot or not form.get("accept") or not form.get("accept_for"):
            return False
        key = self.key(form)
        if key not in self.windows:
            accept_for = float(form["accept_for"])
            age = self.wall() - self.written
            age = accept_for if age < -self.CLOCK_SLACK else min(max(age, 0.0), accept_for)
            self.windows[key] = self.clock() + (accept_for - age)
        closes = self.windows[key]
        return closes is not None and self.clock() < closes

    def save(self, models):
        """Keep the windows of the forms MODELS (the table) still has, forget the others, and
        write the file when that changed what it holds."""
        keys = {self.key(f) for model in models for f in model["forms"] if f.get("accept")}
        self.windows = {key: value for key, value in self.windows.items() if key in keys}
        text = json.dumps({"boot": self.boot, "windows": self.windows}, sort_keys=True) + "\n"
        if read(self.path) != text:
            write_atomically(self.path, text)


def render(forms):
    """The VCL of sub edge_cache_resolve for FORMS (see edge-cache.vcl)."""
    lines = ["# Written by lighttpd-edge-cache-versions (lighttpd_tensorflow.serving): the URL forms of the",
             "# cached models that every model server now answers with the version in the key. Do not edit.",
             "sub edge_cache_resolve {"]
    for index, form in enumerate(forms):
        lines += ['  %s (req.url ~ "%s") {' % ("elsif" if index else "if", form["regex"]),
                  '    set req.http.X-Edge-Cache-Fetch = "%s:" + regsub(req.url, "^.*:", "");' % form["fetch"],
                  '    set req.http.X-Edge-Cache-Key = "%s:" + regsub(req.url, "^.*:", "");' % form["key"],
                  "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def parse_vcl_show(output):
    """{path: text} from `varnishadm vcl.show -v`: each source file follows a line
    "// VCL.SHOW INDEX BYTES PATH" and is BYTES long (then a newline of varnishadm's own)."""
    sources, position = {}, 0
    while True:
        start = output.find(b"// VCL.SHOW ", position)
        if start < 0:
            return sources
        end = output.find(b"\n", start)
        fields = output[start:end].decode("utf-8", "replace").split(" ", 4)
        if end < 0 or len(fields) != 5 or not fields[3].isdigit():
            return sources
        size = int(fields[3])
        sources[fields[4]] = output[end + 1:end + 1 + size].decode("utf-8", "replace")
        position = end + 1 + size


def write_atomically(path, text, mode=0o644):
    directory = os.path.dirname(path)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


class Checker:
    """Checks against the table in CONFIG_PATH, re-read at every check (the role rewrites it)."""

    def __init__(self, config_path):
        self.config_path = config_path
        self.config = json.loads(read(config_path) or "{}")
        self.state_dir = self.config["state_dir"]
        self.switch_failures = 0

    def running_sources(self):
        """The source files of the VCL varnishd runs ({path: text}), or None when it does not run."""
        admin = ["varnishadm", "-n", self.config["workdir"]]
        listing = subprocess.run(admin + ["vcl.list"], capture_output=True, text=True, check=False)
        active = [line.split()[-1] for line in listing.stdout.splitlines() if line.startswith("active")]
        if listing.returncode != 0 or not active:
            return None
        shown = subprocess.run(admin + ["vcl.show", "-v", active[0]], capture_output=True, check=False)
        return parse_vcl_show(shown.stdout) if shown.returncode == 0 else None

    def switch(self):
        """Make the running cache use the files when it runs another VCL (else nothing: it reads
        them when it starts)."""
        running = self.running_sources()
        if running is None:
            return False
        wanted = {path: read(path) for path in (self.config["vcl"], self.config["include"])}
        if all(running.get(path) == text for path, text in wanted.items()):
            return False
        unit = self.config["unit"]
        result = subprocess.run(["systemctl", "reload", unit], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            self.switch_failures += 1
            print("switching %s to the new VCL failed (it keeps the one it runs): %s"
                  % (unit, (result.stderr or result.stdout).strip()), file=sys.stderr, flush=True)
            return False
        return True

    def check(self, reload=True):
        """One check; returns whether the include file changed or the cache was switched."""
        self.config = json.loads(read(self.config_path))
        models = self.config["models"]
        views = [server_view(server, models) for server in self.config["servers"]]
        windows = AcceptWindows(os.path.join(self.state_dir, "accept-windows.json"),
                                written=os.stat(self.config_path).st_mtime)
        forms = cached_forms(models, views, windows.holds)
        windows.save(models)
        text = render(forms)
        changed = read(self.config["include"]) != text
        if changed:
            write_atomically(self.config["include"], text)
            passed = sorted(f["path"] for m in models for f in m["forms"] if f not in forms)
            print("now cached: %d URL forms; passed uncached (a model server answers them otherwise, or none "
                  "answers): %s" % (len(forms), ", ".join(passed) or "none"), flush=True)
        switched = self.switch() if reload else False
        total = sum(len(m["forms"]) for m in models)
        self.write_metrics(len(forms), total - len(forms), sum(1 for v in views if v is not None), len(views))
        return changed or switched

    def write_metrics(self, cached, passed, answering, servers):
        metrics = [
            ("lighttpd_edge_cache_versions_check_timestamp_seconds", "gauge",
             "When the edge last compared its cache table with the model servers.", time.time()),
            ("lighttpd_edge_cache_versions_forms_cached", "gauge",
             "URL forms of the cached models every answering model server resolves to the table's version.", cached),
            ("lighttpd_edge_cache_versions_forms_passed", "gauge",
             "URL forms passed uncached: a model server resolves them to another version than the edge's table "
             "(run the edges' play), or none answers.", passed),
            ("lighttpd_edge_cache_versions_servers_answering", "gauge",
             "Model servers that answered the last check.", answering),
            ("lighttpd_edge_cache_versions_servers", "gauge", "Model servers in the edge's table.", servers),
            ("lighttpd_edge_cache_versions_switch_failures_total", "counter",
             "Switches of the cache to a new VCL that failed since this checker started.", self.switch_failures),
        ]
        text = "".join("# HELP %s %s\n# TYPE %s %s\n%s %s\n" % (name, text, name, kind, name, value)
                       for name, kind, text, value in metrics)
        write_atomically(os.path.join(self.state_dir, "metrics.prom"), text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--once", action="store_true", help="one check, then exit (prints 'changed' if it changed)")
    parser.add_argument("--no-switch", action="store_true", help="write the VCL file only")
    args = parser.parse_args(argv)
    checker = Checker(args.config)
    os.makedirs(checker.state_dir, exist_ok=True)
    # One check at a time: the role's own (--once) and the service's.
    with open(os.path.join(checker.state_dir, "lock"), "w") as lock:
        if args.once:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if checker.check(reload=not args.no_switch):
                print("changed")
            return 0
        while True:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                checker.check()
            except Exception as error:  # a bad table or answer must not stop the checks
                print("check failed: %r" % (error,), file=sys.stderr, flush=True)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
            time.sleep(float(checker.config["interval"]))


if __name__ == "__main__":
    sys.exit(main())
