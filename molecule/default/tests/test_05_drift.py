"""What someone changed by hand is put back by the next run. Since 0.8.0 the roles compare every
file and directory they write in one module run (the file_states module) and skip the tasks
whose paths match: a wrong "matches" would leave drift in place. Each kind of difference is made
on stack1 (content, mode, owner, a missing file, a path that must be absent, an owner below a
directory, a unit stopped, a unit disabled), then site.yml runs on stack1 alone: the comparisons must name exactly those paths (a
path named that nobody changed means a comparison and its task disagree), and the run must put
each back. It runs first, on the host as converge and idempotence left it."""
import json
import re

import pytest

from conftest import changed_tasks, host, run_playbook

pytestmark = pytest.mark.units(("stack1", "lighttpd@edge"), ("stack1", "lighttpd@static"), ("stack1", "tfserving"))

LOGROTATE = "/etc/logrotate.d/lighttpd-edge"
STATIC_CONF = "/etc/lighttpd/instances/static/lighttpd.conf"
LUA = "/etc/lighttpd/instances/edge/inference.lua"
EXPORTER = "/usr/local/lib/lighttpd-edge-exporter.py"
CA_COPY = "/usr/local/share/lighttpd-edge/ca.pem"
DROPIN_DIR = "/etc/systemd/system/tfserving.service.d"
IP_FILTER = DROPIN_DIR + "/50-ip-filter.conf"
STRAY_LOG = "/var/log/lighttpd-edge/stray.log"
# The edge's account can write in its log directory: a link it plants there must not make the run
# hand the link's target to it (before 0.8.0 the recursive owner change followed links).
PLANTED = "/var/log/lighttpd-edge/planted"
SECRET = "/root/lts-drift-secret"


def comparisons(output):
    """The paths the roles' file_states comparisons found different, with the reasons (the run's
    results printed as JSON with -v)."""
    differ, decoder = {}, json.JSONDecoder()
    for start in [m.end() for m in re.finditer(r"^ok: \[stack1\] => ", output, re.M)]:
        try:
            result, _ = decoder.raw_decode(output, start)
        except ValueError:
            continue
        if isinstance(result, dict) and "same" in result and "differ" in result:
            differ.update(result["differ"])
    return differ


def state(path):
    """sha1, mode, owner and group of PATH on stack1 (None when it is missing)."""
    out = host("stack1").run("stat -c '%%a %%U %%G' %s && (sha1sum %s 2>/dev/null || echo dir)" % (path, path))
    return None if out.rc else out.stdout.split()[:4]


def test_a_run_puts_back_what_was_changed_by_hand():
    stack1 = host("stack1")
    paths = [LOGROTATE, STATIC_CONF, LUA, EXPORTER, CA_COPY, DROPIN_DIR]
    before = {path: state(path) for path in paths}
    assert all(before.values()), before
    log_owner = stack1.file("/var/log/lighttpd-edge").user
    assert log_owner != "root"

    stack1.check_output(" && ".join([
        "echo '# edited by hand' >> %s" % LOGROTATE,      # content
        "echo '# edited by hand' >> %s" % STATIC_CONF,    # content of a validated, per-instance file
        "chmod 0644 %s" % LUA,                            # mode
        "chown nobody %s" % EXPORTER,                     # owner
        "rm %s" % CA_COPY,                                # a file gone
        "chmod 0700 %s" % DROPIN_DIR,                     # a directory's mode
        "printf '[Service]\\n' > %s" % IP_FILTER,         # a path that must not be there
        "touch %s && chown root:root %s" % (STRAY_LOG, STRAY_LOG),  # an owner below a directory
        "touch %s && chmod 0600 %s && ln -s %s %s" % (SECRET, SECRET, SECRET, PLANTED),
        # Since 0.8.0 the units' states are read once too (systemd_units_ready).
        # (Not the exporter: its file's owner changed above, and the handler that restarts it for
        # that starts it before its enable-and-start task.)
        "systemctl stop tfserving-metrics-relay.service",
        "systemctl disable --quiet tfserving-firewall.service",
    ]))

    code, output = run_playbook("converge.yml", "--limit", "stack1", "-v", env={"ANSIBLE_CALLBACK_RESULT_FORMAT": "json"})
    assert code == 0, output[-3000:]
    assert comparisons(output) == {
        LOGROTATE: "content", STATIC_CONF: "content", LUA: "mode", EXPORTER: "owner", CA_COPY: "missing",
        DROPIN_DIR: "mode", IP_FILTER: "present", "/var/log/lighttpd-edge": "owner below"}
    assert {path: state(path) for path in paths} == before
    assert not stack1.file(IP_FILTER).exists
    assert stack1.file(STRAY_LOG).user == log_owner
    assert (stack1.file(SECRET).user, stack1.file(SECRET).group) == ("root", "root")
    assert stack1.service("tfserving-metrics-relay.service").is_running
    assert stack1.service("tfserving-firewall.service").is_enabled
    changed = "\n".join(changed_tasks(output))
    for task in ["Write the logrotate stanza of each instance", "Write each instance's configuration",
                 "Write the edge's inference script", "Install the edge's metrics exporter",
                 "Copy the fleet CA's certificate to the host", "Create the drop-in directory of tfserving.service",
                 "Remove the systemd allow-list in other modes", "Give each instance's log directory to its account",
                 "Enable and start the relay", "Enable and start the firewall unit"]:
        assert task in changed, task
    stack1.check_output("rm -f %s %s %s" % (STRAY_LOG, PLANTED, SECRET))
