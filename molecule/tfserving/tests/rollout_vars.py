"""The model definition after the roll-out of version 124 (used by the roll-out and later tests)."""
import os

MODELS = os.path.join(os.environ.get("MOLECULE_PROJECT_DIRECTORY", "."), "tests/models/half_plus_two_2_versions")
ROLLED_OUT = {"tfserving_models": [{
    "name": "half_plus_two",
    "version_policy": {"specific": [123, 124]},
    "labels": {"stable": 123, "canary": 124},
    "versions": [{"version": 123, "src": MODELS + "/00000123"},
                 {"version": 124, "src": MODELS + "/00000124"}],
}]}
