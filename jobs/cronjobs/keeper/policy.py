"""Per-job policies, and what the keeper does about them: pure decisions from a CronJob, its
ledger and its active Jobs at a given time (the loop applies them; tests inject the clock).

The chart renders a job's `keeper:` values as the CronJob annotation `cronjobs.dev/policy`
(JSON), so the keeper needs nothing but the CronJob:

- `pauseAfterFailures: N`: after N consecutive failed runs, suspend it (the keeper as actor,
  with the reason). A resume (cronctl's history records it) clears the streak.
- `blackouts: [{schedule, duration, timeZone}]`: recurring windows during which the job is
  suspended, then restored as it was. A CronJob suspended before the window is not touched, and
  one resumed by hand in a window is left resumed until the next window.
- `maxDuration: SECONDS`: a run active for longer is stopped and recorded as such.
- `slowFactor: F` (default 3): a flag (no action) when a run took F times the median of the
  previous successful runs (at least 5 of them).
- `idleRuns: N`: a flag when the last N successful runs' summary counts were all zero.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from cronjobs.cronctl import model
from cronjobs.keeper.ledger import Entry

POLICY = "cronjobs.dev/policy"
"""On the CronJob, from the chart: the job's `keeper:` values as JSON."""
BLACKOUT_UNTIL = "keeper.cronjobs.dev/blackout-until"
"""On a CronJob the keeper suspended for a blackout: when the window ends (UTC). Its presence
is what makes the restore exact: only a suspend the keeper made is undone, after a crash too."""
FLAGS = "keeper.cronjobs.dev/flags"
ACTOR = "cronctl-keeper"
"""Who the keeper's suspends are recorded as."""
MIN_HISTORY = 5


@dataclass(frozen=True)
class Blackout:
    schedule: str
    duration: timedelta
    time_zone: str | None = None


@dataclass(frozen=True)
class Policy:
    pause_after_failures: int | None = None
    blackouts: tuple[Blackout, ...] = ()
    max_duration: timedelta | None = None
    slow_factor: float = 3.0
    idle_runs: int | None = None
    problems: tuple[str, ...] = field(default=())
    """What in the annotation could not be read (the rest still applies)."""


Kind = Literal["suspend", "restore", "unmark", "stop", "flag"]
"""suspend, restore (resume and drop the blackout mark), unmark (drop the mark only: someone
else's suspend or resume took over), stop a Job, flag."""


@dataclass(frozen=True)
class Action:
    kind: Kind
    target: str
    """The CronJob (suspend, restore, flag) or the Job (stop)."""
    reason: str
    until: datetime | None = None
    """For a blackout suspend: when the window ends."""


def read(cronjob: model.Obj) -> Policy:
    """The CronJob's policy; an unreadable part is a problem, never an exception."""
    raw = (cronjob.get("metadata", {}).get("annotations") or {}).get(POLICY)
    if not raw:
        return Policy()
    try:
        values = json.loads(raw)
    except ValueError:
        return Policy(problems=(f"{POLICY} is not JSON",))
    if not isinstance(values, dict):
        return Policy(problems=(f"{POLICY} is not a JSON object",))
    problems: list[str] = []

    def number(key: str, kind: type, low: float) -> Any:
        value = values.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
            problems.append(f"{key} must be a number of at least {low}")
            return None
        return kind(value)

    blackouts = []
    for i, b in enumerate(values.get("blackouts") or []):
        try:
            blackouts.append(
                Blackout(
                    str(b["schedule"]), timedelta(seconds=float(b["duration"])), b.get("timeZone")
                )
            )
        except (KeyError, TypeError, ValueError):
            problems.append(f"blackouts[{i}] needs a schedule and a duration in seconds")
    max_duration = number("maxDuration", float, 1)
    return Policy(
        pause_after_failures=number("pauseAfterFailures", int, 1),
        blackouts=tuple(blackouts),
        max_duration=timedelta(seconds=max_duration) if max_duration else None,
        slow_factor=number("slowFactor", float, 1) or 3.0,
        idle_runs=number("idleRuns", int, 1),
        problems=tuple(problems),
    )


