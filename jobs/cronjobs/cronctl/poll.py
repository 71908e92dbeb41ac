"""The polling loop that `trigger --wait`, `suspend --wait` and a keeper request share."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from cronjobs.cronctl.errors import WaitTimeout

T = TypeVar("T")


def poll_until(
    probe: Callable[[float], T | None],
    *,
    timeout: float,
    interval: float,
    gave_up: Callable[[], str],
) -> T:
    """Call `probe(deadline)` (a `time.monotonic()` instant) every `interval` s until it
    returns something other than None, and return that; WaitTimeout (exit 5) with the message
    `gave_up()` once `timeout` s have passed."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe(deadline)
        if found is not None:
            return found
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(gave_up())
        time.sleep(min(interval, remaining))
