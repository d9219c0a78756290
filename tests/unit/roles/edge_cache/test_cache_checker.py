# -*- coding: utf-8 -*-
"""The edge's cache checker (roles/edge_cache/files/lighttpd-edge-cache-versions.py): which URL
forms it lets the cache answer, from what the model servers answer (issue 29: never a form a
model server answers with another version than the cached one), how it reads model servers that
answer garbage, and how it reads varnishd's own view of the VCL it runs."""
import http.server
import importlib.util
import json
import os
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.core_independent

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
_SPEC = importlib.util.spec_from_file_location(
    "cache_checker", os.path.join(ROOT, "roles/edge_cache/files/lighttpd-edge-cache-versions.py"))
checker = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(checker)


def form(kind, version, label=None):
    path = {"model": "/v1/models/m", "label": "/v1/models/m/labels/%s" % label,
            "version": "/v1/models/m/versions/%d" % version}[kind]
    out = {"kind": kind, "path": path, "version": version, "fetch": "/v1/models/m/versions/%d" % version,
           "key": "m/%d/abc" % version, "regex": "^%s:(predict)$" % path.replace(".", "\\.")}
    if label:
        out["label"] = label
    return out


def tf_serving_answers(f, view):
    """What one TF Serving answers F with (an independent statement of its rules): the model
    alone is its highest AVAILABLE version, a label the version it names if that is AVAILABLE,
    a version itself if AVAILABLE; None: it would not answer it (404/400)."""
    if view is None:
        return None
    if f["kind"] == "model":
        return max(view["available"], default=None)
    target = view["labels"].get(f["label"]) if f["kind"] == "label" else f["version"]
    return target if target in view["available"] else None


versions = st.integers(min_value=1, max_value=4)
labels = st.sampled_from(["stable", "canary"])
forms = st.lists(st.one_of(st.builds(lambda v: form("model", v), versions),
                           st.builds(lambda v, lab: form("label", v, lab), versions, labels),
                           st.builds(lambda v: form("version", v), versions)), max_size=6)
views = st.one_of(st.none(), st.fixed_dictionaries({
    "available": st.lists(versions, unique=True, max_size=4).map(sorted),
    "labels": st.dictionaries(labels, st.one_of(st.none(), versions), max_size=2)}))


@settings(max_examples=2000, deadline=None)
@given(forms, st.lists(views, max_size=4))
def test_a_form_is_cached_exactly_while_every_answering_server_answers_it_with_its_version(table, servers):
    models = [{"name": "m", "forms": table}]
    kept = checker.cached_forms(models, [None if v is None else {"m": v} for v in servers])
    answering = [v for v in servers if v is not None]
    for f in table:
        agrees = bool(answering) and all(tf_serving_answers(f, v) == f["version"] for v in answering)
        assert (f in kept) == agrees, (f, servers)


def always(form):
    return True


def moving_form(version, label, accept, run="run 1", accept_for=900):
    return dict(form("label", version, label), accept=accept, accept_for=accept_for, accept_run=run)


moving = st.builds(lambda v, lab, acc: moving_form(v, lab, sorted(set(acc) | {v})),
                   versions, labels, st.lists(versions, max_size=2))


@settings(max_examples=2000, deadline=None)
@given(st.lists(moving, min_size=1, max_size=4), st.lists(views, max_size=4))
def test_a_moving_label_is_answered_with_its_new_version_only_while_every_server_has_it_loaded(table, servers):
    """deploy_models.yml's middle edges' play (issue 29, point 3): a label the model servers move
    is cached with its new version while each answering server has that version AVAILABLE and
    answers the label with a version of "accept" (the one it moves from, or the new one); a
    server that answers it with any other version (a later roll-out the edges missed) or lacks
    the new version makes it pass."""
    kept = checker.cached_forms([{"name": "m", "forms": table}], [None if v is None else {"m": v} for v in servers],
                                always)
    answering = [v for v in servers if v is not None]
    for f in table:
        agrees = bool(answering) and all(
            f["version"] in v["available"] and v["labels"].get(f["label"]) in f["accept"] for v in answering)
        assert (f in kept) == agrees, (f, servers)


