"""SIGTERM and SIGINT, never lost: recorded from the first instant of the process, acted on
by the run.

`cronjobs` is PID 1 in its container, and the kernel drops a TERM sent to a PID 1 that has no
handler for it. So the entrypoint (jobs/cronjobs/entry.py) calls `install()` before any other import,
and the handler only records which signal came: no logging, no I/O, no lock (a handler that
writes to stderr can interrupt the main thread's own write to it and fail with "reentrant
call", losing the signal). The run reads the record through `Stop`, its stop flag, and logs
about it there, outside the handler. A signal recorded before the run starts stops it before it
does anything (jobs/cronjobs/runner.py).

Stdlib only, and cheap to import: it is imported before everything else.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

STOPS = (signal.SIGTERM, signal.SIGINT)
POLL = 0.1
"""`Stop.wait` looks at the record this often (seconds)."""

_received = 0
"""The number of the first stop signal received; 0 while none."""
_announced = False


def _record(signum: int, _frame: FrameType | None) -> None:
    global _received
    if not _received:
        _received = signum


def install() -> None:
    """Record SIGTERM and SIGINT from now on (main thread only), and take at once any that
    arrived while blocked (a parent that starts us with them blocked: the kernel keeps a
    blocked signal pending where it would drop an unhandled one sent to a PID 1)."""
    for s in STOPS:
        signal.signal(s, _record)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)


def installed() -> bool:
    return all(signal.getsignal(s) is _record for s in STOPS)


def received() -> signal.Signals | None:
    """The stop signal received, if any."""
    return signal.Signals(_received) if _received else None


def forget() -> None:
    """Clear the record (for a run started in-process after an earlier one was stopped)."""
    global _received, _announced
    _received, _announced = 0, False


def record(signum: int) -> None:
    """Record a stop signal that reached us some other way (an event loop's handler)."""
    _record(signum, None)


def announce(what: str) -> None:
    """Log the signal received, once per process: `received SIGTERM: <what>`. Called by the
    run, never by the handler."""
    global _announced
    got = received()
    if got is None or _announced:
        return
    _announced = True
    import logging

    logging.getLogger(__name__).warning("received %s: %s", got.name, what)


class Stop(threading.Event):
    """A run's stop flag: set by `set()`, or by a stop signal recorded at any time since
    `install()` (before the run started, too). `wait()` wakes within POLL of a signal."""

    def is_set(self) -> bool:
        if _received:
            announce("finishing the batch in hand, then stopping")
            return True
        return super().is_set()

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = POLL if deadline is None else min(POLL, deadline - time.monotonic())
            if left <= 0:
                return False
            super().wait(left)
        return True
