# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: lighttpd_certificate_names
short_description: Every name and address an edge is reached by, as subjectAltName entries
version_added: 0.1.0
author: lighttpd_tensorflow.serving maintainers
description:
- The server name first, then the inventory name, the host's FQDN and short name, V(localhost), the extra names, and
  every IPv4 and IPv6 address of the host (link-local IPv6 addresses left out) plus V(127.0.0.1) and V(::1).
- Names that are IP addresses become C(IP:) entries; duplicates are dropped; the order is stable, so the same host
  gives the same list on every run.
positional: _input, server_name
options:
  _input:
    description: The host's facts (C(ansible_facts)).
    type: dict
    required: true
  server_name:
    description: The name clients use (C(lighttpd_server_name)).
    type: str
    required: true
  inventory_hostname:
    description: The host's inventory name.
    type: str
    default: ""
  extra:
    description: More DNS names or IP addresses.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
san: "{{ ansible_facts | lighttpd_tensorflow.serving.lighttpd_certificate_names(lighttpd_server_name,
        inventory_hostname=inventory_hostname) }}"
# -> ['DNS:edge1.example.org', 'DNS:edge1', 'DNS:localhost', 'IP:10.0.0.5', 'IP:127.0.0.1', 'IP:::1']
"""

RETURN = r"""
_value:
  description: subjectAltName entries (C(DNS:name), C(IP:address)).
  type: list
  elements: str
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.certificates import certificate_names  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {"lighttpd_certificate_names": certificate_names}
