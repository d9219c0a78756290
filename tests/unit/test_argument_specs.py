"""Every role's defaults and meta/argument_specs.yml describe the same variables."""
import os

import pytest
import yaml

ROLES = os.path.join(os.path.dirname(__file__), "..", "..", "roles")


@pytest.mark.parametrize("role", sorted(os.listdir(ROLES)))
def test_defaults_match_argument_specs(role):
    with open(os.path.join(ROLES, role, "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle)
    with open(os.path.join(ROLES, role, "meta", "argument_specs.yml")) as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    assert set(defaults) == set(options), (
        "in defaults only: %s; in argument_specs only: %s"
        % (sorted(set(defaults) - set(options)), sorted(set(options) - set(defaults))))
    for name, spec in options.items():
        assert name.startswith(role + "_"), name
        assert spec.get("description"), name
        if "default" in spec:
            assert spec["default"] == defaults[name], name
