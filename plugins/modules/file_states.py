# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: file_states
short_description: Tell which files and directories already are what a run would make them
version_added: 0.8.0
author: lighttpd_tensorflow.serving maintainers (@lighttpd-tensorflow)
description:
- >-
  Compares, in one module run, every file, directory and absent path a role manages with what the role's tasks would
  make of it: the content's SHA-1 (computed on the controller from the rendered template or the copied file), the
  owner, the group and the mode. Returns the paths that already match, so that each C(template), C(copy) or C(file)
  task can skip what would not change. A converged host then costs one module run per role for its files instead
  of one or two per file (C(stat), then C(file) for owner and mode).
- Anything it cannot be sure of counts as different (a symbolic link, a mode that is not octal, an unknown owner, an
  unreadable file), so the task that owns the path runs as it would without this module.
- Changes nothing.
options:
  files:
    description: The paths to compare and the state each should have.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path. Exactly one of I(path) and I(paths).
        type: path
      paths:
        description: Absolute paths that share the other settings (for example a list of directories).
        type: list
        elements: path
      state:
        description: C(file) (a regular file with I(checksum)), C(directory), or C(absent) (nothing at the path).
        type: str
        choices: [file, directory, absent]
        default: file
      checksum:
        description: SHA-1 of the content, as hex (the C(hash('sha1')) filter of the rendered text). Required for C(file).
        type: str
      owner:
        description: User name or number. Not compared when omitted.
        type: str
      group:
        description: Group name or number. Not compared when omitted.
        type: str
      mode:
        description: Octal mode as a string (C("0640")). Not compared when omitted.
        type: str
      recurse:
        description: For a directory, whether everything below it must have I(owner) and I(group) too.
        type: bool
        default: false
attributes:
  check_mode:
    description: Reads only, so it runs the same in check mode.
    support: full
  diff_mode:
    description: Returns no diff (the tasks that write the paths show theirs).
    support: none
"""

EXAMPLES = r"""
- name: Compare the files below with what this run writes
  lighttpd_tensorflow.serving.file_states:
    files:
      - path: /etc/example
        state: directory
        owner: root
        group: root
        mode: "0755"
      - path: /etc/example/example.conf
        checksum: "{{ lookup('ansible.builtin.template', 'example.conf.j2') | hash('sha1') }}"
        owner: root
        group: root
        mode: "0644"
  register: example_files

- name: Write the configuration
  ansible.builtin.template:
    src: example.conf.j2
    dest: /etc/example/example.conf
    owner: root
    group: root
    mode: "0644"
  when: "'/etc/example/example.conf' not in example_files.same | default([])"
"""

RETURN = r"""
same:
  description: The paths that already are what the run would make them.
  returned: always
  type: list
  elements: str
differ:
  description: The other paths, each with the first reason found.
  returned: always
  type: dict
"""

import grp
import hashlib
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule


def _uid(owner):
    if owner.isdigit():
        return int(owner)
    return pwd.getpwnam(owner).pw_uid


def _gid(group):
    if group.isdigit():
        return int(group)
    return grp.getgrnam(group).gr_gid


def _sha1(path):
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _owned(info, spec):
    """None when owner and group match (or are not asked for), else the reason."""
    try:
        if spec.get("owner") is not None and info.st_uid != _uid(spec["owner"]):
            return "owner"
        if spec.get("group") is not None and info.st_gid != _gid(spec["group"]):
            return "group"
    except KeyError:
        return "unknown owner or group"
    return None


def difference(spec):
    """None when the path already is what spec describes, else the first reason it is not."""
    path, state = spec["path"], spec.get("state") or "file"
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None if state == "absent" else "missing"
    except OSError as error:
        return "unreadable: %s" % error.strerror
    if state == "absent":
        return "present"
    kind = stat.S_ISDIR(info.st_mode) if state == "directory" else stat.S_ISREG(info.st_mode)
    if not kind:
        return "not a %s" % ("directory" if state == "directory" else "regular file")
    mode = spec.get("mode")
    if mode is not None:
        text = str(mode)
        if not text or any(c not in "01234567" for c in text) or stat.S_IMODE(info.st_mode) != int(text, 8):
            return "mode"
    reason = _owned(info, spec)
    if reason:
        return reason
    if state == "file":
        if not spec.get("checksum"):
            return "no checksum given"
        try:
            if _sha1(path) != spec["checksum"].lower():
                return "content"
        except OSError as error:
            return "unreadable: %s" % error.strerror
    if state == "directory" and spec.get("recurse"):
        unreadable = []
        for top, dirs, files in os.walk(path, onerror=unreadable.append):
            for name in dirs + files:
                try:
                    reason = _owned(os.lstat(os.path.join(top, name)), spec)
                except OSError:
                    reason = "changed while read"
                if reason:
                    return "%s below" % reason
        if unreadable:
            return "unreadable below"
    return None


def compare(files):
    same, differ = [], {}
    for entry in files:
        paths = entry["paths"] if entry.get("paths") is not None else [entry["path"]]
        for path in paths:
            spec = dict(entry, path=path)
            reason = difference(spec)
            if reason is None:
                same.append(path)
            else:
                differ[path] = reason
    # Two entries for one path that disagree: the path differs (both of its tasks run).
    return [path for path in same if path not in differ], differ


def main():
    module = AnsibleModule(
        argument_spec=dict(files=dict(
            type="list", elements="dict", required=True,
            options=dict(
                path=dict(type="path"),
                paths=dict(type="list", elements="path"),
                state=dict(type="str", choices=["file", "directory", "absent"], default="file"),
                checksum=dict(type="str"),
                owner=dict(type="str"),
                group=dict(type="str"),
                mode=dict(type="str"),
                recurse=dict(type="bool", default=False),
            ),
            mutually_exclusive=[("path", "paths")],
            required_one_of=[("path", "paths")])),
        supports_check_mode=True,
    )
    same, differ = compare(module.params["files"])
    module.exit_json(changed=False, same=same, differ=differ)


if __name__ == "__main__":
    main()