def test_the_label_of_the_cluster_roll_out_switches_before_any_server_moves_it():
    stable = moving_form(2, "stable", [1, 2])
    loaded_not_moved = {"m": {"available": [1, 2], "labels": {"stable": 1}}}
    moved = {"m": {"available": [1, 2], "labels": {"stable": 2}}}
    loading = {"m": {"available": [1], "labels": {"stable": 1}}}
    moved_on = {"m": {"available": [1, 2, 3], "labels": {"stable": 3}}}
    table = [{"name": "m", "forms": [stable]}]
    assert checker.cached_forms(table, [loaded_not_moved, loaded_not_moved], always) == [stable]
    assert checker.cached_forms(table, [moved, loaded_not_moved], always) == [stable]
    assert checker.cached_forms(table, [moved, loading], always) == []
    assert checker.cached_forms(table, [moved, moved_on], always) == []
    # A roll-out stopped after the edges switched, the model servers put back by other means:
    # once the window is over the label passes again (the old version is what they answer).
    assert checker.cached_forms(table, [loaded_not_moved, loaded_not_moved]) == []
    assert checker.cached_forms(table, [moved, moved]) == [stable]
    # Without accept (every other play), the table's version only.
    assert checker.cached_forms([{"name": "m", "forms": [form("label", 2, "stable")]}], [moved, loaded_not_moved],
                                always) == []


class Clock:
    """CLOCK_BOOTTIME, the wall clock, the boot's id and the table's mtime, as a test sets them."""

    def __init__(self):
        self.now, self.boot = 1000.0, "boot-1"
        self.wall = self.written = 1.8e9

    def windows(self, path):
        return checker.AcceptWindows(str(path), written=self.written, clock=lambda: self.now,
                                     boot=lambda: self.boot, wall=lambda: self.wall)


def test_the_window_is_measured_on_the_edges_own_clock(tmp_path):
    """0.6.0 wrote an absolute deadline with the controller's clock and compared it with the
    edge's wall clock: a controller an hour ahead made every window an hour longer, one 20 min
    behind (with the cluster's 960-s window) ended it before it began; a step back of the edge's
    clock lengthened it as much. Now neither counts once the window is open."""
    clock, path = Clock(), tmp_path / "windows.json"
    stable = moving_form(2, "stable", [1, 2], accept_for=900)
    # The edge's wall clock is stepped an hour back, then two forward: nothing changes.
    for step in (0.0, -3600.0, 7200.0):
        clock.wall += step
        windows = clock.windows(path)
        assert windows.holds(stable)
        windows.save([{"name": "m", "forms": [stable]}])
        clock.now += 299
        clock.wall += 299
    clock.now += 4  # 901 s after the table was written
    assert not clock.windows(path).holds(stable)
    # The next run's table opens a window of its own.
    clock.written = clock.wall
    again = moving_form(2, "stable", [1, 2], run="run 2", accept_for=900)
    assert clock.windows(path).holds(again)


def test_a_table_first_seen_late_gets_what_is_left_of_its_window(tmp_path):
    """A checker that was down when the table came (or a lost windows file) does not lengthen
    the window: the table's age when first seen counts against it."""
    clock, path = Clock(), tmp_path / "windows.json"
    stable = moving_form(2, "stable", [1, 2], accept_for=900)
    clock.wall += 850  # first seen 850 s after it was written
    windows = clock.windows(path)
    assert windows.holds(stable)
    windows.save([{"name": "m", "forms": [stable]}])
    clock.now += 51
    clock.wall += 51
    assert not clock.windows(path).holds(stable)
    path.unlink()  # the windows file lost: the table is older than its window
    windows = clock.windows(path)
    assert not windows.holds(stable)
    windows.save([{"name": "m", "forms": [stable]}])  # as every check does
    # A wall clock behind the file's mtime (stepped back since the table was written) cannot
    # tell the table's age: a window first seen then is over (before 0.8.0 it got a whole window,
    # so a lost windows file and a step back together gave a run accept_for again); a window
    # already placed stays as it was.
    clock.wall = clock.written - 3600
    assert not clock.windows(path).holds(stable)
    fresh = moving_form(2, "stable", [1, 2], run="run 3", accept_for=900)
    windows = clock.windows(path)
    assert not windows.holds(fresh)
    windows.save([{"name": "m", "forms": [fresh]}])
    clock.wall = clock.written + 10  # the clock put right again: still over
    assert not clock.windows(path).holds(fresh)
    # Within the slack of file times, the table counts as just written.
    clock.written, clock.wall = clock.wall + 1, clock.wall
    newest = moving_form(2, "stable", [1, 2], run="run 4", accept_for=900)
    windows = clock.windows(path)
    assert windows.holds(newest)
    assert windows.windows[windows.key(newest)] == clock.now + 900


