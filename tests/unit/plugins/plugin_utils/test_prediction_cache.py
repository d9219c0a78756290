# -*- coding: utf-8 -*-
"""The prediction cache's version table (plugins/plugin_utils/prediction_cache.py): each URL form
of a cached model resolves to the version TF Serving answers it with, per tfserving_models."""
import hashlib
import re

from hypothesis import given, settings, strategies as st

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import prediction_cache as pc

V1 = {"version": 1, "src": "/models/half_plus_two/1"}
V2 = {"version": 2, "src": "/models/half_plus_three/1"}


def recorded(served):
    """What each model server records when it deploys SERVED (one tfserving_models list per
    server): a digest per declared version, standing for its files (here: its src)."""
    return [{"server": "tfs%d" % number, "digests": [
        {"name": m["name"], "version": v["version"], "deployed": True,
         "digest": hashlib.sha256(v["src"].encode()).hexdigest()}
        for m in models for v in m.get("versions") or []]} for number, models in enumerate(served)]


def cache_plan(cache_models, served, *args, **kwargs):
    """The plan, every declared version deployed and recorded alike on every model server."""
    return pc.cache_plan(cache_models, served, *args, digests=recorded(served), **kwargs)


def forms(plan):
    return {f["path"]: (f["fetch"], f["key"].split("/")[1]) for f in plan[0]["forms"]}


def test_labels_model_and_versions_resolve_to_declared_versions():
    m = {"name": "m", "version_policy": {"specific": [1, 2]}, "labels": {"stable": 1, "canary": 2}, "versions": [V1, V2]}
    plan = cache_plan([{"model": "m"}], [[m], [m]])
    assert forms(plan) == {
        "/v1/models/m": ("/v1/models/m/versions/2", "2"),
        "/v1/models/m/labels/canary": ("/v1/models/m/versions/2", "2"),
        "/v1/models/m/labels/stable": ("/v1/models/m/versions/1", "1"),
        "/v1/models/m/versions/1": ("/v1/models/m/versions/1", "1"),
        "/v1/models/m/versions/2": ("/v1/models/m/versions/2", "2")}
    assert plan[0]["routes"] == ["predict"]


def test_moving_a_label_changes_its_key_and_the_keys_stay_per_version():
    before = {"name": "m", "version_policy": {"specific": [1, 2]}, "labels": {"stable": 1}, "versions": [V1, V2]}
    after = dict(before, labels={"stable": 2})
    key = {name: {f["path"]: f["key"] for f in cache_plan([{"model": "m"}], [[m]])[0]["forms"]}
           for name, m in (("before", before), ("after", after))}
    assert key["before"]["/v1/models/m/labels/stable"] == key["before"]["/v1/models/m/versions/1"]
    assert key["after"]["/v1/models/m/labels/stable"] == key["after"]["/v1/models/m/versions/2"]
    assert key["before"]["/v1/models/m/versions/1"] == key["after"]["/v1/models/m/versions/1"]


def digests(*per_server):
    """Reports of model servers: each a {(name, version): digest or None} (None: deployed, no record)."""
    return [{"server": "tfs%d" % n, "digests": [{"name": name, "version": version, "deployed": True, "digest": d}
                                                for (name, version), d in report.items()]}
            for n, report in enumerate(per_server)]


A, B = "a" * 64, "b" * 64
M1 = {"name": "m", "version_policy": {"specific": [1]}, "labels": {"stable": 1}, "versions": [V1]}


def test_other_files_under_the_same_version_number_are_another_key():
    # Issue 29, item 11: the key held a fingerprint of the src string, so files changed in place at
    # the same src, deployed anew under the same version number, shared the old files' entries.
    keys = [{f["key"] for f in pc.cache_plan([{"model": "m"}], [[M1]] * 2, digests=digests(*[{("m", 1): d}] * 2))[0]["forms"]}
            for d in (A, B)]
    assert keys == [{"m/1/" + A[:16]}, {"m/1/" + B[:16]}]


