# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)
"""Certificate decisions of the edge_certificate role, in plain Python (no Ansible import).

``certificate_names`` lists the subjectAltName entries of an edge's leaf; ``renewal_reason``
says why a leaf must be issued again, or returns "" when the one on the host is still good.
``lifetime_reason`` is the renewal rule itself (less than a share of the lifetime left). The
role copies this file to each edge, where lighttpd-edge-cert runs the same rule for ACME
certificates: ``python3 certificates.py lifetime-reason NOT_BEFORE NOT_AFTER SHARE`` (epoch
seconds) prints the reason, or nothing when the certificate is not due.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import sys


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
    return lifetime_reason(_time(leaf["not_before"]), _time(leaf["not_after"]), remaining_share, now)


def lifetime_reason(not_before, not_after, remaining_share, now=None):
    """The renewal rule: a reason when no more than ``remaining_share`` of the lifetime from
    ``not_before`` to ``not_after`` (aware datetimes) is left at ``now``; else ""."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    lifetime = (not_after - not_before).total_seconds()
    left = (not_after - now).total_seconds()
    if lifetime <= 0 or left <= float(remaining_share) * lifetime:
        return "less than %d%% of its lifetime left (expires %s)" % (round(float(remaining_share) * 100), not_after.isoformat())
    return ""


def _normalised(entries):
    """SAN entries as x509_certificate_info reports them (IPv6 addresses compressed)."""
    result = []
    for entry in entries:
        if entry.startswith("IP:") and _ip(entry[3:]):
            entry = "IP:%s" % _ip(entry[3:])
        result.append(entry)
    return result


def _epoch(value):
    return datetime.datetime.fromtimestamp(int(value), datetime.timezone.utc)


def main(argv):
    """lifetime-reason NOT_BEFORE NOT_AFTER SHARE (epoch seconds): print why the certificate is
    due for renewal, or nothing. Exit 2 on bad arguments."""
    if len(argv) != 5 or argv[1] != "lifetime-reason":
        sys.stderr.write("usage: certificates.py lifetime-reason NOT_BEFORE NOT_AFTER SHARE\n")
        return 2
    try:
        reason = lifetime_reason(_epoch(argv[2]), _epoch(argv[3]), float(argv[4]))
    except (ValueError, OverflowError, OSError) as error:
        sys.stderr.write("certificates.py: %s\n" % error)
        return 2
    if reason:
        sys.stdout.write(reason + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
