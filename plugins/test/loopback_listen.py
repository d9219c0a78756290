# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: loopback_listen
short_description: Whether a listen address is reachable on its own host only
version_added: 0.4.0
author: lighttpd_tensorflow.serving maintainers
description:
- True for C(127.x.x.x:PORT) and C([::1]:PORT). Nothing for the host's firewall to guard, and no other host can
  reach it (the edge's exporter, the model server's metrics relay, and the monitoring role's scrape targets).
options:
  _input:
    description: A listen address, C(ADDRESS:PORT).
    type: str
    required: true
"""

EXAMPLES = r"""
guarded: "{{ lighttpd_metrics_listen is not lighttpd_tensorflow.serving.loopback_listen }}"
"""

RETURN = r"""
_value:
  description: Whether the address is a loopback address.
  type: bool
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning


class TestModule(object):
    """Whether a listen address is loopback only."""

    def tests(self):
        return {"loopback_listen": tuning.loopback_listen}
