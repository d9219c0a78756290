"""Every invalid value in invalid_values.yml is refused at the role's start, naming the
variable, and nothing on the host changes (file checksums and MainPIDs as before).

All cases run in one ansible-playbook (one play per case, the role inside block/rescue),
so the matrix costs one playbook run, not one per case.
"""
import base64
import os
import re
import tempfile

import pytest
import yaml

from conftest import SCENARIO_DIR, host, recap, run_playbook

HOST = "stack1"
FILES = ["/etc/lighttpd/instances/edge/lighttpd.conf", "/etc/lighttpd/instances/static/lighttpd.conf",
         "/etc/systemd/system/lighttpd@.service", "/etc/systemd/system/lighttpd@edge.socket",
         "/etc/tfserving/models.config", "/etc/tfserving/firewall.nft", "/etc/systemd/system/tfserving.service",
         "/etc/apt/preferences.d/tensorflow-model-server", "/etc/lighttpd/instances/edge/inference.lua"]
UNITS = ["lighttpd@edge", "lighttpd@static", "tfserving"]
pytestmark = pytest.mark.units((HOST, "tfserving"), (HOST, "lighttpd@edge"))


def state():
    return ({path: host(HOST).file(path).sha256sum for path in FILES},
            {unit: host(HOST).check_output("systemctl show -p MainPID --value %s", unit) for unit in UNITS})


def matrix_playbook(cases):
    plays = [{"name": "Gather facts once", "hosts": "stack1:stack2", "gather_facts": True, "tasks": []}]
    for number, (role, variable, value) in enumerate(cases):
        plays.append({
            "name": "case %d %s" % (number, variable), "hosts": HOST, "gather_facts": False,
            "vars": {variable: value},
            "tasks": [{"block": [
                {"ansible.builtin.include_role": {"name": "lighttpd_tensorflow.serving." + role}},
                {"ansible.builtin.debug": {"msg": "MATRIX %d NOT-REFUSED" % number}}],
                "rescue": [{"ansible.builtin.debug": {
                    "msg": "MATRIX %d REFUSED {{ (ansible_failed_result.msg | default('')) | b64encode }}" % number}}]}],
        })
    return plays


def test_every_invalid_value_is_refused_naming_the_variable_and_nothing_changes():
    with open(os.path.join(SCENARIO_DIR, "invalid_values.yml")) as handle:
        cases = yaml.safe_load(handle)["cases"]
    assert len(cases) >= 60
    before = state()
    with tempfile.NamedTemporaryFile("w", suffix=".yml", dir=SCENARIO_DIR, delete=False) as playbook:
        yaml.safe_dump(matrix_playbook(cases), playbook)
    try:
        code, output = run_playbook(playbook.name, timeout=1800, env={"ANSIBLE_CALLBACK_RESULT_FORMAT": "json"})
    finally:
        os.unlink(playbook.name)
    assert code == 0, output[-3000:]
    results = {}
    for match in re.finditer(r"MATRIX (\d+) (REFUSED|NOT-REFUSED) ?([A-Za-z0-9+/=]*)", output):
        results[int(match.group(1))] = (match.group(2), base64.b64decode(match.group(3)).decode("utf-8", "replace"))
    problems = []
    for number, (role, variable, value) in enumerate(cases):
        verdict, message = results.get(number, ("MISSING", ""))
        if verdict != "REFUSED":
            problems.append("%s=%r: %s" % (variable, value, verdict))
        elif variable not in message:
            problems.append("%s=%r: refused without naming it: %s" % (variable, value, message[:300]))
    print("%d invalid values, %d refused naming the variable" % (len(cases), len(cases) - len(problems)))
    assert not problems, "\n".join(problems)
    assert recap(output)[HOST]["changed"] == 0, output[-3000:]
    assert state() == before