def test_a_lost_windows_file_and_a_clock_stepped_back_give_no_window_again(tmp_path):
    """Tried from outside after 0.7.0: the windows file lost, then the edge's clock stepped an
    hour back; the next check placed the run's window afresh, a whole accept_for again."""
    clock, path = Clock(), tmp_path / "windows.json"
    stable = moving_form(2, "stable", [1, 2], accept_for=900)
    windows = clock.windows(path)
    assert windows.holds(stable)
    windows.save([{"name": "m", "forms": [stable]}])
    clock.now += 899
    clock.wall += 899
    path.unlink()
    clock.wall -= 3600
    windows = clock.windows(path)
    assert not windows.holds(stable)
    windows.save([{"name": "m", "forms": [stable]}])
    clock.now += 1
    assert not clock.windows(path).holds(stable)


def test_a_window_opened_before_a_reboot_is_over_and_a_broken_file_starts_afresh(tmp_path):
    clock, path = Clock(), tmp_path / "windows.json"
    stable = moving_form(2, "stable", [1, 2])
    windows = clock.windows(path)
    assert windows.holds(stable)
    windows.save([{"name": "m", "forms": [stable]}])
    clock.boot, clock.now = "boot-2", 5.0  # CLOCK_BOOTTIME starts again at 0
    windows = clock.windows(path)
    assert not windows.holds(stable)
    windows.save([{"name": "m", "forms": [stable]}])
    assert not clock.windows(path).holds(stable)  # still over after a restart of the checker
    for broken in ("{not json", "[]", '"x"', '{"windows": [1], "boot": 5}'):
        path.write_text(broken)
        assert clock.windows(path).holds(stable), broken
    # No boot id (unreadable): nothing holds, and nothing saved then carries over.
    clock.boot = ""
    assert not clock.windows(path).holds(stable)
    # Forms the table no longer has are forgotten.
    windows = clock.windows(path)
    windows.save([{"name": "m", "forms": [form("label", 2, "stable")]}])
    assert json.loads(path.read_text())["windows"] == {}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["check", "reboot", "new run", "clock step", "lose the file"]),
                          st.floats(min_value=0, max_value=600), st.floats(min_value=-1e5, max_value=1e5)),
                min_size=1, max_size=25),
       st.integers(min_value=1, max_value=2000))
def test_a_window_holds_exactly_accept_for_seconds_of_one_boot(tmp_path_factory, events, accept_for):
    """Property: across checks (each a new checker reading the file, as the service's checks and
    the role's --once are), reboots, new runs, steps of the wall clock and a lost windows file, a
    run's window holds exactly while CLOCK_BOOTTIME is within accept_for of the first check that
    saw it, less the table's age then (clamped to 0..accept_for; a wall clock behind the table's
    time leaves no window), in the boot it was first seen in. And it never holds longer after the
    table was written than accept_for plus the steps back of the wall clock since then."""
    path = tmp_path_factory.mktemp("w") / "windows.json"
    clock, run, placed = Clock(), 1, {}
    since_written, back_steps = 0.0, 0.0  # real seconds since the table was written; steps back since
    for event, elapsed, step in events:
        clock.now += elapsed
        clock.wall += elapsed
        since_written += elapsed
        if event == "reboot":
            clock.boot, clock.now = clock.boot + "'", elapsed
            continue
        if event == "clock step":
            clock.wall += step
            back_steps += max(-step, 0.0)
        if event == "lose the file":
            if path.exists():
                path.unlink()
            placed.pop(run, None)
        if event == "new run":
            run, clock.written = run + 1, clock.wall
            since_written, back_steps = 0.0, 0.0
        f = moving_form(2, "stable", [1, 2], run="run %d" % run, accept_for=accept_for)
        age = clock.wall - clock.written
        age = accept_for if age < -checker.AcceptWindows.CLOCK_SLACK else min(max(age, 0.0), accept_for)
        boot, closes = placed.setdefault(run, (clock.boot, clock.now + (accept_for - age)))
        windows = clock.windows(path)
        holds = windows.holds(f)
        assert holds == (boot == clock.boot and clock.now < closes)
        windows.save([{"name": "m", "forms": [f]}])
        if holds:
            assert since_written < accept_for + back_steps + checker.AcceptWindows.CLOCK_SLACK


def test_a_server_without_the_model_makes_every_form_pass():
    table = [form("model", 2), form("version", 1)]
    both = {"m": {"available": [1, 2], "labels": {}}}
    assert checker.cached_forms([{"name": "m", "forms": table}], [both, both]) == table
    assert checker.cached_forms([{"name": "m", "forms": table}], [both, {}]) == []
    assert checker.cached_forms([{"name": "m", "forms": table}], [None, None]) == []


