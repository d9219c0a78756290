# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: model_version_dirs
short_description: The directory of each declared model version, as the tfserving role deploys it
version_added: 0.10.0
author: lighttpd_tensorflow.serving maintainers
description:
- >-
  For each version a C(tfserving_models) list declares, its model's name, the version and its directory:
  C(base_path) (default I(model_dir)/NAME), then the version number. The tfserving role records each deployed
  version's content digest there, and the edges' play reads it back (the model_digests module).
positional: _input, model_dir
options:
  _input:
    description: A C(tfserving_models) list.
    type: list
    required: true
  model_dir:
    description: C(tfserving_model_dir), the default parent of each model's C(base_path).
    type: str
    required: true
  names:
    description: Only these models (all when omitted).
    type: list
    elements: str
"""

EXAMPLES = r"""
versions: "{{ tfserving_models | lighttpd_tensorflow.serving.model_version_dirs(tfserving_model_dir) }}"
"""

RETURN = r"""
_value:
  description: 'A list of C({name, version, path}).'
  type: list
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import prediction_cache
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """The directory of each declared model version."""

    def filters(self):
        return {"model_version_dirs": wrap("model_version_dirs", prediction_cache.version_dirs)}
