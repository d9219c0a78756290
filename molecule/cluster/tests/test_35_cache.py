"""The edge's prediction cache (Varnish between lighttpd and TF Serving) for model m.

Version 1 of m is TF Serving's half_plus_two (y = 0.5 x + 2), version 2 half_plus_three
(y = 0.5 x + 3): every answer tells which version produced it. TF Serving's own request counter
(the stand-in's :tensorflow:serving:request_count on each model server) tells which requests
reached a model server."""
import base64
import json
import os
import random
import re
import shutil
import signal
import tempfile
import time

import pytest

from conftest import host, run_playbook, start_playbook
from fleet_models import HALF_PLUS_TWO, M, M_VERSION_1, M_VERSION_2

EDGE = "edge1"
CLIENT = "mon1"
SERVERS = ("tfs1", "tfs2", "tfs3")
STABLE = "/v1/models/m/labels/stable:predict"
UNLABELLED = "/v1/models/m:predict"
VERSION_1 = "/v1/models/m/versions/1:predict"
LUA = "/etc/lighttpd/instances/edge/inference.lua"
pytestmark = pytest.mark.units((EDGE, "lighttpd@edge"), (EDGE, "lighttpd-edge-cache"), ("tfs1", "tfserving"))

with open(os.path.join(os.path.dirname(__file__), "cache_client.py"), "rb") as _handle:
    _CLIENT_CODE = base64.b64encode(_handle.read()).decode()


def install_client(name):
    host(name).check_output("echo %s | base64 -d > /tmp/cache_client.py" % _CLIENT_CODE)


def served(status="OK", servers=SERVERS):
    """Requests for m the model servers answered with STATUS (their own counters)."""
    total = 0
    for name in servers:
        out = host(name).run("curl -sf http://127.0.0.1:8501/monitoring/prometheus/metrics").stdout
        match = re.search(r'request_count\{model_name="m",status="%s"\} (\d+)' % status, out)
        total += int(match.group(1)) if match else 0
    return total


def ask(paths, inputs, rounds=1, on=CLIENT, url="https://edge1", extra=""):
    """Send the requests from ON; the answers as dicts (status, cache, body, x, path, t)."""
    install_client(on)
    out = "/tmp/cache-%s.jsonl" % random.randint(0, 10 ** 9)
    host(on).check_output("python3 /tmp/cache_client.py --url %s %s --inputs %s --rounds %d %s --out %s"
                          % (url, " ".join("--path '%s'" % p for p in paths), ",".join(str(x) for x in inputs),
                             rounds, extra, out))
    return [json.loads(line) for line in host(on).file(out).content_string.splitlines()]


def offset(answer):
    """Which model answered: 2 (half_plus_two, version 1) or 3 (half_plus_three, version 2)."""
    y = json.loads(answer["body"])["predictions"][0]
    return round(y - 0.5 * answer["x"], 6)


def fresh_inputs(count):
    base = random.randint(10 ** 5, 10 ** 6)
    return [base + i for i in range(count)]


INPUTS = fresh_inputs(20)


def test_repeated_inputs_reach_tf_serving_once():
    before = served()
    answers = ask([STABLE], INPUTS, rounds=10)
    reached = served() - before
    caches = [a["cache"] for a in answers]
    print("200 requests over 20 inputs: %d reached TF Serving, %d hits" % (reached, caches.count("HIT")))
    assert [a["status"] for a in answers] == [200] * 200
    assert reached == 20
    assert caches.count("MISS") == 20 and caches.count("HIT") == 180
    for x in INPUTS:
        bodies = {a["body"] for a in answers if a["x"] == x}
        assert len(bodies) == 1, bodies  # byte-identical
        assert json.loads(bodies.pop()) == {"predictions": [0.5 * x + 2]}


def test_every_path_to_the_same_version_shares_its_entries():
    """The key is the version a request resolves to: stable, the model alone and /versions/1
    are all version 1 here, so the entries test_repeated_inputs stored answer them all."""
    before = served()
    answers = ask([UNLABELLED, VERSION_1], INPUTS)
    assert served() == before
    assert {a["cache"] for a in answers} == {"HIT"}
    assert all(offset(a) == 2 for a in answers)


def test_errors_no_cache_and_big_bodies_are_not_cached():
    x = INPUTS[0]  # cached by now
    before = {status: served(status) for status in ("OK", "INVALID_ARGUMENT")}
    malformed = ask([STABLE], [x], rounds=2, extra="--body '{\"instances\": \"x\"}'")
    no_cache = ask([STABLE], [x], rounds=2, extra="--header 'Cache-Control: no-cache'")
    big = ask([STABLE], [x], rounds=2, extra="--body '{\"instances\": [%s]}'" % ", ".join(["1.0"] * 300))
    assert [a["status"] for a in malformed] == [400, 400]
    assert [a["cache"] for a in malformed] == ["MISS", "MISS"]
    assert served("INVALID_ARGUMENT") - before["INVALID_ARGUMENT"] == 2
    assert [(a["status"], a["cache"]) for a in no_cache] == [(200, "BYPASS")] * 2
    # A body larger than the cache keeps goes straight to the model servers (no X-Edge-Cache).
    assert [(a["status"], a["cache"]) for a in big] == [(200, None)] * 2
    assert served() - before["OK"] == 4
    # The cached entry is still the right one.
    assert [a["cache"] for a in ask([STABLE], [x])] == ["HIT"]


