# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: edge_backends
short_description: The model servers an edge host sends inference requests to
version_added: 0.2.0
author: lighttpd_tensorflow.serving maintainers
description:
- One definition for the lighttpd role (the edge's proxy) and the edge_cache role (the cache's backends).
- An explicit list wins. Otherwise, on a host that is also a model server, loopback comes first and the other
  model servers follow as fall-back; elsewhere every model server of the group.
- A peer's address comes from the fleet_addresses filter; its port is its C(tfserving_rest_port) host
  variable, else O(port).
positional: _input, hostvars, host, group_hosts, port
options:
  _input:
    description: The explicit backends (C({host, port}) items); empty to compute them.
    type: list
    elements: dict
    required: true
  hostvars:
    description: The variables of every host (C(hostvars)).
    type: dict
    required: true
  host:
    description: This host's inventory name (C(inventory_hostname)).
    type: str
    required: true
  group_hosts:
    description: The model servers' inventory names, for example C(groups['tfserving']).
    type: list
    elements: str
    required: true
  port:
    description: TF Serving's REST port where a host does not set C(tfserving_rest_port).
    type: int
    required: true
"""

EXAMPLES = r"""
backends: >-
  {{ lighttpd_inference_backends | lighttpd_tensorflow.serving.edge_backends(hostvars, inventory_hostname,
       groups.get('tfserving', []), 8501) }}
# on tfs1 of [tfs1, tfs2]: [{host: 127.0.0.1, port: 8501}, {host: 10.0.0.6, port: 8501}]
"""

RETURN = r"""
_value:
  description: C({host, port}) items, in the order the edge prefers them.
  type: list
  elements: dict
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """The model servers an edge host sends inference requests to."""

    def filters(self):
        return {"edge_backends": wrap("edge_backends", tuning.edge_backends)}
