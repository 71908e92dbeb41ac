"""The scheduled time a run belongs to: its tick.

A late, retried or manual run must work on the window of the tick it belongs to, not on the
wall clock of the moment it happens to start (a run of a daily 00:30 job that waited past
midnight behind Forbid must still aggregate the day before its tick). Where the tick comes from:

1. `--scheduled-at` / `CRONJOBS_SCHEDULED_AT`: given by hand, or set by `cronctl trigger` and
   `backfill` as the pod annotation `cronjobs.dev/scheduled-at` (the chart passes it through
   the Downward API; absent, it is empty);
2. the Job's name: the CronJob controller names each Job `<cronjob>-<minutes since the epoch of
   the tick>` (`getJobName` in pkg/controller/cronjob/utils.go) and every pod carries it as the
   label `batch.kubernetes.io/job-name`, which the chart passes as `CRONJOBS_JOB_NAME` beside the
   CronJob's own name `CRONJOBS_CRONJOB`; a Job made otherwise (`kubectl create job x
   --from=cronjob/...`) does not match the pattern and is not read as one;
3. else the run's start: a local run, or a manual run nothing annotated.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from cronjobs.errors import ConfigError

SCHEDULED_AT = "CRONJOBS_SCHEDULED_AT"
JOB_NAME = "CRONJOBS_JOB_NAME"
CRONJOB = "CRONJOBS_CRONJOB"
ANNOTATION = "cronjobs.dev/scheduled-at"
"""The pod annotation cronctl sets on the runs it starts; the chart maps it to SCHEDULED_AT."""

Source = Literal["given", "job-name", "start"]


@dataclass(frozen=True)
class Tick:
    at: datetime
    """The tick, in UTC, to the minute for a scheduled run."""
    source: Source
    """Where it came from: `given` (flag, variable or cronctl's annotation), `job-name` (the
    CronJob controller's Job name), `start` (no tick: the run's own start)."""


def parse(value: str, what: str = SCHEDULED_AT) -> datetime:
    """An ISO 8601 time (`2026-12-01T01:00:00Z`, `2026-12-01 01:00+01:00`) as UTC; a time
    without an offset is UTC. ConfigError (exit 2) saying what is wrong."""
    text = value.strip()
    try:
        at = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" and text else text)
    except ValueError:
        raise ConfigError(
            f"{what} {value!r} is not a time: give ISO 8601, e.g. 2026-12-01T01:00:00Z"
        ) from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)


def from_job_name(job_name: str, cronjob: str) -> datetime | None:
    """The tick a Job name encodes when the CronJob controller made it (`<cronjob>-<minutes>`),
    else None."""
    if not cronjob or not job_name.startswith(cronjob + "-"):
        return None
    minutes = job_name[len(cronjob) + 1 :]
    if not re.fullmatch(r"[0-9]{1,12}", minutes):
        return None
    return datetime.fromtimestamp(int(minutes) * 60, UTC)


def resolve(
    given: str | datetime | None = None,
    environ: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Tick:
    """This run's tick: `given` (the flag) or SCHEDULED_AT, else the Job name's, else `now`."""
    env = os.environ if environ is None else environ
    if isinstance(given, datetime):
        return Tick(given.astimezone(UTC), "given")
    if given and given.strip():
        return Tick(parse(given, "--scheduled-at"), "given")
    if env.get(SCHEDULED_AT, "").strip():
        return Tick(parse(env[SCHEDULED_AT]), "given")
    at = from_job_name(env.get(JOB_NAME, ""), env.get(CRONJOB, ""))
    if at is not None:
        return Tick(at, "job-name")
    return Tick((now or datetime.now(UTC)).astimezone(UTC), "start")


_this_run: Tick | None = None


def this_run() -> Tick:
    """This process's run's tick, resolved once (the CLI and the runner see the same one)."""
    global _this_run
    if _this_run is None:
        _this_run = resolve()
    return _this_run


def begin(given: datetime | None = None) -> Tick:
    """Resolve this run's tick afresh (`given`: the --scheduled-at flag's value): each run, from
    the CLI or from Python, has its own."""
    global _this_run
    _this_run = resolve(given)
    return _this_run


def forget() -> None:
    """Resolve again on the next `this_run()` (a new run in the same process, a test)."""
    global _this_run
    _this_run = None
