"""The filter wrappers: every filter is registered, documented, and raises AnsibleFilterError."""
import importlib
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

FILTER_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "filter")
NAMES = sorted(f[:-3] for f in os.listdir(FILTER_DIR) if f.endswith(".py") and not f.startswith("_"))


def load(name):
    return importlib.import_module("ansible_collections.lighttpd_tensorflow.serving.plugins.filter." + name)


def test_every_expected_filter_exists():
    assert NAMES == sorted([
        "lighttpd_connection_limits", "lighttpd_kernel_settings", "lighttpd_listen", "lighttpd_tls_settings", "logrotate_policy", "tfserving_batching",
        "lighttpd_certificate_names", "lighttpd_certificate_renewal_reason",
        "tfserving_batching_config", "tfserving_models_config", "tfserving_monitoring_config", "fleet_addresses", "check_variables",
        "tfserving_threads", "edge_cache_plan", "edge_backends", "edge_cache_route", "check_relations",
        "metrics_listen", "scrape_targets", "tfserving_held_models", "tfserving_label_moves",
            "tfserving_expected_versions", "tfserving_expected_labels", "tfserving_versions_above_declared", "model_version_dirs",
            "systemd_units_ready"])


@pytest.mark.parametrize("name", NAMES)
def test_filter_is_documented_and_registered(name):
    module = load(name)
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["name"] == name
    assert doc["short_description"] and doc["description"]
    assert all(isinstance(line, str) for line in doc["description"])
    assert all(isinstance(opt["description"], str) for opt in doc["options"].values())
    assert "_input" in doc["options"]
    assert yaml.safe_load(module.RETURN)["_value"]["description"]
    assert name in module.EXAMPLES
    assert list(module.FilterModule().filters()) == [name]


@pytest.mark.parametrize("name, args", [
    ("tfserving_threads", (0,)),
    ("tfserving_batching", (2, "tpu")),
    ("lighttpd_connection_limits", (1024, "x")),
    ("lighttpd_tls_settings", ("weak", "1.4.69", "3.0.0")),
    ("logrotate_policy", (1, 1)),
    ("tfserving_models_config", ([{"name": "a b", "base_path": "/x"}],)),
    ("tfserving_batching_config", ({},)),
    ("tfserving_monitoring_config", ("relative",)),
    ("fleet_addresses", (["h"], {"h": {}})),
    ("edge_backends", ([], {}, "edge", "tfs1", 8501)),
    ("check_variables", ({"x": "no_such_rule"}, {"x": 1})),
    ("metrics_listen", ("varnish", [], "h")),
    ("scrape_targets", ({"j": {"component": "lighttpd", "group": "g", "prefix": "p", "enabled": [], "state": "s"}},
                        {"g": ["h"]}, {"h": {}}, "m")),
])
def test_bad_input_raises_ansible_filter_error_naming_the_filter(name, args):
    func = load(name).FilterModule().filters()[name]
    with pytest.raises(AnsibleFilterError, match="^%s: " % name):
        func(*args)


def test_wrong_arguments_raise_ansible_filter_error():
    func = load("tfserving_threads").FilterModule().filters()["tfserving_threads"]
    with pytest.raises(AnsibleFilterError, match="tfserving_threads: "):
        func(2, bogus=True)