def test_a_range_header_never_cuts_a_prediction():
    """TF Serving answers a POST whole whatever Range says; the cache did too until Varnish
    honoured Range: 206 with 10 bytes of JSON, hit or miss, and Accept-Ranges on every answer
    (issue 29)."""
    x = fresh_inputs(1)[0]
    answers = ask([STABLE], [x], rounds=2, extra="--header 'Range: bytes=0-9'")
    print("Range: bytes=0-9 twice: %s" % [(a["status"], a["cache"], len(a["body"])) for a in answers])
    assert [(a["status"], a["cache"]) for a in answers] == [(200, "MISS"), (200, "HIT")]
    for answer in answers:
        assert offset(answer) == 2  # the whole JSON answer
        assert "accept-ranges" not in answer["headers"] and "content-range" not in answer["headers"]


def test_a_compressed_body_never_shares_an_entry_with_the_same_bytes_uncompressed():
    """TF Serving inflates a body sent with Content-Encoding: gzip; the same bytes without that
    header are not JSON (400). The key held only the bytes: the second request got the first's
    cached 200 (issue 29). Compressed requests pass uncached."""
    x = fresh_inputs(1)[0]
    before = served("INVALID_ARGUMENT")
    compressed = ask([STABLE], [x], rounds=2, extra="--gzip --header 'Content-Encoding: gzip'")
    plain = ask([STABLE], [x], rounds=2, extra="--gzip")
    print("gzip body with the header: %s; the same bytes without it: %s"
          % ([(a["status"], a["cache"]) for a in compressed], [(a["status"], a["cache"]) for a in plain]))
    assert [(a["status"], a["cache"]) for a in compressed] == [(200, "BYPASS")] * 2
    assert all(offset(a) == 2 for a in compressed)
    assert [a["status"] for a in plain] == [400, 400] and "HIT" not in [a["cache"] for a in plain]
    assert served("INVALID_ARGUMENT") - before == 2


def test_a_client_over_its_rate_gets_429_even_for_a_cached_answer():
    """Rate control runs before the cache: a hit is still a request of that client. The edge's
    limiter is lowered in place (mod_magnet re-reads its script) and restored."""
    x = INPUTS[1]
    edge = host(EDGE)
    edge.check_output("cp -p %s %s.saved && sed -i -e 's/^local RATE = .*/local RATE = 2/' "
                      "-e 's/^local BURST = .*/local BURST = 2/' %s" % (LUA, LUA, LUA))
    try:
        time.sleep(1.1)  # a new mtime for mod_magnet
        answers = ask([STABLE], [x], rounds=10)
    finally:
        edge.check_output("mv %s.saved %s" % (LUA, LUA))
    statuses = [a["status"] for a in answers]
    print("10 requests at once, limiter at 2/s: %s" % statuses)
    assert 429 in statuses and 200 in statuses
    for answer in answers:
        if answer["status"] == 429:
            assert answer["cache"] is None  # answered by the edge's limiter, not by the cache
        else:
            assert answer["cache"] == "HIT" and offset(answer) == 2
    time.sleep(1.1)
    assert [(a["status"], a["cache"]) for a in ask([STABLE], [x], rounds=3)] == [(200, "HIT")] * 3