def test_the_vcl_names_each_cached_form_once_in_order():
    table = [form("label", 2, "stable"), form("version", 1)]
    text = checker.render(table)
    assert text.count("if (req.url ~") == 2 and text.count("elsif") == 1
    assert 'set req.http.X-Edge-Cache-Key = "m/2/abc:"' in text
    assert checker.render([]).strip().endswith("sub edge_cache_resolve {\n}")


# varnishadm -n DIR vcl.show -v NAME, as varnishd 7.1 prints it (Debian 12).
VCL_SHOW = (b"// VCL.SHOW 0 126 /tmp/vt/main.vcl\n"
            b'vcl 4.1;\nbackend b { .host = "127.0.0.1"; .port = "9"; }\ninclude "/tmp/vt/inc.vcl";\n'
            b"sub vcl_recv { call edge_cache_resolve; }\n\n"
            b"// VCL.SHOW 1 27 /tmp/vt/inc.vcl\nsub edge_cache_resolve {\n}\n\n"
            b"// VCL.SHOW 2 9 <builtin>\n#-\n# end\n\n")


def test_varnishds_sources_are_read_file_by_file():
    sources = checker.parse_vcl_show(VCL_SHOW)
    assert list(sources) == ["/tmp/vt/main.vcl", "/tmp/vt/inc.vcl", "<builtin>"]
    assert sources["/tmp/vt/inc.vcl"] == "sub edge_cache_resolve {\n}\n"
    assert sources["/tmp/vt/main.vcl"].startswith("vcl 4.1;\n") and sources["/tmp/vt/main.vcl"].endswith("}\n")
    assert checker.parse_vcl_show(b"") == {}
    assert checker.parse_vcl_show(b"// VCL.SHOW x y\n") == {}


class _Answers(http.server.BaseHTTPRequestHandler):
    """A model server answering what the test puts in ANSWERS (path -> (status, raw body))."""
    answers = {}

    def do_GET(self):
        status, body = self.answers.get(self.path, (404, b'{"error": "not found"}'))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def model_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"host": "127.0.0.1", "port": server.server_address[1]}
    server.shutdown()
    server.server_close()


STATUS = json.dumps({"model_version_status": [{"version": "2", "state": "AVAILABLE"},
                                              {"version": "1", "state": "AVAILABLE"},
                                              {"version": "3", "state": "LOADING"}]}).encode()


def test_a_model_server_is_read_as_tf_serving_answers(model_server):
    _Answers.answers = {"/v1/models/m": (200, STATUS),
                        "/v1/models/m/labels/stable/metadata": (200, b'{"model_spec": {"name": "m", "version": "1"}}')}
    table = [{"name": "m", "forms": [form("label", 1, "stable"), form("label", 2, "canary")]}]
    assert checker.server_view(model_server, table) == {"m": {"available": [1, 2], "labels": {"stable": 1, "canary": None}}}


@pytest.mark.parametrize("status_body", [
    b"not json", b"[]", b'{"model_version_status": "x"}', b'{"model_version_status": [{"version": "x", "state": "AVAILABLE"}]}',
    b'{"model_version_status": [17, {"state": "AVAILABLE"}]}', b"{" * 100000, b"\xff\xfe", b'"' + b"a" * (2 * 1024 * 1024) + b'"'])
def test_garbage_from_a_model_server_caches_nothing_and_breaks_nothing(model_server, status_body):
    _Answers.answers = {"/v1/models/m": (200, status_body),
                        "/v1/models/m/labels/stable/metadata": (200, b'{"model_spec": {"version": [1]}}')}
    table = [{"name": "m", "forms": [form("model", 2), form("label", 1, "stable"), form("version", 1)]}]
    view = checker.server_view(model_server, table)
    assert view["m"]["labels"] == {"stable": None}
    assert checker.cached_forms(table, [view]) == []


def test_a_model_server_that_does_not_answer_is_left_out(model_server):
    gone = {"host": "127.0.0.1", "port": 9}  # discard: nothing listens
    _Answers.answers = {"/v1/models/m": (200, STATUS)}
    table = [{"name": "m", "forms": [form("version", 1)]}]
    views = [checker.server_view(gone, table), checker.server_view(model_server, table)]
    assert views[0] is None
    assert checker.cached_forms(table, views) == table[0]["forms"]
