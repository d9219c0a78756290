# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: edge_cache_route
short_description: The paths the edge routes to its prediction cache, as one anchored regular expression
version_added: 0.2.0
author: lighttpd_tensorflow.serving maintainers
description:
- Each cached model's unversioned, versioned and labelled paths, on its cached routes (default C(predict)).
- Wider than the cache's table on purpose - the cache passes, uncached, a form it cannot resolve.
positional: _input
options:
  _input:
    description: C(edge_cache_models), a list of C({model, routes}).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
route: "{{ [{'model': 'half_plus_two'}] | lighttpd_tensorflow.serving.edge_cache_route }}"
# -> ^/v1/models/(half_plus_two(/versions/[0-9]+|/labels/[A-Za-z0-9_.-]+)?:(predict))$
"""

RETURN = r"""
_value:
  description: A PCRE anchored at both ends, for lighttpd's C($HTTP["url"] =~).
  type: str
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import prediction_cache
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """The paths the edge routes to its prediction cache."""

    def filters(self):
        return {"edge_cache_route": wrap("edge_cache_route", prediction_cache.route_regex)}
