"""Every role's defaults and meta/argument_specs.yml describe the same variables."""
import os
import re

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
    # ansible-doc shows what the role does: every default as defaults/main.yml has it (a
    # missing `default:` reads as null), and a computed one (a template) says in words how.
    wrong = sorted(name for name, spec in options.items() if spec.get("default") != defaults[name])
    assert not wrong, "argument_specs default differs from defaults/main.yml: %s" % wrong
    unexplained = sorted(
        name for name, spec in options.items()
        if "{{" in str(defaults[name]) and not {"computed", "default"} & set(re.findall(r"[a-z]+", " ".join(
            spec["description"] if isinstance(spec["description"], list) else [spec["description"]]).lower())))
    assert not unexplained, "a computed default whose description does not say how it is computed: %s" % unexplained
