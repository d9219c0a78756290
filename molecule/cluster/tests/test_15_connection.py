"""tfs2 is reached exactly as inventories/example says a production host is (issue 27): SSH
to its address as the unprivileged user deploy, sudo for root, pipelining. The scenario's
check, converge and idempotence steps (and every playbook test) ran over that path; this
test shows the path itself."""
import os
import re

from conftest import SCENARIO_DIR, host, run_playbook


def test_tfs2_is_reached_over_ssh_as_an_unprivileged_user_with_sudo_and_pipelining():
    code, output = run_playbook(os.path.join(SCENARIO_DIR, "connection_probe.yml"))
    assert code == 0, output[-3000:]
    probe = re.search(r"PROBE connection=(\S+) login=(\S+) become=(\S+) pipelining=(\S+)", output)
    assert probe and probe.groups() == ("ssh", "deploy", "root", "True"), output[-2000:]
    # The SSH server on tfs2 saw the key-based logins of that user, and deploy is no root.
    journal = host("tfs2").check_output("journalctl -u ssh --no-pager")
    assert re.search(r"Accepted publickey for deploy from ", journal), journal[-2000:]
    assert host("tfs2").check_output("id -u deploy") != "0"
    # The roles did their work there: TF Serving runs under its own account.
    assert host("tfs2").service("tfserving").is_running
