# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: lighttpd_listen
short_description: The listening addresses of each lighttpd instance
version_added: 0.4.0
author: lighttpd_tensorflow.serving maintainers
description:
- The addresses systemd holds open for each instance (C(lighttpd@NAME.socket)), so that no reload or restart refuses
  a connection. The edge listens on its HTTPS and HTTP ports on every address (and on C([::]) with IPv6), then on its
  status address; the static instance on its Unix socket and its optional bind; an extra instance on its C(listen)
  list (lighttpd binds an instance without one itself).
positional: _input
options:
  _input:
    description: >-
      C(edge), C(https_port), C(http_port) (0 for none), C(ipv6), C(status_bind), C(static), C(static_socket),
      C(static_bind) (empty for none) and C(extra_instances) (each with C(name) and an optional C(listen) list).
    type: dict
    required: true
"""

EXAMPLES = r"""
__lighttpd_listen: >-
  {{ {'edge': true, 'https_port': 443, 'http_port': 80, 'ipv6': false, 'status_bind': '127.0.0.1:9080',
      'static': true, 'static_socket': '/run/lighttpd-static/static.sock', 'static_bind': '',
      'extra_instances': []} | lighttpd_tensorflow.serving.lighttpd_listen }}
# -> {'edge': ['0.0.0.0:443', '0.0.0.0:80', '127.0.0.1:9080'], 'static': ['/run/lighttpd-static/static.sock']}
"""

RETURN = r"""
_value:
  description: Instance name -> list of addresses (C(IPV4:PORT), C([IPV6]:PORT) or a socket path).
  type: dict
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """The listening addresses of each lighttpd instance."""

    def filters(self):
        return {"lighttpd_listen": wrap("lighttpd_listen", tuning.lighttpd_listen)}
