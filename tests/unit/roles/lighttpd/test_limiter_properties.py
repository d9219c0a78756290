"""Stateful property test of the edge's per-client limiter (issue 26): the real rendered
inference script (roles/lighttpd/templates/inference.lua.j2) under Lua 5.4, driven one event at
a time through tests/unit/roles/lighttpd/lua/limiter_driver.lua (the mod_magnet model of the other Lua unit
tests), over generated interleavings of admissions, response starts, client aborts, clock steps
(forward, back, past the generation swap) and new processes (a graceful reload). The script
recounts requests in flight by itself (at the cap), so the admissions exercise the recount.
Each generated sequence runs in one batch (the events whose target depends on the script's
answers, response starts and aborts, name the Nth held request); the checks then replay the
answers event by event.

Two invariants, checked after every event:
- never more than the cap at once: no client, and not the shared overflow record, holds more
  than `lighttpd_rate_limit_concurrent` admitted requests that lighttpd still holds;
- no lockout: a request refused for `in_flight` comes from a client that holds the cap, or
  that aborted a request since the clock's second last changed (the documented bound: a client
  whose requests have ended is admitted by its first request in a later second).

LTS_LIMITER_EXAMPLES sets the number of generated sequences (10,000 in `make unit`; `make
compat` runs fewer: the script does not depend on the ansible-core version)."""
import ipaddress
import math
import os
import shutil
import subprocess

import jinja2
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

# Independent of ansible-core: `make unit` runs it; `make compat` leaves it out of its per-core runs.
pytestmark = pytest.mark.core_independent

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
TEMPLATE = os.path.join(ROOT, "roles", "lighttpd", "templates", "inference.lua.j2")
DRIVER = os.path.join(ROOT, "tests", "unit", "roles", "lighttpd", "lua", "limiter_driver.lua")
LUA = shutil.which("lua5.4")
CAP = 3
MAX_CLIENTS = 3   # small, so that the shared overflow record is used
VARS = {
    "ansible_managed": "test", "lighttpd_rate_limit_requests_per_second": 40,
    "lighttpd_rate_limit_burst": 12, "lighttpd_rate_limit_concurrent": CAP,
    "lighttpd_rate_limit_enabled": True, "lighttpd_rate_limit_max_clients": MAX_CLIENTS,
    "lighttpd_rate_limit_ipv6_prefix": 64, "lighttpd_api_key_failures_per_minute": 10,
    "lighttpd_tls_client_verify": "off", "lighttpd_trusted_proxies": [],
    "lighttpd_api_key_sha256": [], "__lighttpd_graceful_timeout": 8,
    "lighttpd_inference_credentials_required": "any", "__lighttpd_oidc_enabled": False,
}
# IPv4 clients, two hosts of one IPv6 /64 (one client) and one of another /64.
ADDRESSES = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5",
             "2001:db8:1:1::1", "2001:db8:1:1::2", "2001:db8:1:2::1"]
EXAMPLES = int(os.environ.get("LTS_LIMITER_EXAMPLES", "10000"))


def client_of(ip):
    """The client key the script is documented to use: IPv4 as is, IPv6 by its /64."""
    address = ipaddress.ip_address(ip)
    if address.version == 4:
        return ip
    network = ipaddress.ip_network("%s/64" % ip, strict=False)
    return ":".join("%x" % int(g, 16) for g in network.network_address.exploded.split(":")) + "/64"


class Driver:
    def __init__(self, script_path):
        self.proc = subprocess.Popen([LUA, DRIVER, script_path], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)

    def run(self, lines):
        """Send a batch of commands, return one answer (split into words) per command."""
        self.proc.stdin.write("\n".join(lines + ["end"]) + "\n")
        answers = []
        while True:
            answer = self.proc.stdout.readline()
            if not answer:
                raise AssertionError("the Lua driver died in %r" % lines)
            if answer == "end\n":
                return answers
            answers.append(answer.split())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    if LUA is None:
        pytest.fail("lua5.4 is missing: `make unit` installs it (apt-get install lua5.4)")
    script = tmp_path_factory.mktemp("limiter") / "inference.lua"
    script.write_text(jinja2.Template(open(TEMPLATE).read()).render(**VARS))
    d = Driver(str(script))
    yield d
    d.close()



