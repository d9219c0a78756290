# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: tfserving_version_dirs_to_remove
short_description: The model version directories the tfserving role removes
version_added: 0.6.0
author: lighttpd_tensorflow.serving maintainers
description:
- >-
  Without O(keep) (before C(models.config) is written): under C(latest) or C(all), the directories of versions newer
  than every version the role deploys for that model, unless a label names them. TF Serving serves the newest
  directories on disk under those policies, so a roll-back converges only once they are gone.
- >-
  With O(keep) (once the labels have moved): every directory beyond the newest O(keep) of each model, never a
  labelled, C(specific) or newest deployed version.
positional: _input, versions, found, keep
options:
  _input:
    description: The tfserving role's models (C(tfserving_models) without their versions), as for tfserving_models_config.
    required: true
    type: list
  versions:
    description: Every version the role deploys, as for tfserving_expected_versions (C(name) and C(version) of each).
    default: []
    type: list
    elements: dict
  found:
    description: >-
      The results of M(ansible.builtin.find) looped over the models, each with C(item.name) and C(files[].path); a
      path whose last part is not a version is ignored.
    type: list
    elements: dict
    default: []
  keep:
    description: How many of the newest versions of each model to keep; omitted, only the newer ones are returned.
    type: int
"""

EXAMPLES = r"""
rolled_back: "{{ models | lighttpd_tensorflow.serving.tfserving_version_dirs_to_remove(versions, found.results) }}"
pruned: "{{ models | lighttpd_tensorflow.serving.tfserving_version_dirs_to_remove(versions, found.results, 3) }}"
"""

RETURN = r"""
_value:
  description: The paths to remove, sorted.
  type: list
  elements: str
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """The model version directories the tfserving role removes."""

    def filters(self):
        return {"tfserving_version_dirs_to_remove": wrap("tfserving_version_dirs_to_remove",
                                                         tuning.version_dirs_to_remove)}