def roll_out(m, old, new, args=(), settle=0.0, ordered=False, playbook="deploy_models.yml", whole_fleet=True,
             before=None):
    """PLAYBOOK (with ARGS) with model m as M while clients loop over INPUTS: through
    the edge (mon1) and straight at each model server (edge1). Every request answered, through
    the edge and by each model server; no answer of the old version through the edge later than
    SETTLE s after the run ended (unless not WHOLE_FLEET: a run limited to some model servers
    leaves the others answering the old version), and with ORDERED (every play ran) none once the first model
    server answered the label with the new version. BEFORE (a function) runs once the clients
    loop, before PLAYBOOK. Returns the edge's answers and when each model server that moved the
    label moved it."""
    stop = "/tmp/cache-rollout-stop"
    loops = [(CLIENT, "https://edge1", "/tmp/rollout-edge.jsonl")] + [
        (EDGE, "http://%s:8501" % name, "/tmp/rollout-%s.jsonl" % name) for name in ("tfs1", "tfs2")]
    for on, url, out in loops:
        install_client(on)
        host(on).run("rm -f %s %s" % (stop, out))
        host(on).check_output(
            "systemd-run --unit=cache-loop-%s --collect python3 /tmp/cache_client.py --url %s --path %s "
            "--inputs %s --until %s --max-seconds 600 --pause 0.01 --out %s"
            % (out.split("-")[-1].split(".")[0], url, STABLE, ",".join(str(x) for x in INPUTS), stop, out))
    time.sleep(2)
    try:
        if before:
            before()
        code, output = run_playbook("../../playbooks/" + playbook, *args,
                                    extra_vars={"tfserving_models": [HALF_PLUS_TWO, m]})
    except BaseException:
        for on, url, out in loops:  # the loops end, so that the next test can start its own
            host(on).run("touch %s" % stop)
        raise
    done = time.time()
    assert code == 0, output[-3000:]
    time.sleep(5 + settle)
    answers = {}
    for on, url, out in loops:
        host(on).check_output("touch %s" % stop)
    for on, url, out in loops:
        for _ in range(120):
            if host(on).file(out).exists:
                break
            time.sleep(0.5)
        answers[url] = [json.loads(line) for line in host(on).file(out).content_string.splitlines()]
    edge = answers["https://edge1"]
    # TF Serving itself answered the label with 404 while the version it had just been moved to
    # was loading (issue 29): the role wrote the version and the label in one models.config.
    for url, got in answers.items():
        failed = [a for a in got if a["status"] != 200]
        assert not failed, (url, len(failed), failed[:3])
    # When each model server's label moved, and the last old answer through the edge.
    moved = {url: min(a["t"] for a in got if a["status"] == 200 and offset(a) == new)
             for url, got in answers.items()
             if url != "https://edge1" and any(a["status"] == 200 and offset(a) == new for a in got)}
    last_old = max([a["t"] for a in edge if offset(a) == old] or [0])
    late = [a for a in edge if a["t"] > done + settle and offset(a) == old]
    after = [a for a in edge if a["t"] > done + settle]
    print("roll-out (%s -> %s): %d answers through the edge, %d after the playbook ended (%d from the old "
          "version); label moved on the model servers %s s before the end; last old answer %.1f s after the first "
          "model server moved, %.1f s after the last, %.1f s before the playbook ended"
          % (old, new, len(edge), len(after), len(late),
             ", ".join("%.1f" % (done - t) for t in sorted(moved.values())),
             last_old - min(moved.values()), last_old - max(moved.values()), done - last_old))
    if whole_fleet:
        assert after and not late, late[:3]
        assert all(offset(a) == new for a in after)
    if ordered:
        # The edges answer the label with the new version before any model server moves it.
        assert last_old < min(moved.values()), "the old version through the edge %.1f s after the first model " \
            "server moved the label" % (last_old - min(moved.values()))
    return edge, moved


def test_a_roll_out_never_answers_from_the_old_version_once_done():
    m = dict(M, version_policy={"specific": [1, 2]}, labels={"stable": 2}, versions=[M_VERSION_1, M_VERSION_2])
    roll_out(m, old=2, new=3, ordered=True)
    # The model alone resolves to the newest version, 2, as on TF Serving.
    assert {offset(a) for a in ask([UNLABELLED, STABLE], INPUTS[:3])} == {3}


TABLE = "/etc/lighttpd/edge-cache-table.json"


def interrupted_deploy(m, table_writes):
    """deploy_models.yml for M, its controller killed (SIGKILL to its process group, as a lost
    session or a cancelled CI job) as soon as the edge's cache table has changed TABLE_WRITES
    times: after the edge wrote its file, before it switched varnishd to it."""
    def table():
        return host(EDGE).check_output("sha256sum %s" % TABLE).split()[0]

    seen, last = 0, table()
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        proc = start_playbook("../../playbooks/deploy_models.yml", extra_vars={"tfserving_models": [HALF_PLUS_TWO, m]},
                              output=log.name)
        try:
            deadline = time.time() + 300
            while proc.poll() is None and seen < table_writes and time.time() < deadline:
                now = table()
                if now != last:
                    seen, last = seen + 1, now
                    if seen == table_writes:
                        os.killpg(proc.pid, signal.SIGKILL)
                time.sleep(0.1)
        finally:
            if proc.poll() is None and seen < table_writes:  # this test failed: the run must not go on
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        with open(log.name) as handle:
            output = handle.read()
    tasks = re.findall(r"^TASK \[(.*)\]", output, re.M)
    print("deploy_models.yml killed after the edge's table changed %d times; its last task: %s"
          % (seen, tasks[-1] if tasks else None))
    assert seen == table_writes and proc.returncode == -signal.SIGKILL, (seen, proc.returncode, output[-2000:])
    # The run died after the table and before the switch (the tasks between them in versions.yml).
    assert tasks and tasks[-1].split(" : ", 1)[-1] in (
        "Write the URL forms the cache answers, as the model servers answer them now",
        "Write the prediction cache's VCL (validated before it lands)"), tasks[-3:]


