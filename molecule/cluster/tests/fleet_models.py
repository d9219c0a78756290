"""The model list after test_20's roll-out of version 124 (test_30's converges keep it)."""
import os

BASE = os.path.join(os.environ.get("MOLECULE_PROJECT_DIRECTORY", ""), "tests/models/half_plus_two_2_versions")
ROLLED_OUT = {"tfserving_models": [{
    "name": "half_plus_two", "version_policy": {"specific": [123, 124]},
    "labels": {"stable": 123, "canary": 124},
    "versions": [{"version": 123, "src": BASE + "/00000123"}, {"version": 124, "src": BASE + "/00000124"}]}]}
