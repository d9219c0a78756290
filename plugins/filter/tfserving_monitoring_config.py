# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: tfserving_monitoring_config
short_description: Render TF Serving's monitoring (Prometheus) config
version_added: 0.1.0
author: lighttpd_tensorflow.serving maintainers
description:
- 'Renders C(prometheus_config { enable: true path: ... }); TF Serving then serves metrics on its REST port at that
  path.'
positional: _input
options:
  _input:
    description: The metrics URL path.
    type: str
    required: true
  enable:
    description: Enable the Prometheus endpoint.
    type: bool
    default: true
"""

EXAMPLES = r"""
monitoring_file: "{{ '/monitoring/prometheus/metrics' | lighttpd_tensorflow.serving.tfserving_monitoring_config }}"
"""

RETURN = r"""
_value:
  description: The monitoring config text.
  type: str
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """Render TF Serving's monitoring (Prometheus) config."""

    def filters(self):
        return {"tfserving_monitoring_config": wrap("tfserving_monitoring_config", tuning.tfserving_monitoring_config)}
