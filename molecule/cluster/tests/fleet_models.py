"""The model list after test_20's roll-out of version 124 (test_30's converges keep it), and
model m (the prediction cache's, test_35) as the scenario defines it."""
import os

MODELS = os.path.join(os.environ.get("MOLECULE_PROJECT_DIRECTORY", ""), "tests/models")
BASE = MODELS + "/half_plus_two_2_versions"
HALF_PLUS_TWO = {
    "name": "half_plus_two", "version_policy": {"specific": [123, 124]},
    "labels": {"stable": 123, "canary": 124},
    "versions": [{"version": 123, "src": BASE + "/00000123"}, {"version": 124, "src": BASE + "/00000124"}]}
M_VERSION_1 = {"version": 1, "src": MODELS + "/half_plus_two_cpu/00000123"}
M_VERSION_2 = {"version": 2, "src": MODELS + "/half_plus_three/00000123"}
M = {"name": "m", "version_policy": {"specific": [1]}, "labels": {"stable": 1}, "versions": [M_VERSION_1]}
ROLLED_OUT = {"tfserving_models": [HALF_PLUS_TWO, M]}