def test_a_version_the_model_servers_hold_different_files_for_is_not_cached():
    for reports in (digests({("m", 1): A}, {("m", 1): B}), digests({("m", 1): A}, {("m", 1): None}),
                    digests({("m", 1): A}, {("m", 1): "not hex"})):
        assert pc.cache_plan([{"model": "m"}], [[M1]] * 2, digests=reports) == [
            {"name": "m", "routes": ["predict"], "forms": []}]
    messages = pc.cache_disagreements([{"model": "m"}], digests({("m", 1): A}, {("m", 1): B}, {("m", 1): A}))
    assert messages == ["edge_cache_models: model m version 1 is not cached: the model servers hold different files "
                        "(%s on tfs0, tfs2; %s on tfs1); publish changed files as a new version number" % (A[:16], B[:16])]
    assert "without a recorded content digest on tfs1" in pc.cache_disagreements(
        [{"model": "m"}], digests({("m", 1): A}, {("m", 1): None}))[0]
    assert pc.cache_disagreements([{"model": "other"}], digests({("m", 1): A}, {("m", 1): B})) == []


def test_a_version_no_model_server_has_deployed_is_not_cached_and_an_unreachable_one_is_left_out():
    assert pc.cache_plan([{"model": "m"}], [[M1]] * 2, digests=[]) == [{"name": "m", "routes": ["predict"], "forms": []}]
    not_yet = [{"server": "tfs0", "digests": [{"name": "m", "version": 1, "deployed": False, "digest": None}]}]
    assert pc.cache_plan([{"model": "m"}], [[M1]] * 2, digests=not_yet)[0]["forms"] == []
    assert pc.cache_disagreements([{"model": "m"}], not_yet) == [
        "edge_cache_models: model m version 1 is not cached: no model server that answered has deployed it (yet)"]
    # tfs1 could not be asked (no report): what the others recorded decides.
    assert {f["key"] for f in pc.cache_plan([{"model": "m"}], [[M1]] * 2, digests=digests({("m", 1): A}))[0]["forms"]} \
        == {"m/1/" + A[:16]}


REPORT = st.lists(st.tuples(st.sampled_from([1, 2]), st.booleans(), st.sampled_from([A, B, None, "zz"])), max_size=3)


@settings(max_examples=300, deadline=None)
@given(st.lists(REPORT, max_size=4))
def test_a_version_is_cached_exactly_when_every_server_that_has_it_recorded_one_digest(fleet):
    m = {"name": "m", "version_policy": {"specific": [1, 2]}, "versions": [V1, V2]}
    reports = [{"server": "tfs%d" % n, "digests": [{"name": "m", "version": v, "deployed": deployed, "digest": d}
                                                   for v, deployed, d in report]}
               for n, report in enumerate(fleet)]
    plan = pc.cache_plan([{"model": "m"}], [[m]], digests=reports)
    keys = {f["version"]: f["key"] for f in plan[0]["forms"]}
    for version in (1, 2):
        recorded_digests = [d for report in fleet for v, deployed, d in report if v == version and deployed]
        one = len(set(recorded_digests)) == 1 and recorded_digests[0] in (A, B)
        assert (version in keys) == one, (version, recorded_digests, keys)
        if one:
            assert keys[version] == "m/%d/%s" % (version, recorded_digests[0][:16])


def test_version_dirs_follow_the_tfserving_roles_paths():
    models = [{"name": "m", "versions": [V1, {"version": 7, "src": "x"}]},
              {"name": "n", "base_path": "/srv/n", "versions": [V2]}, {"name": "o"}]
    assert pc.version_dirs(models, "/var/lib/tfserving/models") == [
        {"name": "m", "version": 1, "path": "/var/lib/tfserving/models/m/1"},
        {"name": "m", "version": 7, "path": "/var/lib/tfserving/models/m/7"},
        {"name": "n", "version": 2, "path": "/srv/n/2"}]
    assert pc.version_dirs(models, "/x", names=["n"]) == [{"name": "n", "version": 2, "path": "/srv/n/2"}]


def test_undeclared_versions_and_labels_are_not_cached():
    m = {"name": "m", "version_policy": {"specific": [1, 2, 3]}, "labels": {"old": 7, "new": 2}, "versions": [V1, V2]}
    assert forms(cache_plan([{"model": "m", "routes": ["predict", "regress"]}], [[m]])) == {
        "/v1/models/m/labels/new": ("/v1/models/m/versions/2", "2"),
        "/v1/models/m/versions/1": ("/v1/models/m/versions/1", "1"),
        "/v1/models/m/versions/2": ("/v1/models/m/versions/2", "2")}  # the model alone is 3: not declared


