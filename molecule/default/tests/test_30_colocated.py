"""A co-located fleet (every host runs an edge and a model server) keeps serving while it is
restarted and upgraded: every TF Serving restart drains its host, and the local edge fails
over to the other model server while its own is drained."""
import json

import pytest

from conftest import RequestLoop, host, run_playbook

HOSTS = ("stack1", "stack2")
CLIENT = "client1"
BODY = "-k -d '{\"instances\": [1.0]}'"
pytestmark = pytest.mark.units(*[(name, unit) for name in HOSTS for unit in ("tfserving", "lighttpd@edge")])


def tfserving_pids():
    return {name: host(name).check_output("systemctl show -p MainPID --value tfserving") for name in HOSTS}


def under_load(playbook, **kwargs):
    """Run PLAYBOOK while the client loops through both edges; return the failed answers."""
    loops = [RequestLoop(CLIENT, "https://%s/v1/models/half_plus_two:predict" % name, count=2500,
                         interval=0.02, curl_args=BODY) for name in HOSTS]
    code, output = run_playbook(playbook, **kwargs)
    assert code == 0, output[-3000:]
    failed = {}
    for name, loop in zip(HOSTS, loops):
        codes = loop.results()
        failed[name] = [c for c in codes if c != "200"]
        print("%s through %s: %d requests, %d failed %s, %d retried after GOAWAY"
              % (playbook, name, len(codes), len(failed[name]), sorted(set(failed[name])),
                 loop.retried_after_goaway))
    return failed


# On demand (make test-all): the cluster scenario runs the same playbook under load in make test.
@pytest.mark.on_demand
def test_rolling_restart_of_a_colocated_fleet_loses_no_request():
    before = tfserving_pids()
    failed = under_load("../../playbooks/rolling_restart.yml")
    assert failed == {name: [] for name in HOSTS}
    after = tfserving_pids()
    assert all(after[name] != before[name] for name in HOSTS)


# On demand (make test-all): about 4.5 min; make test keeps the rolling restart above, and the
# tfserving scenario (on demand too) upgrades the package alone.
@pytest.mark.on_demand
def test_upgrade_through_site_yml_drains_every_restart():
    before = tfserving_pids()
    failed = under_load("converge.yml", extra_vars={"tfserving_version": "2.20.1"})
    assert failed == {name: [] for name in HOSTS}
    after = tfserving_pids()
    for name in HOSTS:
        assert after[name] != before[name]
        version = host(name).check_output("dpkg-query -W -f '${Version}' tensorflow-model-server")
        assert version.startswith("2.20.1"), (name, version)
        # No drain rule is left behind (drain rules are the only ones matching "ct state new").
        assert "ct state new" not in host(name).check_output("nft list chain inet tfserving input")
    out = host(CLIENT).check_output("curl -skf -d '{\"instances\": [1.0, 2.0, 5.0]}' "
                                    "https://stack2/v1/models/half_plus_two:predict")
    assert json.loads(out) == {"predictions": [2.5, 3.0, 4.5]}
