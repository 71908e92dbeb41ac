"""Finding the app's jobs without editing this project.

Two ways, both importing modules whose `@job(...)` decorators register the jobs:
- an installed package declares an entry point in its own pyproject.toml:

      [project.entry-points."cronjobs.jobs"]
      shop = "shop.jobs"          # a module (its @job functions register on import)

- an app that is not packaged names its modules in CRONJOBS_JOB_MODULES (comma-separated;
  the working directory is importable, as with `python -m`).

Discovery runs only when a command needs the full list (`cronjobs --help`, `list`,
`chart-values`) or a name that is not a built-in: `cronjobs health-check` imports nothing of the
app. A module that fails to import is a configuration error naming it (exit 2), and so is one
that takes longer than CRONJOBS_IMPORT_TIMEOUT seconds (default 30) to import: a module that
connects or waits at import time would otherwise hang even `cronjobs --help`.
"""

from __future__ import annotations

import importlib
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from cronjobs.errors import ConfigError
from cronjobs.redact import scrub

GROUP = "cronjobs.jobs"
ENV = "CRONJOBS_JOB_MODULES"
TIMEOUT_ENV = "CRONJOBS_IMPORT_TIMEOUT"
DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 3600.0

_done = False
_failed: ConfigError | None = None


def discover(environ: Mapping[str, str] | None = None) -> list[str]:
    """Import every job module (once per process); return where each came from."""
    global _done, _failed
    if _failed is not None:
        raise _failed  # the same error each time it is asked, not a partial registry
    if _done:
        return []
    try:
        found = _discover(environ)
    except ConfigError as e:
        _failed = e
        raise
    _done = True
    return found


def _discover(environ: Mapping[str, str] | None) -> list[str]:
    found: list[str] = []
    for ep in _entry_points(GROUP):
        source = f"entry point {ep.name!r} ({GROUP}) of {_dist(ep)}"
        _load(ep.value, source, ep.load)
        found.append(source)
    env = os.environ if environ is None else environ
    for module in [m.strip() for m in (env.get(ENV) or "").split(",") if m.strip()]:
        source = f"{ENV} module {module!r}"
        import_module(module, source)
        found.append(source)
    return found


def _entry_points(group: str) -> list[Any]:
    """The installed entry points of `group`. importlib.metadata costs `cronjobs --help` about
    as much as everything else it imports (its email parser, zipfile, csv): it is used only when
    some distribution may declare the group (`_may_declare`)."""
    if not _may_declare(group):
        return []
    from importlib.metadata import entry_points

    return list(entry_points(group=group))


def _may_declare(group: str) -> bool:
    """Whether any distribution on sys.path may declare `group`: the entry_points.txt of each
    `*.dist-info` and `*.egg-info` folder is read as text. What cannot be read that way (an
    `*.egg`, a zip on sys.path) counts as "may", and importlib.metadata looks."""
    for folder in sys.path:
        path = folder or "."
        if os.path.isfile(path):
            return True
        try:
            names = os.listdir(path)
        except OSError:
            continue
        for name in names:
            if name.endswith(".egg"):
                return True
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(path, name, "entry_points.txt"), encoding="utf-8") as f:
                    if group in f.read():
                        return True
            except (OSError, UnicodeDecodeError):
                continue
    return False


def _dist(ep: object) -> str:
    dist = getattr(ep, "dist", None)
    return f"package {dist.name}" if dist is not None else "an installed package"


def import_module(name: str, source: str) -> ModuleType:
    """Import one of the app's modules (the working directory importable, as with `python -m`);
    a failure is a ConfigError naming it and `source`, its message scrubbed."""
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module: ModuleType = _load(name, source, lambda: importlib.import_module(name))
    return module


class _TooSlow(BaseException):
    """Raised in the importing thread at the time limit (a BaseException: an app's
    `except Exception` around a connect must not swallow it)."""


def import_timeout(environ: Mapping[str, str] | None = None) -> float:
    """CRONJOBS_IMPORT_TIMEOUT in seconds; a ConfigError when it is not a number in range."""
    raw = ((os.environ if environ is None else environ).get(TIMEOUT_ENV) or "").strip()
    try:
        seconds = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_TIMEOUT:
        raise ConfigError(
            f"{TIMEOUT_ENV} must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}, "
            f"got {raw!r}"
        )
    return seconds


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise _TooSlow in this thread after `seconds` (SIGALRM: only the main thread can take
    it; elsewhere, no limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(_signum: int, _frame: object) -> None:
        raise _TooSlow

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _load(target: str, source: str, load: Callable[[], Any]) -> Any:
    from cronjobs.redact import scrubbed_output
    from cronjobs.registry import RegistrationError

    seconds = import_timeout()
    try:
        with scrubbed_output(), _time_limit(seconds):
            return load()
    except _TooSlow:
        raise ConfigError(
            f"cannot import {target} ({source}): it took longer than {seconds:g}s to import "
            f"({TIMEOUT_ENV}). Does it connect to a server or wait for something at import "
            "time? A job module only defines and registers jobs: connect inside the job "
            f"function; raise {TIMEOUT_ENV} if the import really needs longer"
        ) from None
    except RegistrationError:
        raise
    except ModuleNotFoundError as e:
        raise ConfigError(
            f"cannot import {target} ({source}): no module named {e.name!r}; is the app "
            "installed in this environment (or the working directory its root)?"
        ) from e
    except Exception as e:  # the app's own import-time error: say which, and where
        reason = scrub(str(e).strip().splitlines()[0] if str(e).strip() else "")
        raise ConfigError(f"cannot import {target} ({source}): {type(e).__name__}: {reason}") from e
    except SystemExit as e:  # a script's sys.exit() at import: not the module's to decide
        raise ConfigError(
            f"cannot import {target} ({source}): it raised SystemExit({scrub(repr(e.code))}) "
            "while being imported (sys.exit() at module level?); a job module only defines and "
            'registers jobs: put script code under `if __name__ == "__main__":`'
        ) from e
    except KeyboardInterrupt as e:
        raise ConfigError(
            f"cannot import {target} ({source}): KeyboardInterrupt while it was being imported "
            "(Ctrl-C, or the module raised it)"
        ) from e
