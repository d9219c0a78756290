# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: lighttpd_certificate_renewal_reason
short_description: Why an edge's leaf certificate must be issued again, or an empty string
version_added: 0.1.0
author: lighttpd_tensorflow.serving maintainers
description:
- Returns an empty string when the leaf may stay. A leaf is issued again when it is missing, does not belong to
  the host's key, was issued by another CA, names other names or addresses than wanted, or has O(remaining_share)
  or less of its lifetime left.
positional: _input, wanted_names, public_key
options:
  _input:
    description: The leaf as C(community.crypto.x509_certificate_info) describes it; empty when there is none.
    type: dict
    required: true
  wanted_names:
    description: The subjectAltName entries the leaf must carry (C(lighttpd_certificate_names)).
    type: list
    elements: str
    required: true
  public_key:
    description: The host key's public key in PEM (C(community.crypto.openssl_privatekey_info)).
    type: str
    required: true
  ca_key_id:
    description: The CA's subject key identifier; null for a self-signed leaf.
    type: str
  remaining_share:
    description: Renew when this share of the lifetime or less is left.
    type: float
    default: 0.33
"""

EXAMPLES = r"""
reason: "{{ leaf_info | lighttpd_tensorflow.serving.lighttpd_certificate_renewal_reason(names, key_info.public_key,
           ca_key_id=ca_info.subject_key_identifier) }}"
# -> "" or, for example, "less than 33% of its lifetime left (expires 2026-03-01T00:00:00+00:00)"
"""

RETURN = r"""
_value:
  description: The reason, or an empty string.
  type: str
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.certificates import renewal_reason  # noqa: E402


class FilterModule(object):
    def filters(self):
        return {"lighttpd_certificate_renewal_reason": renewal_reason}
