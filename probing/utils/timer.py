"""One timer for the stage timings a run records and the step timings an extraction records, so
that both are measured, summed and rounded the same way."""

from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter


class Laps:
    """Wall-clock seconds spent in named stages, summed where a stage recurs.

    Two ways to time a stage: `laps("read")` ends a lap, the seconds since the previous lap (or
    since the timer was made) going to "read"; `with laps.timing("forward"):` adds the seconds
    the block takes, for steps that interleave with others.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lap_start = perf_counter()

    def __call__(self, stage: str) -> None:
        now = perf_counter()
        self._add(stage, now - self._lap_start)
        self._lap_start = now

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        start = perf_counter()
        try:
            yield
        finally:
            self._add(stage, perf_counter() - start)

    @property
    def timings(self) -> dict[str, float]:
        """Each stage's seconds to the hundredth, for a record."""
        return {stage: round(seconds, 2) for stage, seconds in self.seconds.items()}

    def total(self) -> float:
        return round(sum(self.seconds.values()), 3)

    def _add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
