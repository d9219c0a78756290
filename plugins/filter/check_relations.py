# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: check_relations
short_description: Check the relations between a role's variables, one message per broken relation
version_added: 0.2.0
author: lighttpd_tensorflow.serving maintainers
description:
- The counterpart of check_variables for what no single variable's rule can say (two ports that must differ, a
  certificate source that needs its files, a burst below the rate). The relations live in one Python function
  per role (C(plugins/plugin_utils/checks.py)).
- "Returns one message per broken relation, in the shape C(NAME: got VALUE; allowed: WHAT), naming the variable to
  change, with secrets masked. An empty list means every relation holds."
positional: _input, values
options:
  _input:
    description: The role (C(lighttpd)).
    type: str
    required: true
  values:
    description: Variable name -> value, plus the computed facts the role's relations name (see checks.py).
    type: dict
    required: true
"""

EXAMPLES = r"""
errors: "{{ 'lighttpd' | lighttpd_tensorflow.serving.check_relations({'lighttpd_https_port': 443, 'lighttpd_http_port': 443}) }}"
# -> ["lighttpd_http_port: got 443; allowed: a port other than lighttpd_https_port (443), or 0"]
"""

RETURN = r"""
_value:
  description: One message per broken relation; empty when all hold.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import checks


def check_relations(role, values):
    try:
        return checks.check_relations(role, values)
    except ValueError as err:
        raise AnsibleFilterError("check_relations: %s" % err)


class FilterModule(object):
    """Check the relations between a role's variables."""

    def filters(self):
        return {"check_relations": check_relations}
