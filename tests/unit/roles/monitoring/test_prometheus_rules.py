# -*- coding: utf-8 -*-
"""The shipped Prometheus rules, rendered with the monitoring role's default thresholds:
`promtool check rules` and `promtool test rules tests/prometheus/rules_test.yml` (every alert
fires in one case and stays silent in another). promtool comes from Debian's prometheus
package, unpacked into .cache/prometheus by `make promtool` (a dependency of `make unit`)."""
import os
import shutil
import subprocess

import jinja2
import pytest
import yaml

# Independent of ansible-core: `make unit` runs it; `make compat` leaves it out of its per-core runs.
pytestmark = pytest.mark.core_independent

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
ROLE = os.path.join(ROOT, "roles", "monitoring")
RULES = "lighttpd_tensorflow_serving.rules.yml"


def promtool():
    path = os.environ.get("PROMTOOL") or os.path.join(ROOT, ".cache", "prometheus", "usr", "bin", "promtool")
    if not os.path.exists(path):
        path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool not found: run `make promtool` (or set PROMTOOL)")
    return path


def render(overrides=None):
    with open(os.path.join(ROLE, "defaults", "main.yml")) as handle:
        values = yaml.safe_load(handle)
    values.update(overrides or {})
    # Ansible's template settings: trim_blocks, keep the trailing newline.
    env = jinja2.Environment(trim_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    with open(os.path.join(ROLE, "templates", RULES + ".j2")) as handle:
        return env.from_string(handle.read()).render(ansible_managed="test", **values)


def run(*args):
    proc = subprocess.run([promtool()] + list(args), capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def test_rules_are_valid_and_every_alert_behaves_as_its_tests_say(tmp_path):
    (tmp_path / RULES).write_text(render())
    shutil.copy(os.path.join(ROOT, "tests", "prometheus", "rules_test.yml"), tmp_path / "rules_test.yml")
    code, out = run("check", "rules", str(tmp_path / RULES))
    assert code == 0, out
    code, out = run("test", "rules", str(tmp_path / "rules_test.yml"))
    assert code == 0, out


def test_every_alert_has_a_firing_and_a_silent_case():
    rules = yaml.safe_load(render())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    with open(os.path.join(ROOT, "tests", "prometheus", "rules_test.yml")) as handle:
        tests = yaml.safe_load(handle)["tests"]
    fires, silent = set(), set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    assert alerts == fires, alerts ^ fires
    assert alerts == silent, alerts ^ silent


def test_thresholds_come_from_the_variables():
    text = render({"monitoring_edge_5xx_ratio": 0.2, "monitoring_edge_5xx_for": "30s", "monitoring_rate_window": "1m"})
    rules = yaml.safe_load(text)
    alert = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "LighttpdEdgeHigh5xxRatio"][0]
    assert alert["expr"] == "instance:lighttpd_edge_5xx:ratio > 0.2" and alert["for"] == "30s"
    assert "[1m]" in text and "[5m]" not in text
