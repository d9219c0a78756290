"""Which model version directories the tfserving role removes (tuning.version_dirs_to_remove).

Under `latest` (the default policy) or `all`, TF Serving serves the newest directories on disk.
A roll-back lowers the inventory's newest version: before this, the newer directory stayed on
disk (prune keeps the newest tfserving_model_versions_keep), TF Serving kept serving it and the
role's wait for the declared version failed on every run (a cluster re-converge after its
roll-out tests: "versions [123] AVAILABLE ... versions reported: 124 AVAILABLE")."""
from hypothesis import given, settings, strategies as st

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning


def model(name, policy=None, labels=None):
    return {"name": name, "base_path": "/srv/models/%s" % name, "version_policy": policy, "labels": labels or {}}


def dirs(name, *versions):
    return ["/srv/models/%s/%s" % (name, v) for v in versions]


def found(on_disk):
    """{model: [paths]} as ansible.builtin.find's results, looped over the models."""
    return [{"item": {"name": name}, "files": [{"path": path} for path in paths]} for name, paths in on_disk.items()]


def test_a_roll_back_under_latest_removes_the_newer_directory_before_the_config():
    models = [model("h")]
    on_disk = {"h": dirs("h", 122, 123, 124)}
    assert tuning.version_dirs_to_remove(models, [{"name": "h", "version": 123}], found(on_disk)) == dirs("h", 124)


def test_all_is_rolled_back_the_same_way_and_a_labelled_newer_version_stays():
    models = [model("a", "all"), model("l", {"latest": 2}, {"next": 9})]
    versions = [{"name": "a", "version": 2}, {"name": "l", "version": 5}]
    on_disk = {"a": dirs("a", 1, 2, 3), "l": dirs("l", 4, 5, 8, 9)}
    assert tuning.version_dirs_to_remove(models, versions, found(on_disk)) == dirs("a", 3) + dirs("l", 8)


def test_specific_versions_and_models_without_declared_versions_are_left_alone():
    models = [model("s", {"specific": [1]}), model("u")]
    on_disk = {"s": dirs("s", 1, 2, 3), "u": dirs("u", 1, 7)}
    assert tuning.version_dirs_to_remove(models, [{"name": "s", "version": 1}], found(on_disk)) == []


def test_prune_keeps_the_newest_and_every_expected_version_and_ignores_other_entries():
    models = [model("m", {"specific": [1]}, {"stable": 2})]
    on_disk = {"m": dirs("m", 1, 2, 3, 4, 5, 6) + ["/srv/models/m/notes", "/srv/models/m/0"]}
    assert tuning.version_dirs_to_remove(models, [{"name": "m", "version": 6}], found(on_disk), keep=3) == dirs("m", 3)


def test_leading_zeros_name_the_same_version():
    assert tuning.version_dirs_to_remove([model("z")], [{"name": "z", "version": 1}],
                                         found({"z": ["/srv/models/z/0001", "/srv/models/z/0002"]})) == ["/srv/models/z/0002"]


POLICIES = st.sampled_from([None, "all", {"latest": 1}, {"latest": 2}, {"specific": [1]}, {"specific": [2, 3]}])


@settings(max_examples=500, deadline=None)
@given(policy=POLICIES, on_disk=st.sets(st.integers(1, 9), max_size=7), declared=st.sets(st.integers(1, 9), max_size=3),
       labels=st.dictionaries(st.sampled_from(["stable", "canary"]), st.integers(1, 9), max_size=2),
       keep=st.integers(1, 4))
def test_what_is_left_is_what_tf_serving_must_serve(policy, on_disk, declared, labels, keep):
    models = [model("m", policy, labels)]
    versions = [{"name": "m", "version": v} for v in sorted(declared)]
    expected = set(tuning.expected_versions(models, versions)["m"])
    # The role deploys every declared version; labelled and specific ones are on disk too (else
    # its wait fails first).
    paths = {"m": dirs("m", *sorted(on_disk | declared | expected))}
    rolled_back = tuning.version_dirs_to_remove(models, versions, found(paths))
    left = {int(p.rsplit("/", 1)[1]) for p in paths["m"] if p not in rolled_back}
    # Nothing declared, labelled or specific goes; under latest or all the newest left is the
    # newest declared (or a labelled one), so TF Serving serves what the role waits for.
    assert expected <= left and declared <= left
    if declared and "specific" not in tuning.normalize_models(models)[0]["version_policy"]:
        assert max(left) == max({max(declared)} | {v for v in expected if v > max(declared)})
    else:
        assert rolled_back == []
    pruned = tuning.version_dirs_to_remove(models, versions, found(paths), keep=keep)
    assert set(rolled_back) <= set(pruned)
    after = left - {int(p.rsplit("/", 1)[1]) for p in pruned}
    assert expected <= after and set(sorted(left)[-keep:]) <= after
    assert len(after) <= keep + len(expected)
