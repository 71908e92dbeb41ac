"""Cron schedules: the next run in a CronJob's time zone, and the schedule in words.

The CronJob controller (robfig/cron) walks wall-clock fields in `spec.timeZone`: a time that does
not exist because clocks spring forward is skipped, and a time in an hour that repeats because
clocks fall back fires on both occurrences. `next_run` follows the same rules: it asks croniter
for naive wall-clock candidates, then maps each onto zero, one or two real instants. It also
follows robfig/cron where croniter differs: day-of-month and day-of-week are ANDed when either
starts with `*`, and a legacy `CRON_TZ=`/`TZ=` prefix sets the zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

DEFAULT_TIME_ZONE = "UTC"
"""Without spec.timeZone the controller uses kube-controller-manager's zone, UTC in practice."""

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_SLACK = timedelta(hours=3)  # larger than any DST shift (Lord Howe 0:30, Troll 2:00)


def expand(schedule: str) -> str:
    """`@daily` and friends as five fields; other schedules unchanged (any TZ= prefix dropped)."""
    _, schedule = split_zone(schedule)
    return _MACROS.get(schedule.lower(), schedule)


def split_zone(schedule: str) -> tuple[str | None, str]:
    """A legacy `CRON_TZ=Zone ` or `TZ=Zone ` prefix, as robfig/cron reads it, and the rest."""
    schedule = schedule.strip()
    for prefix in ("CRON_TZ=", "TZ="):
        if schedule.startswith(prefix):
            zone_name, _, rest = schedule[len(prefix) :].partition(" ")
            return zone_name, rest.strip()
    return None, schedule


def _day_or(expr: str) -> bool:
    """Whether day-of-month and day-of-week are ORed, as robfig/cron decides: ANDed when either
    field starts with `*` (or `?`), so `0 0 */2 * 1` fires only on Mondays that are odd days;
    ORed when both are restricted (`0 0 1 * 1`: the 1st, and every Monday)."""
    fields = expr.split()
    if len(fields) != 5:
        return True
    return not (fields[2][:1] in "*?" or fields[4][:1] in "*?")


def zone(name: str | None) -> ZoneInfo:
    """The ZoneInfo for spec.timeZone (None: UTC); ValueError for an unknown zone."""
    try:
        return ZoneInfo(name or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"unknown time zone {name!r}") from e


def _instants(naive: datetime, tz: ZoneInfo) -> list[datetime]:
    """The real instants whose wall-clock time in `tz` is `naive`: none in a gap, two in a fold."""
    found: list[datetime] = []
    for fold in (0, 1):
        aware = naive.replace(tzinfo=tz, fold=fold)
        utc = aware.astimezone(UTC)
        if utc.astimezone(tz).replace(tzinfo=None) == naive and utc not in found:
            found.append(utc)
    return found


def next_runs(
    schedule: str, time_zone: str | None, after: datetime, count: int = 1
) -> list[datetime]:
    """The next `count` run instants strictly after `after` (aware), in UTC.

    A legacy `CRON_TZ=`/`TZ=` prefix in the schedule names the zone (over `time_zone`).
    Raises ValueError for a malformed schedule or time zone.
    """
    prefixed, _ = split_zone(schedule)
    tz = zone(prefixed or time_zone)
    expr = expand(schedule)
    if not croniter.is_valid(expr):
        raise ValueError(f"invalid cron schedule {schedule!r}")
    after = after.astimezone(UTC)
    start = after.astimezone(tz).replace(tzinfo=None) - _SLACK
    it = croniter(expr, start, day_or=_day_or(expr))
    found: list[datetime] = []
    for _ in range(10_000):
        naive: datetime = it.get_next(datetime)
        found.extend(t for t in _instants(naive, tz) if t > after)
        if len(found) >= count:
            found.sort()
            horizon = found[count - 1].astimezone(tz).replace(tzinfo=None) + _SLACK
            if naive > horizon:
                break
    return sorted(found)[:count]


@lru_cache(maxsize=1024)
def next_run(schedule: str, time_zone: str | None, after: datetime) -> datetime | None:
    """The next run after `after`, or None if the schedule or zone is invalid or never fires.

    Cached: a listing passes one `after` for all CronJobs, which share a handful of schedules.
    """
    try:
        runs = next_runs(schedule, time_zone, after)
    except ValueError:  # ours, and croniter's (CroniterBadCronError, CroniterBadDateError...)
        return None
    return runs[0] if runs else None


@lru_cache(maxsize=1024)
def describe(schedule: str) -> str:
    """The schedule in words ("At 02:00"), or "" when cron-descriptor cannot read it."""
    from cron_descriptor import ExpressionDescriptor, Options

    options = Options()
    options.use_24hour_time_format = True
    try:
        return str(ExpressionDescriptor(expand(schedule), options).get_description())
    except Exception:  # cron-descriptor raises several unrelated types for bad input
        return ""
