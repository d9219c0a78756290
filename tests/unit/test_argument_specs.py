"""Every role's defaults and meta/argument_specs.yml describe the same variables."""
import os
import re

import pytest
import yaml

ROLES = os.path.join(os.path.dirname(__file__), "..", "..", "roles")


# The internal `common` role has no variables of its own for users (constants, shared tasks).
PUBLIC_ROLES = sorted(r for r in os.listdir(ROLES) if r != "common")


@pytest.mark.parametrize("role", PUBLIC_ROLES)
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


@pytest.mark.parametrize("role", PUBLIC_ROLES)
def test_every_entry_point_is_a_task_file_whose_options_are_the_roles(role):
    """Each entry point in meta/argument_specs.yml (what include_role's tasks_from validates
    against) exists as tasks/NAME.yml, and declares only variables of the role's defaults, with
    the same default."""
    with open(os.path.join(ROLES, role, "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle)
    with open(os.path.join(ROLES, role, "meta", "argument_specs.yml")) as handle:
        specs = yaml.safe_load(handle)["argument_specs"]
    for entry, spec in specs.items():
        assert os.path.exists(os.path.join(ROLES, role, "tasks", entry + ".yml")), entry
        for name, option in (spec.get("options") or {}).items():
            assert name in defaults, (entry, name)
            assert option.get("default") == defaults[name], (entry, name)


def test_the_cache_has_its_entry_points():
    with open(os.path.join(ROLES, "edge_cache", "meta", "argument_specs.yml")) as handle:
        assert set(yaml.safe_load(handle)["argument_specs"]) == {"main", "versions", "absent"}


def test_the_certificate_role_has_its_entry_points():
    with open(os.path.join(ROLES, "edge_certificate", "meta", "argument_specs.yml")) as handle:
        assert set(yaml.safe_load(handle)["argument_specs"]) == {"main", "obtain", "absent"}