def failure_streak(entries: list[Entry], cronjob: model.Obj) -> int:
    """Consecutive failed runs, newest first, since the last resume (which clears the streak)."""
    resumed = max(
        (str(c.get("at", "")) for c in model.changes(cronjob) if c.get("action") == "resume"),
        default="",
    )
    streak = 0
    for entry in reversed(entries):
        if resumed and (entry.finished or entry.started or "") <= resumed:
            break
        if entry.result == "Succeeded":
            break
        if entry.result in ("Failed", "Stopped"):
            streak += 1
    return streak


def blackout_window(
    policy: Policy, now: datetime, anchor: datetime | None = None
) -> datetime | None:
    """When the blackout `now` lies in ends (the latest end, if windows overlap), else None."""
    from cronjobs.cronctl import schedule as sched

    ends = []
    for b in policy.blackouts:
        try:
            starts = sched.ticks(b.schedule, b.time_zone, now - b.duration, now, anchor)
        except ValueError:
            continue
        ends += [start + b.duration for start in starts if start <= now < start + b.duration]
    return max(ends, default=None)


def decide(
    cronjob: model.Obj, entries: list[Entry], active: list[model.Obj], now: datetime
) -> list[Action]:
    """What the keeper should do now about one CronJob."""
    policy = read(cronjob)
    meta, spec = cronjob.get("metadata", {}), cronjob.get("spec", {})
    name = str(meta.get("name", ""))
    annotations = meta.get("annotations") or {}
    suspended = bool(spec.get("suspend"))
    actions: list[Action] = []

    ours = (
        model.parse_time(annotations.get(BLACKOUT_UNTIL)) if BLACKOUT_UNTIL in annotations else None
    )
    window_end = blackout_window(policy, now)
    if BLACKOUT_UNTIL in annotations:
        if not suspended:  # resumed by hand during the window: the keeper's mark just goes
            actions.append(Action("unmark", name, "resumed by hand during the blackout"))
        elif annotations.get(model.SUSPENDED_BY) != ACTOR:  # suspended again by someone else
            actions.append(Action("unmark", name, "suspended by someone else during the blackout"))
        elif window_end is None and (ours is None or ours <= now):
            actions.append(Action("restore", name, "the blackout window ended"))
    elif window_end is not None and not suspended:
        actions.append(
            Action("suspend", name, f"blackout window until {model.iso(window_end)}", window_end)
        )

    n = policy.pause_after_failures
    if n and not suspended and failure_streak(entries, cronjob) >= n:
        actions.append(Action("suspend", name, f"paused after {n} consecutive failed runs"))

    if policy.max_duration:
        for job in active:
            started = model.parse_time((job.get("status") or {}).get("startTime"))
            if started and now - started > policy.max_duration:
                limit = int(policy.max_duration.total_seconds())
                actions.append(
                    Action("stop", str(job["metadata"]["name"]), f"ran past maxDuration ({limit}s)")
                )

    actions += [Action("flag", name, why) for why in flags(policy, entries)]
    return actions


def flags(policy: Policy, entries: list[Entry]) -> list[str]:
    """Flags, not actions: the newest run much slower than usual; runs that did nothing."""
    found = []
    ok = [e for e in entries if e.result == "Succeeded" and e.duration_seconds is not None]
    if len(ok) > MIN_HISTORY:
        newest, before = ok[-1], ok[-1 - 20 : -1]
        usual = statistics.median(e.duration_seconds or 0.0 for e in before)
        if usual > 0 and (newest.duration_seconds or 0.0) > policy.slow_factor * usual:
            found.append(
                f"slow: the last run took {newest.duration_seconds:.0f}s, "
                f"{policy.slow_factor:g}x more than the usual {usual:.0f}s"
            )
    n = policy.idle_runs
    succeeded = [e for e in entries if e.result == "Succeeded"]
    if n and len(succeeded) >= n:
        last = succeeded[-n:]
        if all(e.counts() and not any(e.counts().values()) for e in last):
            found.append(f"did nothing: the last {n} successful runs counted 0 of everything")
    return found
