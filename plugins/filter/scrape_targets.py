# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: scrape_targets
short_description: The monitoring role's scrape targets, from each host's own metrics listener
version_added: 0.3.0
author: lighttpd_tensorflow.serving maintainers
description:
- For each job, the hosts of its group whose state is C(present) and whose switches are all true, each with its
  address (loopback for the monitoring host itself) and the port of its C(PREFIX_listen) variable, or of the
  C(lighttpd_tensorflow.serving.metrics_listen) default when it is unset.
- A listener on loopback of another host cannot be scraped; such targets are marked, and the monitoring role refuses them.
positional: _input, groups, hostvars, host
options:
  _input:
    description: >-
      The jobs, C({JOB: {component, group, prefix, enabled, state}}) - the component (C(lighttpd) or C(tfserving)),
      the inventory group, the prefix of its variables, the boolean host variables that must be true and the host
      variable that must be C(present).
    type: dict
    required: true
  groups:
    description: The inventory's groups (C(groups)).
    type: dict
    required: true
  hostvars:
    description: The variables of every host (C(hostvars)).
    type: dict
    required: true
  host:
    description: The monitoring host (C(inventory_hostname)).
    type: str
    required: true
"""

EXAMPLES = r"""
targets: >-
  {{ {'lighttpd_edge': {'component': 'lighttpd', 'group': 'edge', 'prefix': 'lighttpd_metrics',
                        'enabled': ['lighttpd_metrics_enabled'], 'state': 'lighttpd_state'}}
     | lighttpd_tensorflow.serving.scrape_targets(groups, hostvars, inventory_hostname) }}
# -> {'lighttpd_edge': [{'host': 'edge1', 'target': '10.0.0.4:9146', 'loopback': false}]}
"""

RETURN = r"""
_value:
  description: "C({JOB: [{host, target, loopback}]}), the hosts in their group's order."
  type: dict
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """The monitoring role's scrape targets."""

    def filters(self):
        return {"scrape_targets": wrap("scrape_targets", tuning.scrape_targets)}
