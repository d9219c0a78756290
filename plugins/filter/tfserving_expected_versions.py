# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: tfserving_expected_versions
short_description: The versions of each model TF Serving must report AVAILABLE
version_added: 0.5.0
author: lighttpd_tensorflow.serving maintainers
description:
- >-
  Per model, its labelled and C(specific) versions; under C(latest) or C(all) also the newest version the role
  deploys for it (the versions option).
positional: _input, versions
options:
  _input:
    description: Model definitions, as for the tfserving_models_config filter.
    type: list
    required: true
  versions:
    description: The versions the role deploys, dicts with C(name) (the model) and C(version).
    type: list
    elements: dict
    default: []
"""

EXAMPLES = r"""
expected: "{{ models | lighttpd_tensorflow.serving.tfserving_expected_versions(versions) }}"
"""

RETURN = r"""
_value:
  description: 'C({model: [versions]}).'
  type: dict
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """The versions of each model TF Serving must report AVAILABLE."""

    def filters(self):
        return {"tfserving_expected_versions": wrap("tfserving_expected_versions", tuning.expected_versions)}