def test_a_roll_back_killed_between_the_edges_table_and_its_switch_then_run_again():
    # Moving the label back (to version 1), through a run that dies between the edge's file and
    # its reload (issue 29): the controller is killed just after the edge wrote its table for
    # the moving label (deploy_models.yml's third play: every model server has loaded both
    # versions, none has moved the label). The edge's checker acts on the file from then on, and
    # the next run completes the roll-back; clients loop throughout. Every request answered, no
    # answer from version 2 once the second run ended, and none once the first model server
    # moved the label.
    m = dict(M, version_policy={"specific": [1, 2]}, labels={"stable": 1}, versions=[M_VERSION_1, M_VERSION_2])

    def killed_run():
        interrupted_deploy(m, table_writes=2)
        time.sleep(CHECK_SECONDS + SWITCH_SECONDS)
        # The checker acted on the table the killed run left, as the switch would have: the edge
        # answers the moving label with its new version (loaded everywhere) from the cache.
        answers = ask([STABLE], fresh_inputs(2))
        assert {(offset(a), a["cache"]) for a in answers} <= {(2, "HIT"), (2, "MISS")}, answers
        assert varnishd_runs_the_file()

    roll_out(m, old=3, new=2, ordered=True, before=killed_run)
    assert {offset(a) for a in ask([STABLE, VERSION_1], INPUTS[:3])} == {2}


CHECK_SECONDS = 5  # edge_cache_check_seconds (the role's default)
SWITCH_SECONDS = 5  # the checker's questions, then varnishreload's compile and switch, on 2 busy cores


def test_a_run_that_skips_the_edges_stops_old_answers_within_the_check_interval():
    # Issue 29: the edges' table changed only in the edges' play. site.yml --tags tfserving (as
    # its header recommends) with --limit to one model server (like a batch that failed, or an
    # unreachable edge) moved the label there while the edge kept answering it with version 1
    # from its cache (and fetching version 1 for misses, still loaded under specific [1, 2]),
    # without end. Now the edge's checker sees a model server answer stable otherwise than its
    # table and passes it uncached: no answer of version 1 from the cache later than the check
    # interval and a VCL switch after the model server moved.
    m = dict(M, version_policy={"specific": [1, 2]}, labels={"stable": 2}, versions=[M_VERSION_1, M_VERSION_2])
    edge, moved = roll_out(m, old=2, new=3, args=("--tags", "tfserving", "--limit", "tfs1"), playbook="site.yml",
                           settle=CHECK_SECONDS + SWITCH_SECONDS, whole_fleet=False)
    assert list(moved) == ["http://tfs1:8501"], moved
    first_moved = min(moved.values())
    from_cache = [a for a in edge if a["cache"] in ("HIT", "MISS") and offset(a) == 2]
    last = max([a["t"] for a in from_cache] or [0])
    print("edges' play skipped: last answer of version 1 from the cache %.1f s after the first model server moved; "
          "stable now %s" % (last - first_moved, sorted({a["cache"] for a in edge if a["t"] > last})))
    assert last <= first_moved + CHECK_SECONDS + SWITCH_SECONDS, "version 1 from the cache %.1f s after the label moved" % (
        last - first_moved)
    # The edge did not switch to version 2 on its own: its table still says 1, so stable passes.
    assert {a["cache"] for a in ask([STABLE], INPUTS[:3])} == {"BYPASS"}
    # The edges' play (here deploy_models.yml without --limit) brings the cache back for stable.
    code, output = run_playbook("../../playbooks/deploy_models.yml", extra_vars={"tfserving_models": [HALF_PLUS_TWO, m]})
    assert code == 0, output[-3000:]
    again = ask([STABLE], INPUTS[:3], rounds=2)
    assert {offset(a) for a in again} == {3} and {a["cache"] for a in again} <= {"HIT", "MISS"}, again


def predicts(name, path, x=1.0):
    """What model server NAME answers for PATH:predict with one input, asked on the host itself."""
    out = host(name).check_output("curl -sf -d '{\"instances\": [%s]}' http://127.0.0.1:8501%s" % (x, path))
    return json.loads(out)["predictions"][0]


