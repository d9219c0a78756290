"""The file_states module: a path counts as the same only when it is exactly what the task that
owns it would leave (content, owner, group, mode, kind); anything else, or anything uncertain,
counts as different, so that the task runs. A wrong "same" would leave drift on a host."""
import grp
import hashlib
import os
import pwd

from hypothesis import given, settings, strategies as st

from ansible_collections.lighttpd_tensorflow.serving.plugins.modules import file_states

ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name


def sha1(data):
    return hashlib.sha1(data).hexdigest()


def spec(path, content=b"a = 1\n", **extra):
    base = {"path": str(path), "state": "file", "checksum": sha1(content), "owner": ME, "group": MY_GROUP,
            "mode": "0640", "recurse": False}
    base.update(extra)
    return base


def write(path, content=b"a = 1\n", mode=0o640):
    path.write_bytes(content)
    os.chmod(path, mode)


def test_a_file_as_the_task_would_leave_it_is_the_same(tmp_path):
    write(tmp_path / "a.conf")
    assert file_states.compare([spec(tmp_path / "a.conf")]) == ([str(tmp_path / "a.conf")], {})


def test_content_mode_owner_group_and_kind_each_make_a_difference(tmp_path):
    target = tmp_path / "a.conf"
    write(target)
    cases = {
        "content": spec(target, content=b"a = 2\n"),
        "mode": spec(target, mode="0644"),
        "owner": spec(target, owner=str(os.getuid() + 1)),
        "group": spec(target, group=str(os.getgid() + 1)),
        "unknown owner or group": spec(target, owner="no-such-user-lts"),
        "not a directory": spec(target, state="directory"),
        "present": spec(target, state="absent"),
        "no checksum given": spec(target, checksum=None),
    }
    for reason, wanted in cases.items():
        assert file_states.compare([wanted]) == ([], {str(target): reason}), reason


def test_what_it_cannot_be_sure_of_differs(tmp_path):
    write(tmp_path / "real.conf")
    os.symlink(tmp_path / "real.conf", tmp_path / "link.conf")
    # A link to the right content still differs: the task decides what to do with a link.
    assert file_states.difference(spec(tmp_path / "link.conf")) == "not a regular file"
    assert file_states.difference(spec(tmp_path / "real.conf", mode="u=rw,g=r")) == "mode"
    assert file_states.difference(spec(tmp_path / "missing.conf")) == "missing"
    assert file_states.difference({"path": str(tmp_path / "missing.conf"), "state": "absent"}) is None


def test_a_directory_with_recurse_needs_everything_below_it_owned_alike(tmp_path):
    top = tmp_path / "logs"
    (top / "old").mkdir(parents=True)
    (top / "old" / "access.log.1").write_bytes(b"x\n")
    wanted = {"path": str(top), "state": "directory", "owner": ME, "group": MY_GROUP, "recurse": True}
    assert file_states.difference(wanted) is None
    wanted_other = dict(wanted, owner=str(os.getuid() + 1))
    assert file_states.difference(wanted_other) == "owner"
    # Only what is below differs: the top directory alone would match.
    os.chown(top, os.getuid(), os.getgid())
    if os.getuid() == 0:
        os.chown(top / "old" / "access.log.1", 4242, os.getgid())
        assert file_states.difference(wanted) == "owner below"


@settings(max_examples=200, deadline=None)
@given(on_disk=st.one_of(st.none(), st.binary(max_size=64)), wanted=st.binary(max_size=64),
       disk_mode=st.sampled_from([0o600, 0o640, 0o644, 0o755]), wanted_mode=st.sampled_from(["0600", "0640", "0644", "0755"]))
def test_same_exactly_when_content_and_mode_match(tmp_path_factory, on_disk, wanted, disk_mode, wanted_mode):
    path = tmp_path_factory.mktemp("p") / "f"
    if on_disk is not None:
        write(path, on_disk, disk_mode)
    same, differ = file_states.compare([spec(path, content=wanted, mode=wanted_mode)])
    expected = on_disk is not None and on_disk == wanted and disk_mode == int(wanted_mode, 8)
    assert (same == [str(path)]) == expected
    assert (str(path) in differ) == (not expected)


def test_paths_share_the_other_settings_and_each_is_answered_alone(tmp_path):
    (tmp_path / "a").mkdir(mode=0o750)
    (tmp_path / "b").mkdir(mode=0o755)
    os.chmod(tmp_path / "a", 0o750)
    os.chmod(tmp_path / "b", 0o755)
    entry = {"paths": [str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "c")], "path": None,
             "state": "directory", "owner": ME, "group": MY_GROUP, "mode": "0750"}
    same, differ = file_states.compare([entry])
    assert same == [str(tmp_path / "a")]
    assert differ == {str(tmp_path / "b"): "mode", str(tmp_path / "c"): "missing"}
    assert file_states.compare([dict(entry, paths=[])]) == ([], {})


def test_two_entries_that_disagree_about_a_path_make_it_differ(tmp_path):
    (tmp_path / "run").mkdir()
    os.chmod(tmp_path / "run", 0o711)
    as_root = {"path": str(tmp_path / "run"), "state": "directory", "owner": ME, "group": MY_GROUP, "mode": "0711"}
    assert file_states.compare([as_root, dict(as_root, mode="0755")]) == ([], {str(tmp_path / "run"): "mode"})


def test_a_directory_below_that_cannot_be_read_differs(tmp_path, monkeypatch):
    top = tmp_path / "logs"
    top.mkdir()
    wanted = {"path": str(top), "state": "directory", "owner": ME, "group": MY_GROUP, "recurse": True}
    real_walk = os.walk

    def walk(path, onerror=None):
        onerror(OSError(13, "Permission denied", str(top / "hidden")))
        return real_walk(path)

    monkeypatch.setattr(file_states.os, "walk", walk)
    assert file_states.difference(wanted) == "unreadable below"
