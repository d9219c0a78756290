"""Daily rotation per instance loses no access-log line while requests run."""
import time
import uuid

import pytest

from conftest import RequestLoop, host

EDGE = "edge1"
pytestmark = pytest.mark.units((EDGE, "lighttpd@edge"), (EDGE, "lighttpd@static"))
REQUESTS = 300


def count(agent, instance):
    return int(host(EDGE).check_output(
        "cat /var/log/lighttpd-%s/access.log /var/log/lighttpd-%s/access.log.1 2>/dev/null | grep -c %s || true",
        instance, instance, agent))


def test_stanzas_are_daily_and_signal_the_right_unit():
    for instance in ("edge", "static"):
        stanza = host(EDGE).file("/etc/logrotate.d/lighttpd-%s" % instance).content_string
        assert "daily" in stanza and "compress" in stanza and "maxsize" in stanza
        assert "lighttpd@%s.service" % instance in stanza


def test_rotation_runs_as_the_instances_user():
    # logrotate works in a directory that lighttpd's user can write: as root it could be
    # steered onto other files, so it switches to that user ("su" in the stanza).
    for instance in ("edge", "static"):
        uid = host(EDGE).check_output("id -u lighttpd-%s", instance)
        out = host(EDGE).run("logrotate -d -f /etc/logrotate.d/lighttpd-%s", instance)
        assert "switching euid from 0 to %s" % uid in out.stdout + out.stderr, out.stdout + out.stderr


def test_forced_rotation_during_traffic_loses_nothing():
    agent = "rotation-" + uuid.uuid4().hex[:8]
    loop = RequestLoop("client1", "https://edge1/index.html", count=REQUESTS, interval=0.02,
                       curl_args="-k -A %s" % agent)
    time.sleep(2)
    host(EDGE).check_output("logrotate -f /etc/logrotate.d/lighttpd-edge /etc/logrotate.d/lighttpd-static")
    codes = loop.results()
    failed = [c for c in codes if c != "200"]
    assert len(codes) == REQUESTS and not failed, failed
    assert host(EDGE).file("/var/log/lighttpd-edge/access.log.1").exists
    # lighttpd writes access-log lines in batches (a few seconds, or 8 KiB); wait for them.
    for _ in range(40):
        edge_lines, static_lines = count(agent, "edge"), count(agent, "static")
        if edge_lines >= REQUESTS and static_lines >= REQUESTS:
            break
        time.sleep(0.5)
    print("rotation under load: %d requests, %d edge lines, %d static lines" % (len(codes), edge_lines, static_lines))
    assert edge_lines == REQUESTS
    assert static_lines == REQUESTS
