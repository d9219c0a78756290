# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: lighttpd_tls_settings
short_description: ssl.openssl.ssl-conf-cmd values for a Mozilla TLS profile
version_added: 0.1.0
author: lighttpd_tensorflow.serving maintainers
description:
- 'Follows Mozilla''s server-side TLS guideline 6.0: C(modern) is TLS 1.3 only; C(intermediate) adds TLS 1.2 with
  the ECDHE AEAD cipher suites.'
- C(X25519MLKEM768) leads the groups when OpenSSL is 3.5 or newer. The server's cipher order is not preferred.
- 'Session tickets are disabled unless O(session_tickets=true): lighttpd keeps ticket keys for 8 hours and has no
  lifetime setting. With OpenSSL 3.0 or newer C(NumTickets=0) is added too, so TLS 1.3 sends no ticket at all.'
positional: _input, lighttpd_version, openssl_version
options:
  _input:
    description: The profile, C(modern) or C(intermediate).
    type: str
    required: true
  lighttpd_version:
    description: Installed lighttpd version (1.4.56 or newer).
    type: str
    required: true
  openssl_version:
    description: Installed OpenSSL version, for example C(3.0.19).
    type: str
    required: true
  session_tickets:
    description: Allow TLS session tickets (resumption).
    type: bool
    default: false
"""

EXAMPLES = r"""
tls: "{{ 'intermediate' | lighttpd_tensorflow.serving.lighttpd_tls_settings('1.4.69', '3.0.19') }}"
# -> {MinProtocol: TLSv1.2, CipherString: ECDHE-ECDSA-AES128-GCM-SHA256:..., Ciphersuites: ...,
#     Groups: X25519:prime256v1:secp384r1, Options: -ServerPreference,-SessionTicket, NumTickets: '0'}
"""

RETURN = r"""
_value:
  description: SSL_CONF keys (C(MinProtocol), C(CipherString) for intermediate, C(Ciphersuites), C(Groups), C(Options),
    C(NumTickets) without tickets) and their values.
  type: dict
"""

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import tuning
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.filters import wrap


class FilterModule(object):
    """ssl.openssl.ssl-conf-cmd values for a Mozilla TLS profile."""

    def filters(self):
        return {"lighttpd_tls_settings": wrap("lighttpd_tls_settings", tuning.lighttpd_tls_settings)}
