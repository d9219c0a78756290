# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: tfserving_models_config
short_description: Render TF Serving's models.config (ModelServerConfig text proto)
version_added: 0.1.0
author: lighttpd_tensorflow.serving maintainers
description:
- Validates each model (name of letters, digits, C(_.-); absolute base path; platform C(tensorflow) or C(tflite);
  version policy C(latest), C(specific) or C(all); labels mapping to positive versions) and renders the text proto
  with correct quoting.
- Names or paths with quotes, spaces or newlines are refused, not escaped into the file.
positional: _input
options:
  _input:
    description: 'Model definitions: C(name), C(base_path), optional C(platform), C(version_policy) (C({latest:
      N}), C({specific: [..]}) or C(all)) and C(labels) (label -> version).'
    type: list
    required: true
"""

EXAMPLES = r"""
models:
  - name: half_plus_two
    base_path: /var/lib/tfserving/models/half_plus_two
    version_policy: {latest: 1}
    labels: {stable: 123}
models_config: "{{ models | lighttpd_tensorflow.serving.tfserving_models_config }}"
"""

RETURN = r"""
_value:
  description: The models.config text.
  type: str
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """Render TF Serving's models.config (ModelServerConfig text proto)."""

    def filters(self):
        return {"tfserving_models_config": wrap("tfserving_models_config", tuning.tfserving_models_config)}