def test_latest_and_all_policies_are_refused_and_never_cached():
    # Issue 29: f rolled from 1 to 2 under latest: 1 kept /versions/1 in the table (answered
    # from the cache, 200 HIT) while TF Serving answers it 404; and the model alone resolved to
    # the highest declared version while TF Serving serves the highest directory on disk.
    for policy in (None, {"latest": 1}, {"latest": 2}, {"all": {}}):
        m = {"name": "m", "labels": {"stable": 2}, "versions": [V1, V2]}
        if policy is not None:
            m["version_policy"] = policy
        assert cache_plan([{"model": "m"}], [[m]]) == []
        problems = pc.cache_problems([{"model": "m"}], [[m], [m]])
        assert len(problems) == 1 and problems[0].startswith("edge_cache_models: model m is served with "
                                                            "version_policy "), problems
        assert "specific" in problems[0]


def test_problems_name_the_variable():
    m = {"name": "m", "version_policy": {"specific": [1]}, "versions": [V1]}
    assert pc.cache_problems([{"model": "m"}], [[m], [m]]) == []
    assert pc.cache_problems([{"model": "x"}], [[m]]) == [
        "edge_cache_models: model x is not served by any model server (served: m)"]
    assert "served: none" in pc.cache_problems([{"model": "x"}], [])[0]
    assert "define model m differently" in pc.cache_problems([{"model": "m"}], [[m], [dict(m, labels={"a": 1})]])[0]
    assert cache_plan([{"model": "m"}], [[m], [dict(m, labels={"a": 1})]]) == []


def test_vcl_regex_matches_only_its_path_and_routes():
    regex = re.compile(pc.vcl_regex("/v1/models/my.model/versions/12", ["predict", "classify"]))
    assert regex.match("/v1/models/my.model/versions/12:predict")
    assert regex.match("/v1/models/my.model/versions/0012:classify")
    assert not regex.match("/v1/models/myXmodel/versions/12:predict")
    assert not regex.match("/v1/models/my.model/versions/12:regress")
    assert not regex.match("/v1/models/my.model/versions/123:predict")
    assert not regex.match("/v1/models/my.model/versions/12:predict?x=1")


def test_route_regex_takes_every_form_of_the_cached_routes_and_nothing_else():
    regex = re.compile(pc.route_regex([{"model": "my.model"}, {"model": "f", "routes": ["classify", "regress"]}]))
    for path in ("/v1/models/my.model:predict", "/v1/models/my.model/versions/7:predict",
                 "/v1/models/my.model/labels/stable:predict", "/v1/models/f/versions/0012:regress",
                 "/v1/models/f:classify"):
        assert regex.match(path), path
    for path in ("/v1/models/myXmodel:predict", "/v1/models/my.model:classify", "/v1/models/f:predict",
                 "/v1/models/my.model/metadata", "/v1/models/my.model:predict/x", "/v1/models/ff:regress"):
        assert not regex.match(path), path


def test_a_label_the_model_servers_move_accepts_the_version_it_moves_from():
    served = [[{"name": "m", "version_policy": {"specific": [1, 2]}, "labels": {"stable": 2, "canary": 1},
                "versions": [{"version": 1, "src": "a"}, {"version": 2, "src": "b"}]}]] * 2
    moves = [[{"model": "m", "label": "stable", "from": 1, "to": 2}],
             [{"model": "m", "label": "stable", "from": 1, "to": 2}, {"model": "m", "label": "canary", "from": None, "to": 1}],
             [], [{"model": "other", "label": "stable", "from": 5, "to": 2}]]
    plan = cache_plan([{"model": "m"}], served, moves, accept_for=960, run="2026-12-04T23:00:00")
    labels = {f["label"]: f for f in plan[0]["forms"] if f["kind"] == "label"}
    assert labels["stable"]["accept"] == [1, 2] and labels["stable"]["version"] == 2
    assert labels["stable"]["accept_for"] == 960 and labels["stable"]["accept_run"] == "2026-12-04T23:00:00"
    assert "accept" not in labels["canary"]
    assert all("accept" not in f for f in cache_plan([{"model": "m"}], served)[0]["forms"])
