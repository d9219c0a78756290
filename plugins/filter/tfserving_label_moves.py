# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: tfserving_label_moves
short_description: The labels a change of models moves, from and to which version
version_added: 0.5.0
author: lighttpd_tensorflow.serving maintainers
description:
- >-
  Compares the models with the models.config TF Serving runs now and returns each label that is new or points at
  another version: its C(model), C(label), its version now (C(from), null for a new label) and after the change
  (C(to)).
- >-
  Empty when there is no running config. The edges' prediction cache uses it to answer a moving label with its new version
  while the model servers move it (docs/cache.md).
positional: _input, running_config
options:
  _input:
    description: Model definitions, as for the tfserving_models_config filter.
    type: list
    required: true
  running_config:
    description: The models.config text TF Serving runs now.
    type: str
    required: true
"""

EXAMPLES = r"""
moves: "{{ models | lighttpd_tensorflow.serving.tfserving_label_moves(running_config) }}"
"""

RETURN = r"""
_value:
  description: 'C([{model, label, from, to}]).'
  type: list
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """The labels a change of models moves, from and to which version."""

    def filters(self):
        return {"tfserving_label_moves": wrap("tfserving_label_moves", tuning.label_moves)}
