"""The whole stack on one host: predictions through the edge over HTTPS, REST confined."""
import json
import re

import pytest

from conftest import host

STACK, CLIENT = "stack1", "client1"
pytestmark = pytest.mark.units((STACK, "tfserving"), (STACK, "lighttpd@edge"))
PREDICT = "https://stack1/v1/models/half_plus_two:predict"


def test_prediction_through_the_edge_over_https():
    out = host(CLIENT).check_output("curl -skf -d '{\"instances\": [1.0, 2.0, 5.0]}' %s", PREDICT)
    assert json.loads(out) == {"predictions": [2.5, 3.0, 4.5]}


def test_label_and_metadata_through_the_edge():
    out = host(CLIENT).check_output("curl -skf https://stack1/v1/models/half_plus_two/labels/stable")
    assert json.loads(out)["model_version_status"][0]["state"] == "AVAILABLE"
    meta = json.loads(host(CLIENT).check_output("curl -skf https://stack1/v1/models/half_plus_two/metadata"))
    assert meta["model_spec"]["name"] == "half_plus_two"


def test_edge_proxies_over_loopback_first_and_the_other_model_server_as_fall_back():
    conf = host(STACK).file("/etc/lighttpd/instances/edge/lighttpd.conf").content_string
    other = host("stack2").check_output("hostname -I").split()[0]
    # Each backend is named HOST:PORT (lighttpd's statistics and the metrics use the name).
    backends = re.findall(r'^\s*"([^"]+)" => \("host" => "([^"]+)", "port" => (\d+)', conf, re.M)
    assert backends == [("127.0.0.1:8501", "127.0.0.1", "8501"), ("%s:8501" % other, other, "8501")], backends


def test_rest_port_refused_from_the_network_and_metrics_not_exposed():
    assert host(CLIENT).run("curl -s -m 5 http://stack1:8501/v1/models/half_plus_two").rc == 7
    code = host(CLIENT).check_output(
        "curl -sk -o /dev/null -w '%{http_code}' https://stack1/monitoring/prometheus/metrics")
    assert code == "403"
    assert "request_count" in host(STACK).check_output(
        "curl -sf http://127.0.0.1:8501/monitoring/prometheus/metrics")
