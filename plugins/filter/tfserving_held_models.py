# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: tfserving_held_models
short_description: The model list TF Serving loads first, labels kept where they point now
version_added: 0.5.0
author: lighttpd_tensorflow.serving maintainers
description:
- >-
  TF Serving answers a label whose version is not AVAILABLE yet with 404 (or, without
  C(--allow_version_labels_for_unavailable_models), refuses the whole config). The tfserving role therefore applies a change
  in two steps: first this list (every label the change moves kept where TF Serving points it now, that version kept
  loaded under a specific policy, a new label left out), then, once the new versions are AVAILABLE, the models as given.
- >-
  Equal to the canonical form of the models when no label moves. Under C(latest) or C(all) policies labels are not held
  (TF Serving loads what is on disk and may unload the held version meanwhile).
positional: _input, running_config
options:
  _input:
    description: Model definitions, as for the tfserving_models_config filter.
    type: list
    required: true
  running_config:
    description: The models.config text TF Serving runs now (empty when there is none; then nothing is held).
    type: str
    required: true
  answers:
    description: >-
      The tfserving role's questions to TF Serving (C(ansible.builtin.uri) results whose C(item) is a
      C(tfserving_label_moves) entry). A label is held only if TF Serving answers it now with the version it moves
      from; a label already broken moves at once.
    type: list
    elements: dict
"""

EXAMPLES = r"""
held: "{{ models | lighttpd_tensorflow.serving.tfserving_held_models(running_config) }}"
"""

RETURN = r"""
_value:
  description: The canonical model list of the first step.
  type: list
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """The model list TF Serving loads first, labels kept where they point now."""

    def filters(self):
        return {"tfserving_held_models": wrap("tfserving_held_models", tuning.held_models)}
