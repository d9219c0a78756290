# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: tfserving_versions_above_declared
short_description: The version directories a roll-back under latest or all removes
version_added: 0.7.0
author: lighttpd_tensorflow.serving maintainers
description:
- >-
  Under C(latest) or C(all) TF Serving serves the version directories on disk, not the declared list: a version taken
  out of the model's C(versions) (a roll-back) would stay served while its directory stays. Returns, for each such
  model that declares at least one version, the directories numbered above its newest declared version that no model
  with the same base path declares, labels or lists under C(specific). Directories placed there by other means
  (by hand, a pipeline) go too.
- Models under C(specific), and models that declare no version (their versions come from elsewhere), keep everything.
positional: _input, versions, on_disk
options:
  _input:
    description: Model definitions, as for the tfserving_models_config filter.
    type: list
    required: true
  versions:
    description: The versions the role deploys, dicts with C(name) (the model) and C(version).
    type: list
    elements: dict
    required: true
  on_disk:
    description: "C({model: [version directory paths]}), the directories found under each model's base path."
    type: dict
    required: true
"""

EXAMPLES = r"""
remove: "{{ models | lighttpd_tensorflow.serving.tfserving_versions_above_declared(versions, {'m': ['/srv/m/2']}) }}"
"""

RETURN = r"""
_value:
  description: The paths to remove, sorted per model.
  type: list
  elements: str
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """The version directories a roll-back under latest or all removes."""

    def filters(self):
        return {"tfserving_versions_above_declared": wrap("tfserving_versions_above_declared",
                                                          tuning.versions_above_declared)}
