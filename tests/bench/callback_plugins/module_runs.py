# -*- coding: utf-8 -*-
"""make bench: count the module runs each host paid for (one per task, one per loop item), so
that a no-op's cost is shown in runs, not only in seconds. Tasks that run on the controller
(set_fact, assert, include_*, ...) and tasks delegated to the controller are not counted: they
cost no round trip to the host. Enabled by ANSIBLE_CALLBACKS_ENABLED=module_runs with
ANSIBLE_CALLBACK_PLUGINS pointing here; prints one line per host at the end:
    MODULE RUNS host=N
"""
from __future__ import annotations

from collections import Counter

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: module_runs
type: aggregate
short_description: count module runs per host (make bench)
description: Counts the module runs each host paid for, one per task and one per loop item.
requirements: [enable in configuration]
"""

CONTROLLER_ACTIONS = {
    "set_fact", "assert", "debug", "fail", "include_tasks", "import_tasks", "include_role",
    "import_role", "include_vars", "meta", "add_host", "group_by", "validate_argument_spec",
    "set_stats", "pause", "noop",
}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "module_runs"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.runs = Counter()

    @staticmethod
    def _remote(result):
        task = result._task
        action = task.action.rsplit(".", 1)[-1]
        if action in CONTROLLER_ACTIONS:
            return False
        delegate = task.delegate_to
        return not (delegate and str(delegate) in ("localhost", "127.0.0.1"))

    def _count(self, result):
        if self._remote(result):
            self.runs[result._host.get_name()] += 1

    def v2_runner_on_ok(self, result):
        if not result._task.loop:
            self._count(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not result._task.loop:
            self._count(result)

    def v2_runner_item_on_ok(self, result):
        self._count(result)

    def v2_runner_item_on_failed(self, result):
        self._count(result)

    def v2_playbook_on_stats(self, stats):
        for host in sorted(self.runs):
            self._display.display("MODULE RUNS %s=%d" % (host, self.runs[host]))
