"""Cron schedules as the CronJob controller reads them (robfig/cron v3): next runs, ticks, words.

The controller walks wall-clock fields in `spec.timeZone`: a time that does not exist because
clocks spring forward is skipped, and a time in an hour that repeats because clocks fall back
fires on both occurrences. `next_runs`/`ticks` follow the same rules: croniter gives naive
wall-clock candidates, each mapped onto zero, one or two real instants. Where croniter differs
from robfig/cron v3 they follow robfig: day-of-month and day-of-week are ANDed when either field
carries the "star bit" (a `*` or `?` without a step above 1: `*`, `*/1`, `?`), else ORed (so
`*/2` ORs, as in robfig's getRange, which clears the star bit for a step > 1); a legacy
`CRON_TZ=`/`TZ=` prefix sets the zone; `@every <Go duration>` is a constant delay from the
previous run (the controller counts it from the last schedule time, or the creation time).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from jobs.registry import MACROS  # one table of cron macros (light: no croniter, no click)

DEFAULT_TIME_ZONE = "UTC"
"""Without spec.timeZone the controller uses kube-controller-manager's zone, UTC in practice."""

_SLACK = timedelta(hours=3)  # larger than any DST shift (Lord Howe 0:30, Troll 2:00)


def expand(schedule: str) -> str:
    """`@daily` and friends as five fields; other schedules unchanged (any TZ= prefix dropped)."""
    _, schedule = split_zone(schedule)
    return MACROS.get(schedule.lower(), schedule)


def split_zone(schedule: str) -> tuple[str | None, str]:
    """A legacy `CRON_TZ=Zone ` or `TZ=Zone ` prefix, as robfig/cron reads it, and the rest."""
    schedule = schedule.strip()
    for prefix in ("CRON_TZ=", "TZ="):
        if schedule.startswith(prefix):
            zone_name, _, rest = schedule[len(prefix) :].partition(" ")
            return zone_name, rest.strip()
    return None, schedule


def _has_star_bit(field: str) -> bool:
    """robfig/cron v3's star bit: some comma part is `*` or `?` with no step, or a step of 1."""
    for part in field.split(","):
        base, _, step = part.partition("/")
        if base in ("*", "?") and (not step or step == "1"):
            return True
    return False


def _day_or(expr: str) -> bool:
    """Whether day-of-month and day-of-week are ORed, as robfig/cron v3 decides: ANDed when
    either field has the star bit (`0 0 * * 1`: Mondays; `0 0 1 * *`: the 1st), ORed otherwise
    (`0 0 1 * 1`: the 1st and every Monday; `0 0 */2 * 1`: odd days and every Monday)."""
    fields = expr.split()
    if len(fields) != 5:
        return True
    return not (_has_star_bit(fields[2]) or _has_star_bit(fields[4]))


_GO_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "\u03bcs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def every(schedule: str) -> timedelta | None:
    """The delay of an `@every <duration>` schedule (Go's time.ParseDuration syntax, `1h30m`),
    cut to whole seconds and at least 1s as robfig/cron does; None for other schedules.
    Raises ValueError for a malformed duration."""
    _, rest = split_zone(schedule)
    if not rest.lower().startswith("@every "):
        return None
    text = rest[len("@every ") :].strip()
    pos, seconds = 0, 0.0
    for m in _GO_PART.finditer(text):
        if m.start() != pos:
            break
        seconds += float(m[1]) * _GO_UNITS[m[2]]
        pos = m.end()
    if not text or pos != len(text):
        raise ValueError(f"invalid @every duration {text!r}")
    return timedelta(seconds=max(1, int(seconds)))


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


@dataclass(frozen=True)
class Slot:
    """A time the schedule names: the instant it fires, or none when the wall-clock time does not
    exist that day (clocks spring forward: robfig/cron skips it)."""

    at: datetime | None
    """The instant, in UTC; None for a skipped wall-clock time."""
    wall: datetime
    """The wall-clock time in the schedule's zone (naive)."""
    dst: str | None = None
    """None; "skipped" (does not exist: no run); "repeated" (clocks fall back: this wall time
    happens twice and runs on both); "shifted" (the zone's UTC offset changed since the previous
    run, so the gap between the two is not the usual one)."""

    @property
    def local(self) -> str:
        return self.wall.isoformat(timespec="minutes")


def slots(
    schedule: str, time_zone: str | None, after: datetime, anchor: datetime | None = None
) -> Iterator[Slot]:
    """Every slot strictly after `after` (aware), in order; endless (or empty if it never fires).

    `anchor` is where an `@every` schedule counts from (the controller: the last schedule time,
    else the creation time); without one, from `after`. Raises ValueError at once for a
    malformed schedule or time zone.
    """
    prefixed, _ = split_zone(schedule)
    tz = zone(prefixed or time_zone)
    after = after.astimezone(UTC)
    delay = every(schedule)
    if delay is not None:
        return _every_slots(delay, tz, after, (anchor or after).astimezone(UTC))
    expr = expand(schedule)
    if not croniter.is_valid(expr):
        raise ValueError(f"invalid cron schedule {schedule!r}")
    return _cron_slots(expr, tz, after)


