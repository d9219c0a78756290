"""A label moves only once its version is loaded (issue 29, point 3).

The tfserving role wrote a new version and the label pointing at it in one models.config; TF
Serving answered the label with 404 until that version had loaded (a cluster run saw one such
404 through the edge during a roll-out). Now it loads first what tfserving_held_models returns:
the new versions, every label where TF Serving points it now. The properties below hold that
step against generated changes: no label answers differently during it, each held label's
version stays loaded, and every version the change's labels move to loads in it."""
from hypothesis import given, settings, strategies as st

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning


def model(name, specific, labels):
    return {"name": name, "base_path": "/srv/models/%s" % name, "version_policy": {"specific": specific}, "labels": labels}


def running(*models):
    return tuning.tfserving_models_config(list(models))


def test_the_roll_out_that_answered_404_holds_the_label_until_version_2_is_loaded():
    now = running(model("m", [1], {"stable": 1}))
    change = [model("m", [1, 2], {"stable": 2})]
    assert tuning.label_moves(change, now) == [{"model": "m", "label": "stable", "from": 1, "to": 2}]
    held = tuning.held_models(change, now)
    assert held[0]["labels"] == {"stable": 1} and held[0]["version_policy"] == {"specific": [1, 2]}


def test_a_held_version_the_change_drops_stays_loaded_until_the_label_moves():
    now = running(model("m", [1], {"stable": 1, "canary": 1}))
    held = tuning.held_models([model("m", [2], {"stable": 2, "canary": 1, "next": 2})], now)
    # canary does not move; next is new: it appears with the move.
    assert held[0]["labels"] == {"stable": 1, "canary": 1}
    assert held[0]["version_policy"] == {"specific": [1, 2]}


def test_nothing_is_held_without_a_running_config_or_a_move():
    change = [model("m", [1, 2], {"stable": 2})]
    assert tuning.label_moves(change, "") == []
    assert tuning.held_models(change, "") == tuning.normalize_models(change)
    assert tuning.held_models(change, running(*change)) == tuning.normalize_models(change)
    assert tuning.held_models(change, "not a config {") == tuning.normalize_models(change)


def answer(label, version, status=200):
    return {"item": {"model": "m", "label": label}, "status": status,
            "json": {"model_spec": {"name": "m", "version": str(version)}}}


def test_a_label_that_does_not_answer_its_version_now_moves_at_once():
    """Held at a version that never answers, the wait would fail on every run and the label
    could never be moved (a failed load, a version removed by hand)."""
    now = running(model("m", [1], {"stable": 1, "canary": 1}))
    change = [model("m", [1, 2], {"stable": 2, "canary": 2})]
    held = tuning.held_models(change, now, answers=[answer("stable", 1), answer("canary", 1, status=404)])
    assert held[0]["labels"] == {"stable": 1, "canary": 2}
    # A server that did not answer at all (uri failed: no status 200) holds nothing.
    nothing = tuning.held_models(change, now, answers=[{"item": {"model": "m", "label": "stable"}, "msg": "refused"}])
    assert nothing[0]["labels"] == {"stable": 2, "canary": 2}


def test_labels_under_latest_are_not_held():
    change = [{"name": "m", "base_path": "/srv/models/m", "version_policy": {"latest": 2}, "labels": {"stable": 3}}]
    now = running({"name": "m", "base_path": "/srv/models/m", "version_policy": {"latest": 2}, "labels": {"stable": 2}})
    assert tuning.held_models(change, now) == tuning.normalize_models(change)


def test_expected_versions_and_labels():
    models = [model("m", [1, 2], {"stable": 2}),
              {"name": "h", "base_path": "/srv/models/h", "version_policy": {"latest": 1}, "labels": {}}]
    versions = [{"name": "h", "version": 123}, {"name": "h", "version": 124}, {"name": "m", "version": 2}]
    assert tuning.expected_versions(models, versions) == {"m": [1, 2], "h": [124]}
    assert tuning.expected_labels(models) == [{"model": "m", "label": "stable", "version": 2}]


VERSIONS = st.lists(st.integers(1, 6), min_size=1, max_size=4, unique=True)


@st.composite
def state(draw):
    """A model's state: specific versions and labels pointing into them."""
    versions = sorted(draw(VERSIONS))
    labels = draw(st.dictionaries(st.sampled_from(["stable", "canary", "next"]), st.sampled_from(versions), max_size=3))
    return versions, labels


@settings(max_examples=400, deadline=None)
@given(before=st.dictionaries(st.sampled_from(["m", "n"]), state(), min_size=1),
       after=st.dictionaries(st.sampled_from(["m", "n"]), state(), min_size=1))
