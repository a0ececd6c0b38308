"""The one timer: laps of a run's stages and summed steps of an extraction, on a fake clock."""

import pytest

from probing.utils import timer
from probing.utils.timer import Laps


@pytest.fixture
def clock(monkeypatch):
    """perf_counter as a list of readings, taken in turn."""
    readings: list[float] = []
    monkeypatch.setattr(timer, "perf_counter", lambda: readings.pop(0))
    return readings


def test_laps_time_each_stage_since_the_previous_one(clock):
    clock.extend([10.0, 11.234, 15.0])
    laps = Laps()
    laps("read")
    laps("extract")
    assert laps.timings == {"read": 1.23, "extract": 3.77}


def test_timed_steps_are_summed_over_their_blocks(clock):
    clock.extend([0.0, 1.0, 1.5, 2.0, 4.0, 4.0, 4.25])
    laps = Laps()
    for step in ("forward", "pool", "forward"):
        with laps.timing(step):
            pass
    assert laps.seconds == {"forward": 0.75, "pool": 2.0}
    assert laps.total() == 2.75


def test_a_step_that_raises_is_still_counted(clock):
    clock.extend([0.0, 1.0, 3.0])
    laps = Laps()
    with pytest.raises(ValueError), laps.timing("write"):
        raise ValueError
    assert laps.seconds == {"write": 2.0}