def _every_slots(
    delay: timedelta, tz: ZoneInfo, after: datetime, anchor: datetime
) -> Iterator[Slot]:
    k = max(0, int((after - anchor) / delay) + 1) if after >= anchor else 0
    at = anchor + k * delay
    while True:
        if at > after:
            yield Slot(at, at.astimezone(tz).replace(tzinfo=None))
        at += delay


def _cron_slots(expr: str, tz: ZoneInfo, after: datetime) -> Iterator[Slot]:
    """Naive candidates from croniter, each as 0-2 instants. Instants of a repeated hour come
    out of order (01:00 EST follows 01:45 EDT), so slots wait in a buffer until the candidates
    are _SLACK past them, then leave in instant order."""
    after_wall = after.astimezone(tz).replace(tzinfo=None)
    it = croniter(expr, after_wall - _SLACK, day_or=_day_or(expr))
    buffer: list[tuple[datetime, Slot]] = []
    previous: Slot | None = None
    for _ in range(1_000_000):
        try:
            naive: datetime = it.get_next(datetime)
        except (CroniterBadDateError, StopIteration):  # never fires (`0 0 30 2 *`)
            break
        instants = _instants(naive, tz)
        if not instants and naive > after_wall:
            gap = naive.replace(tzinfo=tz).astimezone(UTC)
            buffer.append((gap, Slot(None, naive, "skipped")))
        for t in instants:
            if t > after:
                buffer.append((t, Slot(t, naive, "repeated" if len(instants) == 2 else None)))
        buffer.sort(key=lambda item: item[0])
        while buffer and buffer[0][1].wall < naive - _SLACK:
            slot = buffer.pop(0)[1]
            if slot.at is not None:
                if (
                    previous is not None
                    and previous.at is not None
                    and slot.dst is None
                    and previous.at.astimezone(tz).utcoffset() != slot.at.astimezone(tz).utcoffset()
                ):
                    slot = Slot(slot.at, slot.wall, "shifted")
                previous = slot
            yield slot


def upcoming(
    schedule: str,
    time_zone: str | None,
    after: datetime,
    count: int,
    anchor: datetime | None = None,
) -> list[Slot]:
    """The next `count` runs, with the skipped wall-clock times among them."""
    found: list[Slot] = []
    for slot in slots(schedule, time_zone, after, anchor):
        found.append(slot)
        if sum(s.at is not None for s in found) >= count:
            break
    return found


def next_runs(
    schedule: str,
    time_zone: str | None,
    after: datetime,
    count: int = 1,
    anchor: datetime | None = None,
) -> list[datetime]:
    """The next `count` run instants strictly after `after` (aware), in UTC.

    A legacy `CRON_TZ=`/`TZ=` prefix in the schedule names the zone (over `time_zone`).
    Raises ValueError for a malformed schedule or time zone.
    """
    return [s.at for s in upcoming(schedule, time_zone, after, count, anchor) if s.at]


def ticks(
    schedule: str,
    time_zone: str | None,
    start: datetime,
    end: datetime,
    anchor: datetime | None = None,
    limit: int = 100_000,
) -> list[datetime]:
    """Every instant in (start, end] the schedule fires (at most `limit`, the oldest dropped).

    Cached: a listing asks the same window for every CronJob, which share a few schedules.
    """
    if every(schedule) is None:
        anchor = None  # only @every counts from an anchor
    return list(_ticks(schedule, time_zone, start, end, anchor, limit))


@lru_cache(maxsize=512)
def _ticks(
    schedule: str,
    time_zone: str | None,
    start: datetime,
    end: datetime,
    anchor: datetime | None,
    limit: int,
) -> tuple[datetime, ...]:
    found: list[datetime] = []
    for slot in slots(schedule, time_zone, start, anchor):
        if slot.at is None:
            continue
        if slot.at > end:
            break
        found.append(slot.at)
    return tuple(found[-limit:])


@lru_cache(maxsize=1024)
def next_run(
    schedule: str, time_zone: str | None, after: datetime, anchor: datetime | None = None
) -> datetime | None:
    """The next run after `after`, or None if the schedule or zone is invalid or never fires.

    Cached: a listing passes one `after` for all CronJobs, which share a handful of schedules.
    """
    try:
        runs = next_runs(schedule, time_zone, after, anchor=anchor)
    except ValueError:  # ours, and croniter's (CroniterBadCronError, CroniterBadDateError...)
        return None
    return runs[0] if runs else None


def span(delta: timedelta) -> str:
    """A duration as Go prints it, without zero parts: 1h30m, 45s, 2h."""
    seconds = int(delta.total_seconds())
    h, rest = divmod(seconds, 3600)
    m, sec = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (sec, "s")) if v) or "0s"


@lru_cache(maxsize=1024)
def describe(schedule: str) -> str:
    """The schedule in words ("At 02:00"), or "" when cron-descriptor cannot read it."""
    from cron_descriptor import ExpressionDescriptor, Options

    options = Options()
    options.use_24hour_time_format = True
    delay = every(schedule) if schedule.strip().lower().startswith("@every") else None
    if delay is not None:
        return f"Every {span(delay)}"
    try:
        return str(ExpressionDescriptor(expand(schedule), options).get_description())
    except Exception:  # cron-descriptor raises several unrelated types for bad input
        return ""
