"""Release metadata a Galaxy or Automation Hub review reads (issue 27): the changelog is valid
(antsibull-changelog lint), it holds a release for galaxy.yml's version or that version's
changes are in fragments, the built tarball ships CHANGELOG.rst, and no plugin claims a
version_added above galaxy.yml's version."""
import ast
import glob
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

# Independent of ansible-core: `make unit` runs it; `make compat` leaves it out of its per-core runs.
pytestmark = pytest.mark.core_independent

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tool(name):
    return shutil.which(name) or os.path.join(os.path.dirname(sys.executable), name)


def version_tuple(text):
    return tuple(int(p) for p in str(text).split("."))


def galaxy_version():
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        return yaml.safe_load(handle)["version"]


def test_no_version_added_above_the_collection_version():
    above = []
    for path in glob.glob(os.path.join(ROOT, "plugins", "**", "*.py"), recursive=True) + glob.glob(
            os.path.join(ROOT, "plugins", "**", "*.yml"), recursive=True) + glob.glob(
            os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")):
        with open(path) as handle:
            for found in re.findall(r"version_added:\s*['\"]?([0-9.]+)", handle.read()):
                if version_tuple(found) > version_tuple(galaxy_version()):
                    above.append("%s: %s" % (os.path.relpath(path, ROOT), found))
    assert not above, "version_added above galaxy.yml's %s: %s" % (galaxy_version(), above)


def test_the_changelog_is_valid_and_covers_the_version():
    if not os.path.exists(tool("antsibull-changelog")):
        # make compat's per-core environments carry only what the other tests need; `make unit`
        # (requirements.txt, antsibull-changelog pinned) runs this test.
        pytest.skip("antsibull-changelog is not installed in this environment")
    lint = subprocess.run([tool("antsibull-changelog"), "lint"], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout + lint.stderr
    changes = subprocess.run([tool("antsibull-changelog"), "lint-changelog-yaml", "changelogs/changelog.yaml"],
                             cwd=ROOT, capture_output=True, text=True)
    assert changes.returncode == 0 and not changes.stdout.strip(), changes.stdout + changes.stderr
    with open(os.path.join(ROOT, "changelogs", "changelog.yaml")) as handle:
        releases = yaml.safe_load(handle).get("releases") or {}
    assert releases, "changelogs/changelog.yaml has no release"
    newest = max(releases, key=version_tuple)
    assert version_tuple(newest) <= version_tuple(galaxy_version())
    if version_tuple(newest) < version_tuple(galaxy_version()):  # the next release's changes wait in fragments
        assert glob.glob(os.path.join(ROOT, "changelogs", "fragments", "*.yml"))
    with open(os.path.join(ROOT, "CHANGELOG.rst")) as handle:
        assert "v%s" % newest in handle.read()
    with open(os.path.join(ROOT, "README.md")) as handle:
        assert "CHANGELOG.rst" in handle.read(), "the README links the changelog"


def test_every_role_and_plugin_is_announced_in_the_release_of_its_version_added():
    """Each role (meta/argument_specs.yml) and filter appears as new in the changelog release
    that its version_added names, as antsibull-changelog's "New Roles" / "New Plugins"."""
    with open(os.path.join(ROOT, "changelogs", "changelog.yaml")) as handle:
        releases = yaml.safe_load(handle).get("releases") or {}
    announced = {}
    for version, release in releases.items():
        for role in (release.get("objects") or {}).get("role", []):
            announced["role " + role["name"]] = version
        for kind, plugins in (release.get("plugins") or {}).items():
            for plugin in plugins:
                announced["%s %s" % (kind, plugin["name"])] = version
    expected = {}
    for spec in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")):
        with open(spec) as handle:
            main = yaml.safe_load(handle)["argument_specs"]["main"]
        expected["role " + spec.split(os.sep)[-3]] = str(main["version_added"])
    for source in glob.glob(os.path.join(ROOT, "plugins", "filter", "*.py")):
        with open(source) as handle:
            tree = ast.parse(handle.read())
        for node in tree.body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DOCUMENTATION":
                data = yaml.safe_load(node.value.value)
                expected["filter " + data["name"]] = str(data["version_added"])
    wrong = {name: (version, announced.get(name)) for name, version in expected.items()
             if announced.get(name) != version}
    assert expected and not wrong, "announced in another release (or not at all): %s" % wrong
