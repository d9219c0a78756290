"""The model_digests module: a version's digest tells its files apart from any other files
(issue 29, item 11: the cache keyed a version by its src string, so other files deployed under
the same version number shared the old ones' answers), is computed once and written into the
version's directory, and reading never writes."""
import os
import stat

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.lighttpd_tensorflow.serving.plugins.modules import model_digests as md

NAMES = st.sampled_from(["saved_model.pb", "variables", "variables.index", "assets", "a b", "x\ny", "é", "f 1 2"])
TREES = st.recursive(
    st.binary(max_size=20),
    lambda children: st.dictionaries(NAMES, children, min_size=0, max_size=3),
    max_leaves=8,
).filter(lambda tree: isinstance(tree, dict))


def build(top, tree):
    os.makedirs(top, exist_ok=True)
    for name, value in tree.items():
        path = os.path.join(top, name)
        if isinstance(value, dict):
            build(path, value)
        else:
            with open(path, "wb") as handle:
                handle.write(value)


@settings(max_examples=200, deadline=None)
@given(TREES, TREES)
def test_two_trees_have_one_digest_exactly_when_they_hold_the_same(tmp_path_factory, a, b):
    top = tmp_path_factory.mktemp("trees")
    build(str(top / "a"), a)
    build(str(top / "b"), b)
    assert (md.tree_digest(str(top / "a")) == md.tree_digest(str(top / "b"))) == (a == b)


def test_content_names_links_and_empty_directories_each_change_the_digest(tmp_path):
    build(str(tmp_path / "v"), {"saved_model.pb": b"graph", "variables": {"variables.index": b"i"}})
    first = md.tree_digest(str(tmp_path / "v"))
    changes = [
        lambda: (tmp_path / "v" / "saved_model.pb").write_bytes(b"graph2"),
        lambda: os.rename(tmp_path / "v" / "saved_model.pb", tmp_path / "v" / "saved_model.pbx"),
        lambda: os.mkdir(tmp_path / "v" / "assets"),
        lambda: os.symlink("variables", tmp_path / "v" / "link"),
        lambda: os.symlink("nowhere", tmp_path / "v" / "dangling"),
        # A directory named like the record is content: only the record file itself is left out.
        lambda: os.mkdir(tmp_path / "v" / ".lts-content.sha256.d"),
    ]
    seen = {first}
    for change in changes:
        change()
        digest = md.tree_digest(str(tmp_path / "v"))
        assert digest not in seen
        seen.add(digest)


def test_a_link_counts_what_it_points_to(tmp_path):
    # TF Serving reads through a link: two versions whose links point to other files differ.
    for name, content in (("a", b"weights 1"), ("b", b"weights 2")):
        build(str(tmp_path / "store" / name), {"variables.data": content})
        build(str(tmp_path / name), {"saved_model.pb": b"graph"})
        os.symlink(str(tmp_path / "store" / name), tmp_path / name / "variables")
    assert md.tree_digest(str(tmp_path / "a")) != md.tree_digest(str(tmp_path / "b"))
    before = md.tree_digest(str(tmp_path / "a"))
    (tmp_path / "store" / "a" / "variables.data").write_bytes(b"weights 3")
    assert md.tree_digest(str(tmp_path / "a")) != before


def test_the_record_and_an_interrupted_write_of_it_are_not_content(tmp_path):
    build(str(tmp_path / "v"), {"saved_model.pb": b"graph"})
    before = md.tree_digest(str(tmp_path / "v"))
    (tmp_path / "v" / md.RECORD).write_text("0" * 64 + "\n")
    (tmp_path / "v" / ".lts-content.abc123.tmp").write_text("half")
    assert md.tree_digest(str(tmp_path / "v")) == before


def test_a_fifo_and_a_loop_of_links_are_refused(tmp_path):
    build(str(tmp_path / "v"), {"saved_model.pb": b"graph"})
    os.mkfifo(tmp_path / "v" / "pipe")
    with pytest.raises(OSError):
        md.tree_digest(str(tmp_path / "v"))
    build(str(tmp_path / "w"), {"saved_model.pb": b"graph", "sub": {}})
    os.symlink(str(tmp_path / "w"), tmp_path / "w" / "sub" / "up")
    with pytest.raises(OSError, match="loop"):
        md.tree_digest(str(tmp_path / "w"))


