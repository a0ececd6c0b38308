"""The one exception type a user is meant to read, and how entry points report it."""

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TypeVar

from omegaconf.errors import OmegaConfBaseException

E = TypeVar("E", bound=StrEnum)


class ProbingError(Exception):
    """Bad input or configuration, with a message that says where and what to do.

    Entry points print it without a traceback: it reports a problem with the user's data or
    settings, not a bug in the code.
    """


def user_error(error: BaseException | None) -> Exception | None:
    """The ProbingError or configuration error behind `error`, also where Hydra wrapped it
    while building an object from its config; None for anything else (a bug)."""
    while error is not None:
        if isinstance(error, ProbingError | OmegaConfBaseException):
            return error
        error = error.__cause__
    return None


@contextmanager
def reported_without_traceback() -> Iterator[None]:
    """For entry points: report a user error in one message and exit with status 1. Under
    Hydra the message goes to the run's log as well; plain command lines print it."""
    try:
        yield
    except Exception as e:
        error = user_error(e)
        if error is None:
            raise
        if logging.getLogger().hasHandlers():
            logging.getLogger("probing").error("%s", error)
        else:
            print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


@contextmanager
def failure_recorded(record: Callable[[BaseException, bool], None], go_on: bool = True
                     ) -> Iterator[None]:
    """An exception is handed to `record(error, is_user_error)` (which writes the failure
    record). For one job of a sweep (`go_on`) it ends this job and not the sweep: it is logged,
    a user error as its message and a bug with its traceback, and the job returns normally, so
    that the launcher goes on to the next job. Otherwise it is raised on."""
    try:
        yield
    except Exception as e:
        error = user_error(e)
        if not go_on:
            record(error or e, error is not None)
            raise
        log = logging.getLogger("probing")
        if error is None:
            log.exception("this job failed (a bug, not a setting; the sweep goes on)")
            record(e, False)
        else:
            log.error("this job failed (the sweep goes on): %s", error)
            record(error, True)


def setting_choice(setting: str, value: str, choices: type[E]) -> E:
    """`value` as a member of `choices`, or an error naming the setting and what it allows."""
    try:
        return choices(value)
    except ValueError:
        allowed = " | ".join(choice.value for choice in choices)
        raise ProbingError(f"{setting}={value!r} is not one of: {allowed}") from None


def check_range(setting: str, value: float, low: float, high: float = float("inf"),
                low_open: bool = False) -> None:
    """Refuse a numeric setting outside [low, high] (or (low, high]), naming it and the range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProbingError(f"{setting}={value!r} is not a number")
    if not (low < value if low_open else low <= value) or value > high:
        bracket = "(" if low_open else "["
        raise ProbingError(f"{setting}={value} is out of range: allowed {bracket}{low}, {high}]")


def check_integer(setting: str, value: object, low: int = 1) -> None:
    """Refuse a count (a size, a rank) that is not a whole number of at least `low`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ProbingError(f"{setting}={value!r}: it must be a whole number of at least {low}")