def test_other_files_under_a_version_number_the_fleet_has_are_never_cached():
    # Issue 29, item 11: the key held a fingerprint of the version's src string. Files changed in
    # place at the same src, deployed anew on one model server under the same version number (a
    # server rebuilt, or added to the fleet), shared the cache entries of the files the other
    # still serves: the edge answered tfs2's requests from tfs1's files and the reverse. Now the
    # tfserving role refuses such a deploy, and an edge caches a version only while every model
    # server that has it recorded the same digest of its files (files put there by hand).
    version_7 = "/v1/models/m/versions/7:predict"
    base = "/var/lib/tfserving/models/m"
    src = tempfile.mkdtemp(prefix="m-version-7-")
    shutil.copytree(M_VERSION_1["src"], src, dirs_exist_ok=True)
    m7 = dict(M, version_policy={"specific": [1, 2, 7]}, labels={"stable": 2},
              versions=[M_VERSION_1, M_VERSION_2, {"version": 7, "src": src}])
    restored = dict(M, version_policy={"specific": [1, 2]}, labels={"stable": 2}, versions=[M_VERSION_1, M_VERSION_2])
    kept = fresh_inputs(1)
    assert [a["cache"] for a in ask([STABLE], kept, rounds=2)] == ["MISS", "HIT"]
    try:
        code, output = run_playbook("../../playbooks/deploy_models.yml", extra_vars={"tfserving_models": [HALF_PLUS_TWO, m7]})
        assert code == 0, output[-3000:]
        first = ask([version_7], fresh_inputs(3), rounds=2)
        assert sorted((a["cache"], offset(a)) for a in first) == [("HIT", 2)] * 3 + [("MISS", 2)] * 3, first

        # The files at src change in place (to half_plus_three), and tfs2 is to deploy version 7
        # anew from them (a rebuilt server), in a run that skips the edges: refused.
        shutil.rmtree(src)
        shutil.copytree(M_VERSION_2["src"], src)
        host("tfs2").check_output("rm -rf %s/7" % base)
        code, output = run_playbook("../../playbooks/site.yml", "--tags", "tfserving", "--limit", "tfs2",
                                    extra_vars={"tfserving_models": [HALF_PLUS_TWO, m7]})
        said = " ".join(output.split())  # the callback folds long lines
        assert code != 0 and "model m version 7: the files this host would deploy" in said, output[-3000:]
        assert "differ from those tfs1 (" in said, output[-3000:]
        print(said[said.index("tfserving_models: model m version 7"):][:420])
        assert host("tfs2").check_output("ls -A %s" % base).split() == ["1", "2"]  # nothing staged is left

        # The same files put into tfs2's version 7 by hand: the edges' play (deploy_models.yml; its
        # model servers' play records their digest) stops caching version 7.
        host("tfs2").check_output("cp -a {0}/2 {0}/.by-hand && rm {0}/.by-hand/.lts-content.sha256 && "
                                  "mv {0}/.by-hand {0}/7".format(base))
        code, output = run_playbook("../../playbooks/deploy_models.yml", extra_vars={"tfserving_models": [HALF_PLUS_TWO, m7]})
        assert code == 0, output[-3000:]
        assert [predicts(name, version_7) for name in ("tfs1", "tfs2")] == [2.5, 3.5]
        again = ask([version_7, UNLABELLED], fresh_inputs(3), rounds=2)
        print("version 7 with other files on tfs2, through the edge: %s"
              % sorted({(a["path"], a["cache"], offset(a)) for a in again}))
        assert {a["cache"] for a in again} == {"BYPASS"}, again
        said = " ".join(output.split())
        assert "model m version 7 is not cached: the model servers hold different files" in said, output[-3000:]
        # The versions whose files agree keep their entries.
        assert [a["cache"] for a in ask([STABLE], kept)] == ["HIT"]
    finally:
        shutil.rmtree(src, ignore_errors=True)
        code, output = run_playbook("../../playbooks/deploy_models.yml",
                                    extra_vars={"tfserving_models": [HALF_PLUS_TWO, restored]})
        for name in ("tfs1", "tfs2"):  # no longer served; gone, so that the test can run again
            host(name).run("rm -rf %s/7 %s/.by-hand" % (base, base))
        assert code == 0, output[-3000:]
    wait_until_cached(UNLABELLED)


def checker_pid():
    return host(EDGE).check_output("systemctl show -p MainPID --value lighttpd-edge-cache-versions")


def test_a_switch_that_did_not_happen_is_made_by_the_checker_even_after_it_crashed():
    # A run that died between writing the VCL file and switching varnishd to it (or a switch
    # that failed) left varnishd on the old table; the next run found the file unchanged and
    # switched nothing, so the old versions stayed in use without end (issue 29). Here varnishd
    # is put on another table by hand and the checker is killed; systemd starts it again, and it
    # switches varnishd back to the files within the check interval, without any playbook run.
    # (The other table goes under /etc/lighttpd: the cache unit's /tmp is private.)
    vcl = "/etc/lighttpd/edge-cache.vcl"
    older = "/etc/lighttpd/edge-cache-older-test.vcl"
    assert varnishd_runs_the_file()
    before = checker_pid()
    try:
        host(EDGE).check_output(
            "sed '1a # an older table' %s > %s && varnishadm -n /run/lighttpd-edge-cache/varnishd "
            "vcl.load older-$$ %s >/dev/null && varnishadm -n /run/lighttpd-edge-cache/varnishd "
            "vcl.use older-$$ >/dev/null && systemctl kill -s KILL lighttpd-edge-cache-versions", vcl, older, older)
    finally:
        host(EDGE).run("rm -f %s", older)
    assert not varnishd_runs_the_file()
    start = time.time()
    while not varnishd_runs_the_file() and time.time() - start < CHECK_SECONDS + 15:
        time.sleep(0.5)
    print("varnishd back on the files %.1f s after the switch by hand and the checker's crash" % (time.time() - start))
    assert varnishd_runs_the_file(), "varnishd still runs another VCL than the files"
    assert checker_pid() not in ("0", before)


