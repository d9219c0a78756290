# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: systemd_units_ready
short_description: The units systemctl show reports enabled and active
version_added: 0.8.0
author: lighttpd_tensorflow.serving maintainers
description:
- >-
  Reads the output of C(systemctl show --property=Id,UnitFileState,ActiveState UNIT...), one read for several units,
  and returns the ids of those both C(enabled) and C(active), which an C(enabled: true, state: started) task would
  leave as they are. Any other state counts as not ready, so the task runs.
positional: _input
options:
  _input:
    description: The command's standard output.
    type: str
    required: true
"""

EXAMPLES = r"""
when: >-
  'lighttpd@edge.service' not in (units_now.stdout | lighttpd_tensorflow.serving.systemd_units_ready)
"""

RETURN = r"""
_value:
  description: Unit ids, in the order systemctl printed them.
  type: list
  elements: str
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import systemd
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """The units systemctl show reports enabled and active."""

    def filters(self):
        return {"systemd_units_ready": wrap("systemd_units_ready", systemd.units_ready)}
