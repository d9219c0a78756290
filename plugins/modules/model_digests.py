# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: model_digests
short_description: Record and read the content digest of deployed model versions
version_added: 0.10.0
author: lighttpd_tensorflow.serving maintainers (@lighttpd-tensorflow)
description:
- >-
  A model version's digest is a SHA-256 over what its directory holds as TF Serving reads it: every file's
  relative path, size and content, every directory, and for a symbolic link its target and what it points to,
  in a fixed order. Two version directories have the same digest exactly when they hold the same tree.
- >-
  With I(record=true) (the tfserving role, once a version is deployed), writes the digest into the version
  directory as C(.lts-content.sha256) when it is not there yet. TF Serving ignores the file. A deployed version
  is never overwritten, so the digest is computed once, and a recorded one is returned as it is.
- >-
  With I(record=false) (the edges' play, delegated to each model server), only reads the recorded digests; a
  version with no record gets C(null), and C(deployed) is false only when its directory does not exist (one this
  run may not read counts as deployed, with C(null)). Changes nothing.
- The edges' prediction cache keys a version by its digest and caches it only while the model servers agree on it
  (docs/cache.md).
options:
  versions:
    description: The versions, each with its directory.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The model's name.
        type: str
        required: true
      version:
        description: The version number.
        type: int
        required: true
      path:
        description: The version's directory (BASE_PATH/VERSION).
        type: path
        required: true
  record:
    description: Compute and write the digest of a version that has none.
    type: bool
    default: false
  replace:
    description: >-
      With I(record), compute the digest even when a record is there, and write it when it differs (the tfserving
      role, on a version's staging directory, where a record may have come with the source files).
    type: bool
    default: false
  owner:
    description: The record file's owner (with I(record=true)).
    type: str
  group:
    description: The record file's group (with I(record=true)).
    type: str
  mode:
    description: The record file's octal mode (with I(record=true)).
    type: str
    default: "0640"
attributes:
  check_mode:
    description: In check mode a missing record is computed and reported as a change, not written.
    support: full
  diff_mode:
    description: Returns no diff.
    support: none
"""

EXAMPLES = r"""
- name: Record the content digest of each deployed version
  lighttpd_tensorflow.serving.model_digests:
    versions:
      - {name: half_plus_two, version: 1, path: /var/lib/tfserving/models/half_plus_two/1}
    record: true
    owner: tfserving
    group: tfserving
"""

RETURN = r"""
digests:
  description: >-
    One entry per version asked for, in order: whether its directory exists (deployed), and its digest as hex
    SHA-256, or null when none is recorded.
  returned: always
  type: list
  elements: dict
  sample: [{name: half_plus_two, version: 1, deployed: true, digest: 3f1c...}]
"""

import grp
import hashlib
import os
import pwd
import re
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule

RECORD = ".lts-content.sha256"
_HEX = re.compile(r"^[0-9a-f]{64}$")
# A write of the record that was interrupted leaves such a file (write_record's temporary name).
_PARTIAL = re.compile(r"^\.lts-content\..*\.tmp$")


def _file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_digest(top):
    """The SHA-256 of the tree below TOP, as TF Serving reads it.

    One line per entry: "d PATH" for a directory, "f PATH SIZE SHA256" for a file; a symbolic
    link is followed (TF Serving reads what it points to) and adds its target ("D PATH TARGET",
    "F PATH SIZE SHA256 TARGET"), and a dangling one is "l PATH TARGET". Paths and targets are
    written as the hex of their bytes, so no name can forge a line. The record file at the top,
    and a temporary one left by an interrupted write of it, are not content. Anything else (a
    device, a socket, a pipe, a loop of links) is refused. Raises OSError when something cannot
    be read.
    """
    lines = []
    _walk(top, "", lines, {os.path.realpath(top)})
    lines.sort()
    return hashlib.sha256(("\n".join(lines) + "\n").encode()).hexdigest()


def _walk(directory, prefix, lines, above):
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        info = os.lstat(path)
        if not prefix and stat.S_ISREG(info.st_mode) and (name == RECORD or _PARTIAL.match(name)):
            continue
        shown = os.fsencode(prefix + name).hex()
        target = ""
        if stat.S_ISLNK(info.st_mode):
            target = os.fsencode(os.readlink(path)).hex()
            try:
                info = os.stat(path)
            except FileNotFoundError:
                lines.append("l %s %s" % (shown, target))
                continue
        if stat.S_ISDIR(info.st_mode):
            real = os.path.realpath(path)
            if real in above:
                raise OSError("a loop of symbolic links at %s" % path)
            lines.append(("D %s %s" % (shown, target)) if target else ("d %s" % shown))
            _walk(path, prefix + name + "/", lines, above | {real})
        elif stat.S_ISREG(info.st_mode):
            line = "f %s %d %s" % (shown, info.st_size, _file_sha256(path))
            lines.append(("F" + line[1:] + " " + target) if target else line)
        else:
            raise OSError("not a file, directory or link: %s" % path)


def deployed(directory):
    """Whether DIRECTORY exists. Only its absence is "not deployed": a directory this run may not
    read counts as deployed (its record then reads as None), never as missing."""
    try:
        return stat.S_ISDIR(os.stat(directory).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True


def recorded(directory):
    """The digest recorded in DIRECTORY, or None (no record, not one digest, or unreadable)."""
    try:
        with open(os.path.join(directory, RECORD)) as handle:
            text = handle.read(200).strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if _HEX.match(text) else None


def write_record(directory, digest, uid, gid, mode):
    """Writes the record atomically and durably (a temporary file, synced, renamed over it)."""
    handle, temporary = tempfile.mkstemp(prefix=".lts-content.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(digest + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.chown(temporary, uid, gid)
        os.chmod(temporary, mode)
        os.rename(temporary, os.path.join(directory, RECORD))
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    folder = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def collect(versions, record=False, write=None, replace=False):
    """(results, changed) for VERSIONS ([{name, version, path}]). With RECORD, a deployed version
    without a record gets its digest computed, and written by WRITE(directory, digest) unless
    WRITE is None (check mode); with REPLACE too, a record already there is not trusted (one that
    came with the source files) and is computed anew. Raises OSError when a tree cannot be read
    or written."""
    results, changed = [], False
    for entry in versions:
        directory = entry["path"]
        present = deployed(directory)
        digest = recorded(directory) if present and not replace else None
        if digest is None and record and present:
            digest = tree_digest(directory)
            if not (replace and recorded(directory) == digest):
                changed = True
                if write is not None:
                    write(directory, digest)
        results.append({"name": entry["name"], "version": entry["version"], "deployed": present, "digest": digest})
    return results, changed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            versions=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                version=dict(type="int", required=True),
                path=dict(type="path", required=True))),
            record=dict(type="bool", default=False),
            replace=dict(type="bool", default=False),
            owner=dict(type="str"),
            group=dict(type="str"),
            mode=dict(type="str", default="0640"),
        ),
        supports_check_mode=True,
    )
    mode = module.params["mode"]
    if not re.match(r"^0?[0-7]{3}$", mode):
        module.fail_json(msg="mode must be an octal mode such as 0640, not %r" % mode)

    def write(directory, digest):
        info = os.stat(directory)  # owner and group default to the directory's
        uid = _account(module, module.params["owner"], pwd.getpwnam, "pw_uid", info.st_uid)
        gid = _account(module, module.params["group"], grp.getgrnam, "gr_gid", info.st_gid)
        write_record(directory, digest, uid, gid, int(mode, 8))

    try:
        results, changed = collect(module.params["versions"], module.params["record"],
                                   None if module.check_mode else write, module.params["replace"])
    except OSError as error:
        module.fail_json(msg="could not record the content digest of a model version: %s" % error)
    module.exit_json(changed=changed, digests=results)


def _account(module, value, lookup, field, default):
    """The number of user or group VALUE (a name or a number), DEFAULT when not given."""
    if value is None:
        return default
    if value.isdigit():
        return int(value)
    try:
        return getattr(lookup(value), field)
    except KeyError:
        module.fail_json(msg="unknown user or group: %s" % value)


if __name__ == "__main__":
    main()