def test_the_first_step_never_moves_a_label_and_loads_every_new_target(before, after):
    now = running(*[model(name, v, labels) for name, (v, labels) in sorted(before.items())])
    change = [model(name, v, labels) for name, (v, labels) in sorted(after.items())]
    held = {m["name"]: m for m in tuning.held_models(change, now)}
    final = {m["name"]: m for m in tuning.normalize_models(change)}
    moves = {}
    for move in tuning.label_moves(change, now):
        moves.setdefault(move["model"], {})[move["label"]] = move
    assert set(held) == set(final)
    for name, m in held.items():
        loaded = set(m["version_policy"]["specific"])
        was = before.get(name, ([], {}))[1]
        for label, version in m["labels"].items():
            # No label answers differently while the new versions load ...
            assert was.get(label) == version
            # ... and its version stays loaded meanwhile.
            assert version in loaded
        # Every version the final config's labels and policy name loads in the first step.
        assert loaded >= set(final[name]["version_policy"]["specific"]) | set(final[name]["labels"].values())
        # Labels that do not move are already as the final config has them.
        for label, version in final[name]["labels"].items():
            if label not in moves.get(name, {}):
                assert m["labels"].get(label) == version
    assert (moves == {}) == (tuning.held_models(change, now) == tuning.normalize_models(change))
    # With TF Serving answering each moving label with its version now, the same first step.
    answers = [answer(label, move["from"]) for name, labels in moves.items() for label, move in labels.items()
               if name == "m" and move["from"] is not None]
    if all(name == "m" for name in moves):
        assert tuning.held_models(change, now, answers=answers) == tuning.held_models(change, now)


def latest_model(name, policy, labels=None):
    return {"name": name, "base_path": "/srv/models/" + name, "version_policy": policy, "labels": labels or {}}


def test_a_roll_back_under_latest_removes_the_newer_directory():
    models = [latest_model("h", {"latest": 1}), model("m", [1], {})]
    versions = [{"name": "h", "version": 123}, {"name": "m", "version": 1}]
    on_disk = {"h": ["/srv/models/h/123", "/srv/models/h/00000124"], "m": ["/srv/models/m/1", "/srv/models/m/2"]}
    # h: 124 would stay served under latest: 1; m (specific) keeps its directories.
    assert tuning.versions_above_declared(models, versions, on_disk) == ["/srv/models/h/00000124"]


def test_labelled_versions_and_models_without_declared_versions_keep_their_directories():
    models = [latest_model("h", "all", {"canary": 125}), latest_model("x", {"latest": 2})]
    on_disk = {"h": ["/srv/models/h/123", "/srv/models/h/124", "/srv/models/h/125"], "x": ["/srv/models/x/9"]}
    assert tuning.versions_above_declared(models, [{"name": "h", "version": 123}], on_disk) == ["/srv/models/h/124"]


def test_a_base_path_shared_with_another_model_keeps_what_that_model_needs():
    shared = "/srv/shared"
    models = [dict(latest_model("m", {"latest": 1}), base_path=shared),
              dict(model("pinned", [2], {"stable": 2}), base_path=shared),
              dict(latest_model("n", "all"), base_path=shared)]
    versions = [{"name": "m", "version": 1}, {"name": "pinned", "version": 2}, {"name": "n", "version": 1}]
    disk = [shared + "/1", shared + "/2", shared + "/3"]
    # 2 is pinned's (declared, specific, labelled); 3 is no model's: removed once.
    assert tuning.versions_above_declared(models, versions, {"m": disk, "n": disk}) == [shared + "/3"]


def served(policy, on_disk):
    """The versions TF Serving serves from ON_DISK (version numbers) under POLICY."""
    found = sorted(on_disk)
    if "latest" in policy:
        return set(found[-policy["latest"]:])
    return set(found)


@settings(max_examples=400, deadline=None)
@given(policy=st.sampled_from([{"latest": 1}, {"latest": 2}, {"latest": 3}, "all"]),
       on_disk=st.sets(st.integers(1, 9), max_size=6),
       declared=st.sets(st.integers(1, 9), min_size=1, max_size=4))
def test_after_the_removal_no_version_above_the_declared_ones_is_served(policy, on_disk, declared):
    """Property: once the declared versions are deployed (on disk) and the returned directories
    removed, TF Serving's rule serves the newest declared version and nothing newer; nothing
    declared and nothing at or below the newest declared version is removed."""
    models = [latest_model("h", policy)]
    versions = [{"name": "h", "version": v} for v in sorted(declared)]
    disk = on_disk | declared
    paths = {"h": ["/srv/models/h/%08d" % v for v in sorted(disk)]}
    removed = {int(p.rsplit("/", 1)[-1]) for p in tuning.versions_above_declared(models, versions, paths)}
    assert not removed & declared
    assert all(v > max(declared) for v in removed)
    now = served(tuning.normalize_models(models)[0]["version_policy"], disk - removed)
    assert max(now) == max(declared)
