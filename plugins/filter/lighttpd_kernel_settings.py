# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: lighttpd_kernel_settings
short_description: sysctl values an edge needs for one new backend connection per proxied request
version_added: 0.1.0
author: lighttpd_tensorflow.serving maintainers
description:
- lighttpd's mod_proxy opens a new connection to the backend for every request. A connection the edge closes first
  keeps its local port 60 s in TIME_WAIT, so with the kernel defaults a remote backend gets at most about 470 new
  connections per second from one edge before C(connect) fails.
- Returns C(net.ipv4.tcp_tw_reuse=1) (reuse a TIME_WAIT port one second after its last packet) and
  C(net.ipv4.ip_local_port_range), widened from the default 32768-60999 (never below 10240) only when
  O(connections_per_second) times two seconds needs more ports.
- Returns an empty dict when every backend is on loopback (the kernel default already reuses ports there).
positional: _input, connections_per_second
options:
  _input:
    description: The backends' host names or addresses.
    type: list
    elements: str
    required: true
  connections_per_second:
    description: The most new backend connections (proxied requests) per second one edge should sustain.
    type: int
    required: true
  port_range:
    description: C(LOW HIGH) to use instead of the computed range (checked against the need).
    type: str
    default: ""
"""

EXAMPLES = r"""
sysctls: "{{ ['10.0.0.5', '10.0.0.6'] | lighttpd_tensorflow.serving.lighttpd_kernel_settings(5000) }}"
# {"net.ipv4.tcp_tw_reuse": "1", "net.ipv4.ip_local_port_range": "32768 60999"}
"""

RETURN = r"""
_value:
  description: sysctl name -> value; empty when every backend is on loopback.
  type: dict
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """sysctl values an edge needs for one new backend connection per proxied request."""

    def filters(self):
        return {"lighttpd_kernel_settings": wrap("lighttpd_kernel_settings", tuning.lighttpd_kernel_settings)}
