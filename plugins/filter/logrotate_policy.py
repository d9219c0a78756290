# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: logrotate_policy
short_description: Daily log rotation count and size cap from the disk size and log volume
version_added: 0.1.0
author: lighttpd_tensorflow.serving maintainers
description:
- Shares O(budget_percent) of the disk among O(instances). The live file and the one C(delaycompress) keeps take
  two days of volume; each older day takes O(compression_ratio) of a day.
- C(rotate) is clamped between O(min_rotate) and O(max_rotate); C(maxsize) is a quarter of the budget, at least
  1 MiB.
positional: _input, daily_log_bytes
options:
  _input:
    description: Size of the file system holding the logs, in bytes.
    type: int
    required: true
  daily_log_bytes:
    description: Expected log volume per instance and day, in bytes.
    type: int
    required: true
  instances:
    description: Number of instances sharing the budget.
    type: int
    default: 1
  budget_percent:
    description: Percent of the disk the logs may use.
    type: int
    default: 5
  compression_ratio:
    description: Compressed size / plain size.
    type: float
    default: 0.15
  min_rotate:
    description: Fewest rotated files to keep.
    type: int
    default: 1
  max_rotate:
    description: Most rotated files to keep.
    type: int
    default: 90
"""

EXAMPLES = r"""
policy: "{{ 10737418240 | lighttpd_tensorflow.serving.logrotate_policy(104857600) }}"
# -> {rotate: 20, maxsize: 128M, maxsize_bytes: 134217728, budget_bytes: 536870912}
"""

RETURN = r"""
_value:
  description: Keys C(rotate), C(maxsize) (logrotate syntax), C(maxsize_bytes), C(budget_bytes).
  type: dict
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """Daily log rotation count and size cap from the disk size and log volume."""

    def filters(self):
        return {"logrotate_policy": wrap("logrotate_policy", tuning.logrotate_policy)}
