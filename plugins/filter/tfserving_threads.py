# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: tfserving_threads
short_description: TF Serving thread settings from the CPU count
version_added: 0.1.0
author: lighttpd_tensorflow.serving maintainers
description:
- Returns C(rest_api_num_threads) (TF Serving's default of 4 x CPUs, never below 2 because 1 freezes the REST server)
  and the TensorFlow intra/inter-op parallelism (0, meaning automatic, unless O(op_parallelism) is true).
positional: _input
options:
  _input:
    description: The number of CPUs the server may use, for example C(ansible_facts.processor_vcpus).
    type: int
    required: true
  op_parallelism:
    description: Set intra-op parallelism to the CPU count and inter-op to half of it instead of leaving both automatic.
    type: bool
    default: false
  overrides:
    description: Values that replace the computed ones (a user's partial C(tfserving_threads)); the other keys stay
      computed; keys other than the three returned ones are refused.
    type: dict
"""

EXAMPLES = r"""
tfserving_flags: "{{ ansible_facts.processor_vcpus | lighttpd_tensorflow.serving.tfserving_threads }}"
# -> {rest_api_num_threads: 8, tensorflow_intra_op_parallelism: 0, tensorflow_inter_op_parallelism: 0} on 2 CPUs
"""

RETURN = r"""
_value:
  description: Keys C(rest_api_num_threads), C(tensorflow_intra_op_parallelism), C(tensorflow_inter_op_parallelism).
  type: dict
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """TF Serving thread settings from the CPU count."""

    def filters(self):
        return {"tfserving_threads": wrap("tfserving_threads", tuning.tfserving_threads)}
