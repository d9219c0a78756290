# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: check_variables
short_description: Check role variables against named rules (types, ranges, formats, identities)
version_added: 0.1.0
author: lighttpd_tensorflow.serving maintainers
description:
- The roles call it at their start, before any task changes the host. Each variable is named with a rule
  (for example C(port), C(path), C(host), C(unprivileged_account), C(text)); the rules live in one Python table
  (C(plugins/plugin_utils/checks.py)), so no rule is written twice.
- "Returns one message per variable that breaks its rule, in one shape (C(NAME: got VALUE; allowed: WHAT)), with
  secrets (key and certificate contents, tokens, passwords) masked. An empty list means every value is allowed."
positional: _input, values
options:
  _input:
    description: Variable name -> rule name.
    type: dict
    required: true
  values:
    description: Variable name -> value (for example from C(query('ansible.builtin.vars', ...))).
    type: dict
    required: true
"""

EXAMPLES = r"""
errors: "{{ {'lighttpd_https_port': 'port'} | lighttpd_tensorflow.serving.check_variables({'lighttpd_https_port': 0}) }}"
# -> ["lighttpd_https_port: got 0; allowed: a port number 1-65535"]
"""

RETURN = r"""
_value:
  description: One message per variable that breaks its rule; empty when all are allowed.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import checks


def check_variables(rules, values):
    if not isinstance(rules, dict) or not isinstance(values, dict):
        raise AnsibleFilterError("check_variables: rules and values must be dicts")
    try:
        return checks.check_variables(rules, values)
    except ValueError as err:
        raise AnsibleFilterError("check_variables: %s" % err)


class FilterModule(object):
    """Check role variables against named rules."""

    def filters(self):
        return {"check_variables": check_variables}