def varnishd_runs_the_file(vcl="/etc/lighttpd/edge-cache.vcl"):
    """Whether the active VCL's source is the file's (varnishadm adds a newline; $(...) drops it)."""
    return host(EDGE).check_output(
        "active=$(varnishadm -n /run/lighttpd-edge-cache/varnishd vcl.list | awk '$1 == \"active\" {print $NF}'); "
        "[ \"$(varnishadm -n /run/lighttpd-edge-cache/varnishd vcl.show \"$active\")\" = \"$(cat %s)\" ] "
        "&& echo yes || echo no" % vcl) == "yes"


def wait_until_cached(path, seconds=CHECK_SECONDS + 15):
    """Until the edge caches PATH again (its checker includes the form once every server agrees)."""
    start = time.time()
    while time.time() - start < seconds:
        if ask([path], fresh_inputs(1))[0]["cache"] in ("HIT", "MISS"):
            return
        time.sleep(1)
    raise AssertionError("%s still passes uncached %d s later" % (path, seconds))


def test_an_explicit_version_no_server_loads_gets_tf_servings_own_404():
    # Version 2 is in the edge's table (specific [1, 2]) but its directory leaves every model
    # server, which unloads it, before the checker's next look (stopped here, so the VCL's own
    # fallback answers). A client asking for exactly that version: the previous VCL asked again
    # with the same path on every 404 (5 POSTs) and answered varnishd's HTML "503 Backend fetch
    # failed" (issue 29). Now TF Serving's 404 comes through, after one fetch.
    version_2 = "/v1/models/m/versions/2:predict"
    directory = "/var/lib/tfserving/models/m/2"
    holders = [name for name in SERVERS if host(name).file(directory).is_directory]
    assert holders, "no model server has version 2 of m"

    def direct_status(name):
        return host(name).check_output("curl -s -o /dev/null -w '%%{http_code}' -d '{\"instances\": [1.0]}' "
                                       "http://127.0.0.1:8501%s", version_2)

    def wait_for(status):
        for _ in range(120):
            if all(direct_status(name) == status for name in holders):
                return
            time.sleep(0.5)
        raise AssertionError("the model servers %s never answered %s for version 2" % (holders, status))

    host(EDGE).check_output("systemctl stop lighttpd-edge-cache-versions")
    try:
        for name in holders:
            host(name).check_output("mv %s %s.hidden", directory, directory)
        wait_for("404")
        before = served("NOT_FOUND")
        answers = ask([version_2], fresh_inputs(1))
        after = served("NOT_FOUND")
        print("explicit unloaded version through the cache: %s; model servers' 404s %d -> %d"
              % ([(a["status"], a["cache"], a["body"][:80]) for a in answers], before, after))
        assert [a["status"] for a in answers] == [404], answers
        assert json.loads(answers[0]["body"])["error"], answers
        assert after - before <= 1, (before, after)
    finally:
        for name in holders:
            host(name).run("mv %s.hidden %s", directory, directory)
        host(EDGE).run("systemctl start lighttpd-edge-cache-versions")
        wait_for("200")
    wait_until_cached(UNLABELLED)


def cache_rss_kib():
    """RSS of varnishd's manager and cache processes (the child keeps the manager's command line)."""
    pids = host(EDGE).check_output("pgrep -d, -f '^/usr/sbin/varnishd'")
    return sum(int(n) for n in host(EDGE).check_output("ps -o rss= -p %s" % pids).split())


def cache_stat(name):
    out = host(EDGE).check_output("varnishstat -n /run/lighttpd-edge-cache/varnishd -1 -f %s", name)
    return int(out.split()[1])


def distinct_inputs(count, base):
    """COUNT predictions with new inputs (BASE+1 ..) from mon1 over 16 connections."""
    install_client(CLIENT)
    out = "/tmp/cache-new-%d.json" % base
    host(CLIENT).check_output("python3 /tmp/cache_client.py --url https://edge1 --path %s --inputs %d --new %d "
                              "--threads 16 --out %s" % (UNLABELLED, base, count, out))
    statuses = json.loads(host(CLIENT).file(out).content_string)
    assert statuses == {"200": count}, statuses
    return count


