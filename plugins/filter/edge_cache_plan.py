# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: edge_cache_plan
short_description: Resolve each cached model's URL forms to the model version that answers them
version_added: 0.2.0
author: lighttpd_tensorflow.serving maintainers
description:
- For each model in C(edge_cache_models), lists the URL forms the edge's prediction cache answers (the
  model alone, each label, each served version) with the explicit version a miss is fetched from and the
  version part of the cache key (model/version/digest of the files the model servers deployed for it).
- The version comes from the model servers' C(tfserving_models), the list the tfserving role deploys; a form
  whose version that list does not declare is left out (never cached), and so is every form of a model whose
  C(version_policy) is not C(specific) (under C(latest) or C(all), TF Serving serves the version directories
  on disk, which the list does not fix).
- A version is cached only while every model server that has it deployed recorded the same content digest
  (I(digests)); with C(disagreements=true), returns the messages naming the cached versions left out for their
  content instead of the plan.
- With C(problems=true), returns the messages naming C(edge_cache_models) for a model no model server
  serves, that the model servers define differently, or that is not served with a C(specific) version policy,
  instead of the plan.
positional: _input
options:
  _input:
    description: C(edge_cache_models), a list of C({model, routes}).
    type: list
    required: true
  served:
    description: Every model server's C(tfserving_models) (a list of lists).
    type: list
    required: true
  problems:
    description: Return the problems instead of the plan.
    type: bool
    default: false
  moves:
    description: >-
      Every model server's C(tfserving_label_moves) (deploy_models.yml, while the model servers move labels). A label
      form moving to its version gets C(accept), the versions a model server may still answer the label with while the
      edge answers it with the new one.
    type: list
    default: []
  accept_for:
    description: >-
      How long the edge's checker honours C(accept), in seconds from when it first sees the form, measured on the
      edge's own clock (a roll-out stopped half-way ends it).
    type: int
    default: 0
  run:
    description: Tells one run's table from the next (each run's C(accept) opens a new window on the edge).
    type: str
    default: ""
  digests:
    description: >-
      What each model server that answered recorded of its versions' files: C({server, digests}), digests being the
      model_digests module's list. A version no model server has deployed is not cached.
    type: list
    default: []
  disagreements:
    description: Return the messages for the versions left out for their content instead of the plan.
    type: bool
    default: false
"""

EXAMPLES = r"""
plan: "{{ edge_cache_models | lighttpd_tensorflow.serving.edge_cache_plan(served=served_lists) }}"
"""

RETURN = r"""
_value:
  description: 'A list of C({name, routes, forms: [{kind, path, version, fetch, key, regex, label, accept, accept_for, accept_run}]}), or a list of messages.'
  type: list
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import prediction_cache
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


def edge_cache_plan(cache_models, served, problems=False, moves=None, accept_for=0, run="", digests=None,
                    disagreements=False):
    if problems:
        return prediction_cache.cache_problems(cache_models, served)
    if disagreements:
        return prediction_cache.cache_disagreements(cache_models, digests)
    plan = prediction_cache.cache_plan(cache_models, served, moves, accept_for, run, digests)
    for model in plan:
        for form in model["forms"]:
            form["regex"] = prediction_cache.vcl_regex(form["path"], model["routes"])
    return plan


class FilterModule(object):
    """Resolve each cached model's URL forms to the model version that answers them."""

    def filters(self):
        return {"edge_cache_plan": wrap("edge_cache_plan", edge_cache_plan)}
