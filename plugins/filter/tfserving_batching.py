# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: tfserving_batching
short_description: TF Serving batching parameters after the official batching guide
version_added: 0.1.0
author: lighttpd_tensorflow.serving maintainers
description:
- C(num_batch_threads) is the CPU count, C(max_enqueued_batches) equals it for online serving (1000 x for offline
  throughput), C(allowed_batch_sizes) are powers of two that increase and end at C(max_batch_size).
- Defaults for O(accelerator=cpu) are C(max_batch_size=32) and C(batch_timeout_micros=0); for O(accelerator=gpu)
  512 and 2000.
positional: _input
options:
  _input:
    description: The number of CPUs.
    type: int
    required: true
  accelerator:
    description: C(cpu) or C(gpu).
    type: str
    default: cpu
  max_batch_size:
    description: Largest batch; the accelerator's default when omitted.
    type: int
  batch_timeout_micros:
    description: How long to wait to fill a batch; the accelerator's default when omitted.
    type: int
  online:
    description: Online serving (small queue, low latency) rather than offline throughput.
    type: bool
    default: true
  max_allowed_sizes:
    description: How many allowed batch sizes at most.
    type: int
    default: 6
  overrides:
    description: Values that replace the computed ones (a user's partial C(tfserving_batching)); the other keys stay
      computed. A C(max_batch_size) here also sets the allowed batch sizes, unless C(allowed_batch_sizes) is given
      too. Keys other than the six returned ones are refused.
    type: dict
"""

EXAMPLES = r"""
batching: "{{ 4 | lighttpd_tensorflow.serving.tfserving_batching }}"
# -> {max_batch_size: 32, batch_timeout_micros: 0, max_enqueued_batches: 4, num_batch_threads: 4,
#     allowed_batch_sizes: [1, 2, 4, 8, 16, 32], pad_variable_length_inputs: false}
"""

RETURN = r"""
_value:
  description: Keys C(max_batch_size), C(batch_timeout_micros), C(max_enqueued_batches), C(num_batch_threads), C(allowed_batch_sizes),
    C(pad_variable_length_inputs).
  type: dict
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """TF Serving batching parameters after the official batching guide."""

    def filters(self):
        return {"tfserving_batching": wrap("tfserving_batching", tuning.tfserving_batching)}