# One event: a burst of requests from one address, the response start or the abort of the Nth
# held request, time passing, the clock stepping back, or a new process (graceful reload).
EVENTS = st.one_of(
    st.tuples(st.just("requests"), st.sampled_from(ADDRESSES), st.integers(1, 4)),
    st.tuples(st.just("release"), st.integers(0, 20)),
    st.tuples(st.just("abort"), st.integers(0, 20)),
    st.tuples(st.just("time"), st.sampled_from([0.0, 0.01, 0.2, 0.5, 0.99, 1.0, 1.7, 3.0, 61.0, 130.0, 4000.0])),
    st.tuples(st.just("back"), st.sampled_from([0.3, 1.0, 5.0, 90.0, 3600.0])),
    st.tuples(st.just("reload")),
)


class Model:
    """What lighttpd holds, replayed from the script's answers, and the two invariants."""

    def __init__(self, clock):
        self.clock = clock
        self.new_process()

    def new_process(self):
        self.held = {}          # request id -> (client, record key)
        self.epoch = 0          # bumped when a script run sees another second than the last run
        self.last_second = math.floor(self.clock)
        self.aborts = {}        # client -> epoch of its latest abort

    def script_runs(self):
        second = math.floor(self.clock)
        if second != self.last_second:
            self.epoch, self.last_second = self.epoch + 1, second

    def check_cap(self):
        per_client, shared = {}, 0
        for client, key in self.held.values():
            per_client[client] = per_client.get(client, 0) + 1
            shared += key == "overflow"
        assert not per_client or max(per_client.values()) <= CAP, ("over the cap", per_client)
        assert shared <= CAP, ("overflow record over the cap", shared)

    def admitted_or_refused(self, rid, ip, answer):
        status, reason, key, slot = answer
        client = client_of(ip)
        assert key in (client, "overflow"), (ip, key)  # the script names the record it used
        if status == "0":
            assert slot == "1"
            self.held[rid] = (client, key)
            self.check_cap()
            return "admitted"
        assert status == "429" and reason in ("rate", "in_flight"), answer
        if reason == "in_flight":
            own = sum(1 for c, _ in self.held.values() if c == client)
            shared = sum(1 for _, k in self.held.values() if k == "overflow")
            at_cap = own >= CAP or (key == "overflow" and shared >= CAP)
            # On the shared overflow record, another client's abort holds the shared slots too.
            aborted_now = any(epoch == self.epoch for c, epoch in self.aborts.items()
                              if c == client or key == "overflow")
            assert at_cap or aborted_now, (
                "locked out: %s refused for in_flight holding %d (overflow record %d) with no "
                "abort since the second changed" % (ip, own, shared))
        return reason


def run_sequence(driver, events):
    clock = 1_000_000.0
    lines, plan = ["reset", "clock %r" % clock], []
    n = 0
    for event in events:
        kind = event[0]
        if kind == "requests":
            for _ in range(event[2]):
                lines.append("admit r%d %s" % (n, event[1]))
                plan.append(("admit", "r%d" % n, event[1]))
                n += 1
            continue
        if kind in ("release", "abort"):
            lines.append("%s %d" % (kind, event[1]))
        elif kind == "reload":
            lines.append("reset")
        else:
            clock += event[1] if kind == "time" else -event[1]
            lines.append("clock %r" % clock)
        plan.append((kind, clock))
    answers = driver.run(lines)
    assert len(answers) == len(lines), answers
    model, outcomes = Model(1_000_000.0), {}
    for step, answer in zip(plan, answers[2:]):
        kind = step[0]
        if kind == "admit":
            model.script_runs()
            outcome = model.admitted_or_refused(step[1], step[2], answer)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        elif kind == "release" and answer != ["none"]:
            model.script_runs()
            del model.held[answer[0]]
        elif kind == "abort" and answer != ["none"]:
            client, _ = model.held.pop(answer[0])
            model.aborts[client] = model.epoch
        elif kind == "reload":
            # The old process finishes its requests on its own; the new one starts empty.
            model.new_process()
        elif kind in ("time", "back"):
            model.clock = step[1]
        model.check_cap()
    return outcomes


TOTALS = {}


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(events=st.lists(EVENTS, min_size=1, max_size=60))
def check_sequence(driver, events):
    for outcome, count in run_sequence(driver, events).items():
        TOTALS[outcome] = TOTALS.get(outcome, 0) + count


def test_limiter_never_exceeds_the_cap_and_never_locks_a_client_out(driver):
    TOTALS.clear()
    check_sequence(driver)
    print("%d generated sequences: %s" % (EXAMPLES, TOTALS))
    # The sequences reached every outcome, the recount's refusal among them.
    assert TOTALS.get("admitted") and TOTALS.get("in_flight") and TOTALS.get("rate"), TOTALS
