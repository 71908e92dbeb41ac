"""Jitter: a random delay before a scheduled run starts, so that jobs sharing a tick do not all
hit the database in the same second (APScheduler's `jitter=`).

The delay is drawn in [0, jitter) seconds; `jitter` comes from CRONJOBS_JITTER (the chart's
`jobs.<key>.jitter`, which it checks is below activeDeadlineSeconds: the delay counts against
the deadline) or else the job's `@job(jitter=...)`. Only a run the CronJob controller started
waits: a manual, backfilled or local run has nobody to spread out. SIGTERM or SIGINT during the
wait ends the run at once with exit 4 (interrupted), before the job did anything.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable, Mapping

from cronjobs import tick
from cronjobs.errors import ConfigError, Stopped

log = logging.getLogger(__name__)
ENV = "CRONJOBS_JITTER"


def seconds(registered: int, environ: Mapping[str, str] | None = None) -> int:
    """The jitter in whole seconds: CRONJOBS_JITTER when set, else the registered one."""
    env = os.environ if environ is None else environ
    raw = env.get(ENV, "").strip()
    if not raw:
        return registered
    if not raw.isdigit():
        raise ConfigError(f"{ENV}={raw!r} is not a number of seconds: set 0 or more, e.g. 60")
    return int(raw)


def delay(jitter: int, draw: Callable[[], float] = random.random) -> float:
    """A delay in [0, jitter): `draw` returns a float in [0, 1), as random.random does."""
    return jitter * draw() if jitter > 0 else 0.0


def wait(
    jitter: int,
    stop: threading.Event,
    *,
    draw: Callable[[], float] = random.random,
    sleep: Callable[[float], bool] | None = None,
) -> float:
    """Wait a random delay in [0, jitter) unless `stop` is set; the delay waited. `sleep(s)`
    returns True when interrupted (default: `stop.wait`). Stopped (exit 4) when stopped."""
    pause = delay(jitter, draw)
    if pause <= 0:
        return 0.0
    log.info("jitter: waiting %d s (a random delay below %d s)", round(pause), jitter)
    if (sleep or stop.wait)(pause) or stop.is_set():
        raise Stopped(
            "stopped during the jitter delay, before the job started: nothing was done; the "
            "next run does the work"
        )
    return pause


def before_run(registered: int, stop: threading.Event) -> float:
    """The runner's call: wait the jitter when this is a run the CronJob controller started."""
    jitter = seconds(registered)
    if jitter <= 0:
        return 0.0
    if tick.resolve().source != "job-name":
        log.info("jitter: not waiting (not a scheduled run)")
        return 0.0
    return wait(jitter, stop)
