# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: metrics_listen
short_description: The default listen address of the edge's or a model server's metrics endpoint
version_added: 0.3.0
author: lighttpd_tensorflow.serving maintainers
description:
- The default of C(lighttpd_metrics_listen) (port 9146, the edge's exporter) and C(tfserving_metrics_listen)
  (port 9147, the model server's metrics relay), and what the monitoring role scrapes when a host leaves them unset.
- Every address (C(0.0.0.0)) once the scrapers group holds a host other than this one, else loopback.
positional: _input, scrapers, host
options:
  _input:
    description: The component, C(lighttpd) or C(tfserving).
    type: str
    required: true
  scrapers:
    description: The hosts of the component's scrapers group.
    type: list
    elements: str
    required: true
  host:
    description: The host the endpoint runs on (C(inventory_hostname)).
    type: str
    required: true
"""

EXAMPLES = r"""
lighttpd_metrics_listen: >-
  {{ 'lighttpd' | lighttpd_tensorflow.serving.metrics_listen(groups.get('monitoring', []), inventory_hostname) }}
# -> '0.0.0.0:9146' when the group monitoring has another host, else '127.0.0.1:9146'
"""

RETURN = r"""
_value:
  description: C(ADDRESS:PORT).
  type: str
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """The default listen address of a metrics endpoint."""

    def filters(self):
        return {"metrics_listen": wrap("metrics_listen", tuning.metrics_listen)}
