# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: fleet_addresses
short_description: The validated IP address of each peer host (edges and model servers)
version_added: 0.1.0
author: lighttpd_tensorflow.serving maintainers
description:
- One source of addresses for both roles. For each host, the first value that is set wins - the host variable
  C(fleet_address), the default IPv4 address from the host's facts, then C(ansible_host) when it is an IP address.
- Every value used must be an IP address; anything else (a fact or variable holding quotes, line breaks or a
  name) fails with an error naming the host, so no host can inject text into a configuration.
- The roles gather the facts of peers that have neither C(fleet_address) nor facts before they call it, so an
  address does not change with C(--limit) or an expired fact cache.
positional: _input, hostvars
options:
  _input:
    description: Inventory host names, for example C(groups['tfserving']).
    type: list
    elements: str
    required: true
  hostvars:
    description: The variables of every host (C(hostvars)).
    type: dict
    required: true
"""

EXAMPLES = r"""
backend_addresses: "{{ groups['tfserving'] | lighttpd_tensorflow.serving.fleet_addresses(hostvars) | map(attribute='address') }}"
# -> ['10.0.0.5', '10.0.0.6']; a host whose fleet_address or default IPv4 fact is not an IP address fails the play
"""

RETURN = r"""
_value:
  description: One dict per host, with keys C(host) and C(address) (a normalised IP address), in the order given.
  type: list
  elements: dict
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """The validated IP address of each peer host."""

    def filters(self):
        return {"fleet_addresses": wrap("fleet_addresses", tuning.fleet_addresses)}
