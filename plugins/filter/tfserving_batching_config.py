# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: tfserving_batching_config
short_description: Render TF Serving's batching parameters file
version_added: 0.1.0
author: lighttpd_tensorflow.serving maintainers
description:
- 'Renders the text proto with wrapper values (C(max_batch_size { value: 32 })) from the dict C(tfserving_batching)
  returns, checking that C(allowed_batch_sizes) increase and end at C(max_batch_size).'
positional: _input
options:
  _input:
    description: Batching parameters, usually the output of C(lighttpd_tensorflow.serving.tfserving_batching).
    type: dict
    required: true
"""

EXAMPLES = r"""
batching_file: "{{ 4 | lighttpd_tensorflow.serving.tfserving_batching | lighttpd_tensorflow.serving.tfserving_batching_config }}"
"""

RETURN = r"""
_value:
  description: The batching parameters text.
  type: str
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """Render TF Serving's batching parameters file."""

    def filters(self):
        return {"tfserving_batching_config": wrap("tfserving_batching_config", tuning.tfserving_batching_config)}
