# -*- coding: utf-8 -*-
"""Shared testinfra helpers for every Molecule scenario.

Test hosts are reached with testinfra's native podman backend (``podman://NAME``), about
ten times faster than going through Ansible. MOLECULE_TESTINFRA_BACKEND=docker switches it
for users who run the scenarios on docker. When a test fails, the journal of the units it
names is printed, so CI logs say why.
"""

import json
import os
import re
import shlex
import subprocess
import time
import uuid

import pytest
import testinfra

BACKEND = os.environ.get("MOLECULE_TESTINFRA_BACKEND", "podman")
SCENARIO_DIR = os.environ.get("MOLECULE_SCENARIO_DIRECTORY", "")
EPHEMERAL_DIR = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")
_HOSTS = {}


def host(name):
    """A testinfra host for the test container NAME."""
    if name not in _HOSTS:
        _HOSTS[name] = testinfra.get_host("%s://%s" % (BACKEND, name))
    return _HOSTS[name]


@pytest.fixture(scope="session")
def get_host():
    return host


def run_playbook(playbook, *args, extra_vars=None, check=False, timeout=900, env=None):
    """Run a playbook against the scenario's inventory; return (returncode, output).

    Plays tagged `fixture` (test fixtures the scenario's converge already set up, such as the
    lighttpd scenario's load balancer and ACME server) are skipped: tests converge the roles.
    `env` adds environment variables (for example ANSIBLE_CACHE_PLUGIN=memory for a run that
    starts without any cached facts)."""
    cmd, env = _playbook_command(playbook, args, extra_vars, check, env)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    return proc.returncode, proc.stdout + proc.stderr


def start_playbook(playbook, *args, extra_vars=None, output=None):
    """run_playbook without waiting: the Popen, in a process group of its own (a test can kill
    the whole controller, as a lost SSH session or a CI job cancelled mid-run would). Its output
    goes to the file OUTPUT (or nowhere)."""
    cmd, env = _playbook_command(playbook, args, extra_vars, False, None)
    sink = open(output, "w") if output else subprocess.DEVNULL
    try:
        return subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    finally:
        if output:
            sink.close()  # the child has its own copy


def _playbook_command(playbook, args, extra_vars, check, env):
    if not os.path.isabs(playbook):
        playbook = os.path.join(SCENARIO_DIR, playbook)
    cmd = ["ansible-playbook", "-i", os.path.join(EPHEMERAL_DIR, "inventory"), playbook, "--skip-tags", "fixture"]
    if check:
        cmd.append("--check")
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    cmd += list(args)
    return cmd, dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", **(env or {}))


def recap(output):
    """PLAY RECAP counters per host: {host: {'ok': n, 'changed': n, 'failed': n, ...}}."""
    result = {}
    for match in re.finditer(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", output, re.M):
        result[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return result


def changed_tasks(output):
    """Names of the tasks that reported 'changed' in a playbook's output."""
    names = []
    task = None
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line
        elif line.startswith("changed:") and task:
            names.append(task)
    return names


class RequestLoop(object):
    """A bounded request loop running inside a test host (curl, one request at a time).

    It stops by itself after `count` requests, or after the request under way when `stop()` is
    called; `results()` waits for it and returns the HTTP status codes (000 for a connection
    that failed).

    An HTTP/2 server that shuts a connection down gracefully (lighttpd on reload or stop)
    sends GOAWAY naming the last stream it processed; RFC 9113 section 6.8 lets the client
    retry the streams above it, which were not processed. curl 8 does so by itself; curl 7.88
    (Debian 12) fails such a request with exit 16 instead. The loop retries exactly that case
    once (a fresh connection's stream 1 after GOAWAY with last_stream=0), as curl 8 would,
    and counts it in `retried_after_goaway`; every other failure is reported as it happened.
    """

    def __init__(self, on, url, count=200, interval=0.05, curl_args="", timeout=10):
        curl = "curl -s -o /dev/null -w '%%{http_code}' -m %d %s %s" % (timeout, curl_args, shlex.quote(url))
        script = (
            "for i in $(seq %d); do [ -e $0.stop ] && break; code=$(%s -v 2>$0.err); "
            "if [ \"$code\" = 000 ] && grep -q 'GOAWAY, error=0, last_stream=0$' $0.err; then "
            "echo >> $0.goaway; code=$(%s); fi; echo $code; sleep %s; done"
            % (count, curl, curl, interval)
        )
        self._start(on, script, count * (2 * timeout + interval) + 30)

    @property
    def retried_after_goaway(self):
        return len(self.host.run("cat %s.goaway", self.out).stdout.splitlines())

    def _start(self, on, script, seconds):
        self.host = host(on)
        self.name = "loop-%s" % uuid.uuid4().hex[:8]
        self.out = "/tmp/%s.out" % self.name
        script = "(%s) > %s.tmp; mv %s.tmp %s" % (script, self.out, self.out, self.out)
        self.host.check_output("systemd-run --unit=%s --collect sh -c %s %s", self.name, script, self.out)
        self.deadline = time.time() + seconds

    def stop(self):
        """End the loop after the request under way (`results()` still waits for it)."""
        self.host.check_output("touch %s.stop", self.out)

    def _output(self):
        while time.time() < self.deadline:
            if self.host.file(self.out).exists:
                return self.host.file(self.out).content_string
            time.sleep(0.5)
        raise AssertionError("request loop %s did not finish" % self.name)

    def results(self):
        return self._output().split()


class KeepAliveLoop(RequestLoop):
    """One curl for `count` requests on one connection (at most `rate` a second).

    curl reuses its connection and, like any careful client, opens a new one when the server
    closed an idle connection; `results()` returns one status code per request.
    """

    def __init__(self, on, url, count=200, rate=20, curl_args=""):
        urls = " ".join([shlex.quote(url)] * count)
        script = "curl -s --rate %d/s -m 10 -w '\\nCODE=%%{http_code}\\n' %s %s" % (rate, curl_args, urls)
        self._start(on, script, count / float(rate) + 90)

    def results(self):
        return re.findall(r"^CODE=(\d+)$", self._output(), re.M)


def journal(on, unit, lines=60):
    return host(on).run("journalctl -u %s -n %s --no-pager", unit, str(lines)).stdout


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the journal of the units a failing test names (marker `units`)."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        marker = item.get_closest_marker("units")
        if marker:
            for on, unit in marker.args:
                try:
                    report.sections.append(("journal %s %s" % (on, unit), journal(on, unit)))
                except Exception as err:  # the host may be gone
                    report.sections.append(("journal %s %s" % (on, unit), str(err)))


def pytest_configure(config):
    config.addinivalue_line("markers", "units(*pairs): (host, unit) journals to show on failure")


def assert_check_mode_clean(playbook="converge.yml"):
    """`--check` on the converged hosts reports no change and fails nowhere."""
    code, output = run_playbook(playbook, check=True)
    counters = recap(output)
    assert code == 0, output[-3000:]
    assert counters, output[-3000:]
    changed = {name: c["changed"] for name, c in counters.items() if c.get("changed")}
    assert not changed, "check mode reported changes: %s\n%s" % (changed, "\n".join(changed_tasks(output)))
    assert all(c.get("failed", 0) == 0 for c in counters.values()), output[-3000:]