def test_distinct_inputs_stay_within_the_memory_bound():
    """edge_cache_memory_mb is 4 in this scenario (about 13,000 answers of m): 15,000 new
    inputs fill it, 5,000 more only evict. make bench measures 100,000 (docs/cache.md)."""
    base = random.randint(10 ** 6, 10 ** 7)
    evicted_before = cache_stat("MAIN.n_lru_nuked")
    rss = [cache_rss_kib()]
    sent = distinct_inputs(15000, base)
    rss.append(cache_rss_kib())
    sent += distinct_inputs(5000, base + 15000)
    rss.append(cache_rss_kib())
    stored, limit = cache_stat("SMA.cache.g_bytes"), 4 * 1024 * 1024
    evicted = cache_stat("MAIN.n_lru_nuked") - evicted_before
    objects = cache_stat("MAIN.n_object")
    print("20,000 distinct inputs: %d requests; stored %d bytes of %d, %d answers kept, %d evicted; "
          "varnishd RSS %s KiB (before, after 15,000, after 20,000)" % (sent, stored, limit, objects, evicted, rss))
    assert sent == 20000
    assert stored <= limit
    assert evicted > 0 and objects < 15000
    # Full at 15,000: the next 5,000 replace answers, they do not add memory.
    assert rss[2] - rss[1] <= limit // 1024 // 2, rss
    # The edge's metrics count what happened.
    metrics = host(CLIENT).check_output("curl -sf http://edge1:9146/metrics")
    for name in ("hits_total", "misses_total", "evictions_total", "bytes", "bytes_limit"):
        assert re.search(r"^lighttpd_edge_cache_%s [0-9.e+]+$" % name, metrics, re.M), name
    assert float(re.search(r"^lighttpd_edge_cache_evictions_total (\S+)$", metrics, re.M).group(1)) >= evicted


def test_transient_storage_is_bounded_too():
    """Varnish keeps answers passing uncached in its Transient storage, unbounded unless told
    (issue 29): here 64 MiB (edge_cache_memory_mb 4, at least 64)."""
    used, free = cache_stat("SMA.Transient.g_bytes"), cache_stat("SMA.Transient.g_space")
    print("Transient storage: %d bytes used, %d free" % (used, free))
    assert 0 < used + free <= 64 * 1024 * 1024


def test_a_model_server_that_was_reached_but_is_silent_is_not_asked_again_elsewhere():
    # tfs1's TF Serving stops answering (SIGSTOP: its kernel still accepts connections, so the
    # cache reaches it and waits). The previous VCL sent the same POST to the next server after
    # the first-byte timeout (35 s, lighttpd's read timeout too): the client got lighttpd's 504
    # while the fleet worked on the copies (issue 29). Now the miss that landed on tfs1 ends
    # within lighttpd's timeout with a JSON error, and no other server gets a copy of it.
    others = ("tfs2", "tfs3")
    before = served(servers=others)
    answers = []
    host("tfs1").check_output("systemctl kill -s STOP tfserving")
    try:
        # Round robin over three servers: one of three consecutive misses lands on tfs1 (before
        # its health probe, every 5 s, can take it out).
        for x in fresh_inputs(3):
            out = host(CLIENT).run(
                "curl -sk -m 60 -o /tmp/silent-body -w '%%{http_code} %%{content_type} %%{time_total}' "
                "-d '{\"instances\": [%s]}' https://edge1%s; echo; cat /tmp/silent-body", str(x), STABLE).stdout
            status_line, _, body = out.partition("\n")
            code, content_type, seconds = status_line.split(" ")
            answers.append({"status": int(code), "type": content_type, "seconds": float(seconds), "body": body})
    finally:
        host("tfs1").check_output("systemctl kill -s CONT tfserving")
    time.sleep(5)  # a copy sent late (the previous VCL's retry) has arrived by now
    failed = [a for a in answers if a["status"] != 200]
    print("answers while tfs1 was silent: %s" % [(a["status"], a["type"], a["seconds"]) for a in answers])
    assert len(failed) == 1, answers
    assert failed[0]["status"] == 503 and failed[0]["type"].startswith("application/json"), failed
    assert "error" in json.loads(failed[0]["body"]), failed
    assert failed[0]["seconds"] < 35, "the cache answered after lighttpd's read timeout: %s" % failed
    # The two answered misses, and nothing more: the silent server's request was not re-sent.
    assert served(servers=others) - before == 2


def test_the_error_handlers_path_answers_clients_404():
    # The cached models' error handler (a request the cache dropped, sent once more) is a path
    # of the edge; a client asking for it itself gets 404 and reaches no model server. (Over
    # HTTP/1.1: on HTTP/2 lighttpd 1.4.69 ends a stream answered before its body has arrived
    # with RST_STREAM(NO_ERROR), which curl 7.88 reports as an error without the status, as for
    # any path lighttpd answers at once; the edge defers only its own refusals for that.)
    before = served()
    out = host(CLIENT).check_output(
        "curl -sk --http1.1 -o /tmp/retry-body -w '%{http_code} %{content_type}' -d '{\"instances\": [1.0]}' "
        "https://edge1/lts-edge-cache-retry; echo; cat /tmp/retry-body")
    status_line, _, body = out.partition("\n")
    assert status_line.split(" ") == ["404", "application/json"], out
    assert json.loads(body)["error"]
    assert served() == before


