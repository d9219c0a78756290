# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: lighttpd_connection_limits
short_description: lighttpd server.max-fds, server.max-connections and keep-alive values
version_added: 0.1.0
author: lighttpd_tensorflow.serving maintainers
description:
- C(max_fds) is three descriptors per expected connection rounded up to a power of two, at least 1024 and at most
  O(nofile_limit).
- C(max_connections) stays within what the installed lighttpd version accepts for that C(max_fds) (max-fds/2 up
  to 1.4.82, max-fds/10 from 1.4.83) and below max-fds/3.
- C(limit_nofile) is the value for the systemd unit's C(LimitNOFILE).
positional: _input, lighttpd_version
options:
  _input:
    description: The host's memory in MiB, for example C(ansible_facts.memtotal_mb).
    type: int
    required: true
  lighttpd_version:
    description: Installed lighttpd version, for example C(1.4.69).
    type: str
    required: true
  nofile_limit:
    description: Hard limit of open files the service may get (systemd's own hard limit).
    type: int
    default: 1048576
  expected_connections:
    description: Expected concurrent client connections; 2 per MiB of memory (at most 65536) when omitted.
    type: int
  keep_alive_requests:
    description: C(server.max-keep-alive-requests).
    type: int
    default: 1000
  keep_alive_idle:
    description: C(server.max-keep-alive-idle) in seconds.
    type: int
    default: 5
"""

EXAMPLES = r"""
limits: "{{ ansible_facts.memtotal_mb | lighttpd_tensorflow.serving.lighttpd_connection_limits('1.4.69', nofile_limit=20000) }}"
"""

RETURN = r"""
_value:
  description: Keys C(max_fds), C(max_connections), C(max_keep_alive_requests), C(max_keep_alive_idle), C(max_read_idle),
    C(max_write_idle), C(limit_nofile).
  type: dict
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """lighttpd server.max-fds, server.max-connections and keep-alive values."""

    def filters(self):
        return {"lighttpd_connection_limits": wrap("lighttpd_connection_limits", tuning.lighttpd_connection_limits)}