def test_only_a_missing_directory_is_not_deployed(tmp_path, monkeypatch):
    assert md.deployed(str(tmp_path / "missing")) is False
    build(str(tmp_path / "v"), {})
    assert md.deployed(str(tmp_path / "v")) is True

    def denied(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(md.os, "stat", denied)
    assert md.deployed(str(tmp_path / "v")) is True  # a run without the rights to look never says "missing"


def versions(tmp_path):
    return [{"name": "m", "version": 1, "path": str(tmp_path / "m" / "1")},
            {"name": "m", "version": 2, "path": str(tmp_path / "m" / "2")}]


def test_recording_writes_once_and_reading_never_writes(tmp_path):
    build(str(tmp_path / "m" / "1"), {"saved_model.pb": b"graph"})
    written = []

    def write(directory, digest):
        written.append(directory)
        md.write_record(directory, digest, os.getuid(), os.getgid(), 0o640)

    # Reading: version 1 is deployed without a record, version 2 is not deployed.
    assert md.collect(versions(tmp_path)) == ([
        {"name": "m", "version": 1, "deployed": True, "digest": None},
        {"name": "m", "version": 2, "deployed": False, "digest": None}], False)
    # Check mode: computed and reported, not written.
    results, changed = md.collect(versions(tmp_path), record=True, write=None)
    assert changed and results[0]["digest"] == md.tree_digest(str(tmp_path / "m" / "1"))
    assert not (tmp_path / "m" / "1" / md.RECORD).exists()
    results, changed = md.collect(versions(tmp_path), record=True, write=write)
    assert changed and written == [str(tmp_path / "m" / "1")]
    record = tmp_path / "m" / "1" / md.RECORD
    assert record.read_text() == results[0]["digest"] + "\n"
    assert stat.S_IMODE(os.stat(record).st_mode) == 0o640
    # A deployed version is never overwritten, so the record is trusted: nothing is computed again.
    (tmp_path / "m" / "1" / "saved_model.pb").write_bytes(b"changed by hand")
    assert md.collect(versions(tmp_path), record=True, write=write) == (results, False)
    assert md.collect(versions(tmp_path)) == (results, False)
    assert written == [str(tmp_path / "m" / "1")]


def test_a_record_that_came_with_the_source_files_is_computed_anew_when_staged(tmp_path):
    # A SavedModel copied from a model server's own directory brings that server's record along.
    build(str(tmp_path / "m" / "1"), {"saved_model.pb": b"other files"})
    (tmp_path / "m" / "1" / md.RECORD).write_text("a" * 64 + "\n")
    write = lambda d, h: md.write_record(d, h, os.getuid(), os.getgid(), 0o640)  # noqa: E731
    results, changed = md.collect(versions(tmp_path)[:1], record=True, write=write, replace=True)
    assert changed and results[0]["digest"] == md.tree_digest(str(tmp_path / "m" / "1")) != "a" * 64
    assert md.recorded(str(tmp_path / "m" / "1")) == results[0]["digest"]
    assert md.collect(versions(tmp_path)[:1], record=True, write=write, replace=True) == (results, False)


def test_a_malformed_record_counts_as_none_and_is_written_anew(tmp_path):
    build(str(tmp_path / "m" / "1"), {"saved_model.pb": b"graph"})
    (tmp_path / "m" / "1" / md.RECORD).write_text("not a digest\n")
    assert md.collect(versions(tmp_path)[:1])[0][0]["digest"] is None
    results, changed = md.collect(versions(tmp_path)[:1], record=True,
                                  write=lambda d, h: md.write_record(d, h, os.getuid(), os.getgid(), 0o640))
    assert changed and md.recorded(str(tmp_path / "m" / "1")) == results[0]["digest"]
    assert [n for n in os.listdir(tmp_path / "m" / "1") if n.startswith(".lts-content.")] == [md.RECORD]
