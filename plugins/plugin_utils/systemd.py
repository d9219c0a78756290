# -*- coding: utf-8 -*-
# Copyright: lighttpd_tensorflow.serving contributors
# Apache License 2.0 (see LICENSE)
"""What `systemctl show` says about units, read once for several of them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.tuning import TuningError


def units_ready(show_output):
    """The units that `systemctl show --property=Id,UnitFileState,ActiveState UNIT...` (its
    SHOW_OUTPUT) reports enabled and active: what an `enabled: true, state: started` task would
    leave as it is. Anything else (static, enabled-runtime, activating, a unit systemd does not
    know) is not ready, so the task runs."""
    if not isinstance(show_output, str):
        raise TuningError("expected the output of systemctl show as a string, got %r" % (show_output,))
    ready = []
    for block in show_output.split("\n\n"):
        properties = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if properties.get("UnitFileState") == "enabled" and properties.get("ActiveState") == "active" \
                and properties.get("Id"):
            ready.append(properties["Id"])
    return ready