def cache_alert_firing():
    out = host(CLIENT).check_output("curl -sf http://127.0.0.1:9090/api/v1/alerts")
    return any(a["labels"]["alertname"] == "LighttpdEdgeCacheDown" and a["state"] == "firing"
               for a in json.loads(out)["data"]["alerts"])


def test_the_cached_models_are_answered_while_the_cache_is_down():
    # With varnishd killed, every request of a cached model got lighttpd's 503 HTML until Varnish
    # was back, and a unit change (a restart) dropped requests the same way (issue 29). Now the
    # edge sends them straight to the model servers while the cache's unit shows it down. Under a
    # client loop through the edge: varnishd killed (systemd starts it again), then stopped on
    # purpose long enough for LighttpdEdgeCacheDown to fire on mon1, then started. The kill's
    # moment failed one request in every run before 0.9.0 (a JSON 500 or 503): the request
    # varnishd was answering (lighttpd never sends a request twice), or the first to find its
    # socket closed before the cache's unit noticed. Now the edge's error handler sends such a
    # request once more, straight to the model servers: none fails.
    stop, out = "/tmp/cache-down-stop", "/tmp/cache-down.jsonl"
    error_log = "/var/log/lighttpd-edge/error.log"
    log_lines = int(host(EDGE).check_output("wc -l < %s" % error_log))
    install_client(CLIENT)
    host(CLIENT).run("rm -f %s %s" % (stop, out))
    host(CLIENT).check_output(
        "systemd-run --unit=cache-down-loop --collect python3 /tmp/cache_client.py --url https://edge1 --path %s "
        "--inputs %s --until %s --max-seconds 300 --pause 0.01 --out %s"
        % (STABLE, ",".join(str(x) for x in INPUTS), stop, out))
    time.sleep(3)
    pid = host(EDGE).check_output("systemctl show -p MainPID --value lighttpd-edge-cache")
    host(EDGE).check_output("systemctl kill -s KILL lighttpd-edge-cache")
    killed = time.time()
    for _ in range(60):
        if host(EDGE).file("/run/lighttpd-edge-cache/up").exists:
            break
        time.sleep(0.5)
    back = time.time() - killed
    assert host(EDGE).check_output("systemctl show -p MainPID --value lighttpd-edge-cache") not in ("0", pid)
    time.sleep(3)
    host(EDGE).check_output("systemctl stop lighttpd-edge-cache")
    stopped = time.time()
    try:
        for _ in range(60):
            if cache_alert_firing():
                break
            time.sleep(1)
        alert_after = time.time() - stopped
        assert cache_alert_firing(), "LighttpdEdgeCacheDown did not fire within 60 s of the stop"
    finally:
        host(EDGE).check_output("systemctl start lighttpd-edge-cache")
    started = time.time()
    time.sleep(3)
    host(CLIENT).check_output("touch %s" % stop)
    for _ in range(120):
        if host(CLIENT).file(out).exists:
            break
        time.sleep(0.5)
    answers = [json.loads(line) for line in host(CLIENT).file(out).content_string.splitlines()]
    failed = [a for a in answers if a["status"] != 200]
    direct = [a for a in answers if a["cache"] is None]
    # What the edge saw of the cache at the kill: requests it had sent that got no answer, and
    # connections the dead socket refused (lighttpd's own log lines, then its error handler).
    dropped = [line for line in host(EDGE).check_output("tail -n +%d %s" % (log_lines + 1, error_log)).splitlines()
               if "cache.sock" in line and ("failed" in line or "not received" in line)]
    print("cache killed (back after %.1f s), then stopped %.1f s (alert firing after %.1f s): %d answers through "
          "the edge, %d failed %s, %d straight from the model servers, %d from the cache after the start; "
          "the edge's log of the cache's socket: %s"
          % (back, started - stopped, alert_after, len(answers), len(failed),
             [(a["status"], round(a["t"] - killed, 3)) for a in failed], len(direct),
             len([a for a in answers if a["t"] > started and a["cache"] == "HIT"]), dropped))
    assert failed == []
    # The kill's moment was tried: the edge sent at least one request to the dead cache.
    assert dropped, "no request met the killed cache"
    assert [a for a in direct if killed <= a["t"] <= started], "no answer came straight from the model servers"
    assert [a for a in answers if a["t"] > started + 1 and a["cache"] == "HIT"], "the cache did not take over again"
    # Every answer that came is the stable version's, from the cache or not (a failed one has no
    # predictions to compare).
    answered = [a for a in answers if a["status"] == 200]
    assert all(offset(a) == offset(answered[0]) for a in answered)
