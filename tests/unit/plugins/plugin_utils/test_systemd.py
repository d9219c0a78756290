"""systemd_units_ready: a unit counts as ready (its "enable and start" task skipped) only when
systemctl show says exactly enabled and active; anything else, or anything it cannot read, runs
the task."""
import pytest
from hypothesis import given, strategies as st

from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils import systemd
from ansible_collections.lighttpd_tensorflow.serving.plugins.plugin_utils.tuning import TuningError

# What systemctl 252 prints for `systemctl show --property=Id,UnitFileState,ActiveState A B C`.
SHOWN = """Id=lighttpd@edge.socket
ActiveState=active
UnitFileState=enabled

Id=lighttpd@static.service
ActiveState=activating
UnitFileState=enabled

Id=lighttpd-edge-exporter.service
ActiveState=inactive
UnitFileState=

Id=tfserving.service
ActiveState=active
UnitFileState=enabled-runtime
"""


def test_only_enabled_and_active_units_are_ready():
    assert systemd.units_ready(SHOWN) == ["lighttpd@edge.socket"]
    assert systemd.units_ready("") == []


def test_anything_but_the_output_is_refused():
    with pytest.raises(TuningError):
        systemd.units_ready(None)


UNIT_FILE_STATES = ["enabled", "enabled-runtime", "static", "disabled", "masked", "indirect", ""]
ACTIVE_STATES = ["active", "activating", "reloading", "inactive", "failed", "deactivating"]


@given(st.lists(st.tuples(st.sampled_from(UNIT_FILE_STATES), st.sampled_from(ACTIVE_STATES), st.permutations(range(3))),
                max_size=6))
def test_ready_exactly_when_enabled_and_active_whatever_the_order_of_the_lines(units):
    blocks, expected = [], []
    for index, (file_state, active_state, order) in enumerate(units):
        unit = "unit%d.service" % index
        lines = ["Id=" + unit, "UnitFileState=" + file_state, "ActiveState=" + active_state]
        blocks.append("\n".join(lines[i] for i in order))
        if file_state == "enabled" and active_state == "active":
            expected.append(unit)
    assert systemd.units_ready("\n\n".join(blocks) + ("\n" if blocks else "")) == expected
