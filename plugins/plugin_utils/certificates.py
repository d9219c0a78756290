# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)
"""Certificate decisions of the lighttpd role, in plain Python (no Ansible import).

``certificate_names`` lists the subjectAltName entries of an edge's leaf; ``renewal_reason``
says why a leaf must be issued again, or returns "" when the one on the host is still good.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress


def _ip(value):
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def certificate_names(facts, server_name, inventory_hostname="", extra=None):
    """Every DNS name and address the host answers to, server name first, as SAN entries."""
    facts = facts or {}
    names = [server_name, inventory_hostname, facts.get("fqdn", ""), facts.get("hostname", ""), "localhost"]
    names += list(extra or [])
    names += list(facts.get("all_ipv4_addresses") or []) + ["127.0.0.1"]
    names += [a for a in facts.get("all_ipv6_addresses") or [] if not _ip(a) or not _ip(a).is_link_local]
    names += ["::1"]
    entries = []
    for name in names:
        name = str(name or "").strip()
        if not name or name == "localhost.localdomain":
            continue
        address = _ip(name)
        entry = "IP:%s" % address if address else "DNS:%s" % name.rstrip(".").lower()
        if entry not in entries:
            entries.append(entry)
    return entries


def _time(value):
    """A time from x509_certificate_info (20260101120000Z) as an aware datetime."""
    return datetime.datetime.strptime(str(value), "%Y%m%d%H%M%SZ").replace(tzinfo=datetime.timezone.utc)


def renewal_reason(leaf, wanted_names, public_key, ca_key_id=None, remaining_share=0.33, now=None):
    """Why the leaf described by ``leaf`` (x509_certificate_info's result) must be issued again.

    Returns "" when it may stay: it exists, belongs to the host's key (``public_key``), was
    issued by the current CA (``ca_key_id``: the CA's subject key identifier; None for a
    self-signed leaf), names exactly ``wanted_names``, and more than ``remaining_share`` of its
    lifetime is left at ``now`` (an aware datetime; the current time by default).
    """
    if not leaf or not leaf.get("not_after"):
        return "no certificate yet"
    if leaf.get("public_key") != public_key:
        return "the certificate does not belong to the host's key"
    if ca_key_id is not None and leaf.get("authority_key_identifier") != ca_key_id:
        return "issued by another CA"
    if sorted(leaf.get("subject_alt_name") or []) != sorted(_normalised(wanted_names)):
        return "the host's names or addresses changed"
    now = now or datetime.datetime.now(datetime.timezone.utc)
    start, end = _time(leaf["not_before"]), _time(leaf["not_after"])
    lifetime = (end - start).total_seconds()
    left = (end - now).total_seconds()
    if lifetime <= 0 or left <= float(remaining_share) * lifetime:
        return "less than %d%% of its lifetime left (expires %s)" % (round(float(remaining_share) * 100), end.isoformat())
    return ""


def _normalised(entries):
    """SAN entries as x509_certificate_info reports them (IPv6 addresses compressed)."""
    result = []
    for entry in entries:
        if entry.startswith("IP:") and _ip(entry[3:]):
            entry = "IP:%s" % _ip(entry[3:])
        result.append(entry)
    return result
