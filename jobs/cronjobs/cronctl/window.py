"""The bounds of `explain`: how far back, and how many ticks, one request may judge.

Every tick in the window is generated, matched and returned, so the cost of `explain` grows with
the schedule's frequency times the window: a month of an every-minute job is 44,640 ticks (13.8
MB of JSON in 5.8 s before these bounds). An explicit start (`--since`, `?since=`) older than
MAX_WINDOW, or a window holding more than the caller's tick limit, is a usage error naming the
latest start that fits; the default window (the last 7 days) is shortened to the newest ticks
that fit instead. `cronctl explain --no-limit` lifts both bounds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cronjobs.cronctl import model, ticks
from cronjobs.cronctl import schedule as sched
from cronjobs.cronctl.display import span
from cronjobs.cronctl.errors import ConfigError
from cronjobs.cronctl.model import Obj

MAX_WINDOW = timedelta(days=31)
"""The oldest explicit start explain takes (unless --no-limit)."""
MAX_TICKS = 10_080
"""The most ticks `cronctl explain` judges: a week of a job that runs every minute."""
DASHBOARD_MAX_TICKS = 1_440
"""The most ticks one dashboard request judges (its reads are unauthenticated): a day of a job
that runs every minute (about 0.3 MB of JSON)."""
_SAMPLE = 200


def check_start(since: datetime | None, now: datetime, max_window: timedelta | None) -> None:
    """An explicit start older than `max_window` is a ConfigError (exit 2, HTTP 400)."""
    if since is None or max_window is None or now - since <= max_window:
        return
    raise ConfigError(
        f"--since {model.iso(since)} is {span((now - since).total_seconds())} ago, over the "
        f"{span(max_window.total_seconds())} explain reads at most: give a later time or a "
        "shorter duration (or pass --no-limit to the CLI)"
    )


def fit(cronjob: Obj, start: datetime, now: datetime, max_ticks: int, explicit: bool) -> datetime:
    """`start`, when (start, now] holds at most `max_ticks` ticks of the CronJob's schedule;
    else, for the default window, the start of the newest `max_ticks` ticks; for an `explicit`
    one, a ConfigError naming it. Costs about `max_ticks` tick computations, and leaves the
    window's ticks in cronjobs.cronctl.schedule's cache for `explain` to reuse."""
    latest = start
    for _ in range(8):
        estimate = _estimate(cronjob, latest, now)
        if estimate <= 2 * max_ticks:
            found = ticks.expected_ticks(cronjob, latest, now)
            if len(found) <= max_ticks:
                break
            latest = found[-max_ticks - 1]  # the window excludes its start: max_ticks remain
            break
        latest = now - (now - latest) * max_ticks / estimate
    if latest == start or not explicit:
        return latest
    raise ConfigError(
        f"--since {model.iso(start)}: the window holds more than {max_ticks} ticks of schedule "
        f"{cronjob.get('spec', {}).get('schedule')!r}, the most explain reads: start at "
        f"{model.iso(latest)} or later (--since {span((now - latest).total_seconds())}), or "
        "pass --no-limit to the CLI"
    )


def _estimate(cronjob: Obj, start: datetime, now: datetime) -> float:
    """How many ticks (start, now] holds: exact when under _SAMPLE, else extrapolated from the
    first _SAMPLE (0 for a schedule cronctl cannot read)."""
    spec = cronjob.get("spec", {})
    schedule = str(spec.get("schedule", ""))
    zone = spec.get("timeZone") or sched.split_zone(schedule)[0]
    anchor = model.parse_time(cronjob.get("status", {}).get("lastScheduleTime")) or (
        model.parse_time(cronjob.get("metadata", {}).get("creationTimestamp"))
    )
    count, last = 0, start
    try:
        for slot in sched.slots(schedule, zone, start, anchor):
            if slot.at is None:
                continue
            if slot.at > now:
                return count
            count, last = count + 1, slot.at
            if count >= _SAMPLE:
                break
        else:
            return count
    except ValueError:
        return 0
    covered = (last - start).total_seconds()
    return count * (now - start).total_seconds() / covered if covered > 0 else float("inf")
