# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: tfserving_expected_labels
short_description: The version each label of each model must answer with
version_added: 0.5.0
author: lighttpd_tensorflow.serving maintainers
description:
- >-
  One entry per label of each model: C(model), C(label) and the C(version) TF Serving must answer it with
  (C(GET /v1/models/MODEL/labels/LABEL/metadata)); the tfserving role waits for each after it moves labels.
positional: _input
options:
  _input:
    description: Model definitions, as for the tfserving_models_config filter.
    type: list
    required: true
"""

EXAMPLES = r"""
expected: "{{ models | lighttpd_tensorflow.serving.tfserving_expected_labels }}"
"""

RETURN = r"""
_value:
  description: 'C([{model, label, version}]).'
  type: list
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """The version each label of each model must answer with."""

    def filters(self):
        return {"tfserving_expected_labels": wrap("tfserving_expected_labels", tuning.expected_labels)}
