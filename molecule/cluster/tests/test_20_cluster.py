"""One edge, two model servers: balancing, confinement, failover, roll-outs and restarts."""
import json
import re
import time

import pytest

from conftest import RequestLoop, host, run_playbook
from fleet_models import ROLLED_OUT

EDGE = "edge1"
pytestmark = pytest.mark.units(("tfs1", "tfserving"), ("tfs2", "tfserving"), (EDGE, "lighttpd@edge"))
PREDICT = "https://edge1/v1/models/half_plus_two:predict"
BODY = "-k -d '{\"instances\": [1.0]}'"


def served(name):
    """Predictions a model server has answered (its own Prometheus counter)."""
    out = host(name).check_output("curl -sf http://127.0.0.1:8501/monitoring/prometheus/metrics")
    match = re.search(r'request_count\{model_name="half_plus_two",status="OK"\} (\d+)', out)
    return int(match.group(1)) if match else 0


def failures(codes):
    return [c for c in codes if c != "200"]


def test_prediction_through_the_edge_over_https():
    out = host("tfs2").check_output("curl -skf -d '{\"instances\": [1.0, 2.0, 5.0]}' %s", PREDICT)
    assert json.loads(out) == {"predictions": [2.5, 3.0, 4.5]}


def test_requests_are_balanced_across_both_model_servers():
    before = {name: served(name) for name in ("tfs1", "tfs2")}
    urls = " ".join([PREDICT] * 60)
    host(EDGE).check_output("curl -sfk -Z --parallel-max 6 -o /dev/null -d '{\"instances\": [1.0]}' %s" % urls)
    counts = {name: served(name) - before[name] for name in ("tfs1", "tfs2")}
    print("balanced over the model servers: %s" % counts)
    assert sum(counts.values()) == 60
    assert all(count > 0 for count in counts.values()), counts


def test_rest_port_only_reachable_from_the_edge():
    assert host(EDGE).run("curl -sf -m 5 http://tfs1:8501/v1/models/half_plus_two").rc == 0
    assert host("tfs2").run("curl -s -m 5 http://tfs1:8501/v1/models/half_plus_two").rc == 7
    assert host("tfs1").run("curl -s -m 5 http://tfs2:8501/v1/models/half_plus_two").rc == 7


def test_killing_a_model_server():
    """SIGKILL one model server under load: report the failures; it is back within seconds."""
    loop = RequestLoop("tfs2", PREDICT, count=200, interval=0.02, curl_args=BODY)
    time.sleep(1)
    host("tfs1").check_output("systemctl kill -s KILL tfserving")
    killed = time.time()
    back = None
    for _ in range(60):
        if host("tfs1").run("curl -sf http://127.0.0.1:8501/v1/models/half_plus_two").rc == 0:
            back = time.time() - killed
            break
        time.sleep(0.5)
    codes = loop.results()
    print("SIGKILL of tfs1: %d requests, %d failed %s, back after %.1f s"
          % (len(codes), len(failures(codes)), sorted(set(failures(codes))), back or -1))
    assert back is not None and back < 15
    # Only requests in flight on the killed server can fail (lighttpd retries refused connects).
    assert len(failures(codes)) <= 3, failures(codes)


def test_rolling_restart_loses_no_request():
    pids = {n: host(n).check_output("systemctl show -p MainPID --value tfserving") for n in ("tfs1", "tfs2")}
    loop = RequestLoop("tfs2", PREDICT, count=600, interval=0.02, curl_args=BODY)
    code, output = run_playbook("../../playbooks/rolling_restart.yml")
    assert code == 0, output[-3000:]
    codes = loop.results()
    print("rolling restart: %d requests, %d failed, %d retried after GOAWAY"
          % (len(codes), len(failures(codes)), loop.retried_after_goaway))
    assert not failures(codes)
    for name in ("tfs1", "tfs2"):
        assert host(name).check_output("systemctl show -p MainPID --value tfserving") != pids[name]


def test_deploy_models_rolls_out_version_124_without_failed_requests():
    loop = RequestLoop("tfs2", PREDICT, count=400, interval=0.02, curl_args=BODY)
    code, output = run_playbook("../../playbooks/deploy_models.yml", extra_vars=ROLLED_OUT)
    assert code == 0, output[-3000:]
    codes = loop.results()
    print("deploy_models (version 124): %d requests, %d failed, %d retried after GOAWAY"
          % (len(codes), len(failures(codes)), loop.retried_after_goaway))
    assert not failures(codes)
    out = host("tfs2").check_output("curl -skf https://edge1/v1/models/half_plus_two/labels/canary")
    assert json.loads(out)["model_version_status"][0]["version"] == "124"
