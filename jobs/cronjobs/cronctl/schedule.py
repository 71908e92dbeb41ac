"""A CronJob's schedule as the controller runs it: next runs, ticks, DST notes, words.

Every time here comes from cronjobs.cron (robfig/cron v3's Next, the controller's parser), so a
tick cronctl lists is a tick the controller acts on: in a DST change robfig skips a wall-clock
time that does not exist, runs a repeated one where its minute loop walks back into it, and in
zones with 30-minute shifts (Australia/Lord_Howe) can drop a time that exists or run at one the
schedule does not name. `upcoming` shows each of these next to the wall-clock reading.

Ticks are cached per schedule, zone and UTC day (what a listing or the dashboard asks again and
again), within a fixed budget of ticks: memory stays bounded however long `serve` runs.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from threading import Lock
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronjobs import cron
from cronjobs.cron import gotime
from cronjobs.cron.words import span as _go_span
from cronjobs.cron.words import values

DEFAULT_TIME_ZONE = "UTC"
"""Without spec.timeZone the controller uses kube-controller-manager's zone, UTC in practice."""
_DAY = 86400


def split_zone(schedule: str) -> tuple[str | None, str]:
    """A legacy `CRON_TZ=Zone ` or `TZ=Zone ` prefix, as robfig/cron reads it, and the rest."""
    schedule = schedule.strip()
    for prefix in ("CRON_TZ=", "TZ="):
        if schedule.startswith(prefix):
            zone_name, _, rest = schedule[len(prefix) :].partition(" ")
            return zone_name, rest.strip()
    return None, schedule


def zone(name: str | None) -> ZoneInfo:
    """The ZoneInfo for spec.timeZone (None: UTC); ValueError for an unknown zone."""
    try:
        return ZoneInfo(name or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"unknown time zone {name!r}") from e


@lru_cache(maxsize=256)
def compile_schedule(schedule: str, time_zone: str | None) -> cron.Schedule:
    """The schedule the controller parses (spec.timeZone applied as it does; its own zone,
    UTC, otherwise). ValueError (cron.CronError) for a schedule or zone it cannot read."""
    prefixed, _ = split_zone(schedule)
    zone(prefixed if prefixed is not None else time_zone)  # unknown zone: ValueError
    parsed = cron.parse(cron.format_schedule(schedule, time_zone))
    if isinstance(parsed, cron.Spec) and parsed.location is None:
        parsed = replace(parsed, location=UTC)
    return parsed


@dataclass(frozen=True)
class Slot:
    """A time the schedule names, or a run the controller makes without it being named."""

    at: datetime | None
    """The instant the controller runs it, in UTC; None when it does not run."""
    wall: datetime
    """The wall-clock time in the schedule's zone (naive)."""
    dst: str | None = None
    """None; "skipped" (the time does not exist: clocks spring forward); "dropped" (the time
    exists but robfig/cron does not run it: a 30-minute DST change); "extra" (robfig runs at a
    time the schedule does not name, after a 30-minute change); "repeated" (clocks fall back:
    this wall time happens twice and runs on both); "shifted" (the zone's UTC offset changed
    since the previous run, so the gap between the two is not the usual one)."""

    @property
    def local(self) -> str:
        return self.wall.isoformat(timespec="minutes")


def _zone_of(parsed: cron.Schedule, time_zone: str | None) -> ZoneInfo:
    if isinstance(parsed, cron.Spec) and isinstance(parsed.location, ZoneInfo):
        return parsed.location
    return zone(time_zone)


def _wall(t: datetime, tz: tzinfo) -> datetime:
    return t.astimezone(tz).replace(tzinfo=None)


def slots(
    schedule: str, time_zone: str | None, after: datetime, anchor: datetime | None = None
) -> Iterator[Slot]:
    """Every slot strictly after `after` (aware), in order; endless (or empty if it never fires).

    `anchor` is where an `@every` schedule counts from (the controller: the last schedule time,
    else the creation time); without one, from `after`. Raises ValueError at once for a
    malformed schedule or time zone.
    """
    parsed = compile_schedule(schedule, time_zone)
    tz = _zone_of(parsed, time_zone)
    if isinstance(parsed, cron.Every):
        return _every_slots(parsed.seconds, tz, after, anchor or after)
    return _cron_slots(parsed, tz, after)


def _every_slots(delay: int, tz: tzinfo, after: datetime, anchor: datetime) -> Iterator[Slot]:
    step = timedelta(seconds=delay)
    k = max(0, int((after - anchor) / step) + 1) if after >= anchor else 0
    at = anchor + k * step
    while True:
        if at > after:
            yield Slot(at.astimezone(UTC), _wall(at, tz))
        at += step


def _cron_slots(spec: cron.Spec, tz: ZoneInfo, after: datetime) -> Iterator[Slot]:
    """robfig's runs a day at a time, each day's wall-clock candidates set beside them; days
    with neither are jumped over."""
    day = after.astimezone(tz).date()
    cursor = after
    previous: Slot | None = None
    while (nxt := spec.next(cursor)) is not None:
        target = _wall(nxt, tz).date()
        while day < target and not _day_named(spec, day):
            day += timedelta(days=1)
        for slot in _day_slots(spec, tz, day, after):
            if slot.at is not None:
                cursor = max(cursor, slot.at)
                if slot.dst is None and previous and _offset_changed(previous, slot, tz):
                    slot = replace(slot, dst="shifted")
                previous = slot
            yield slot
        day += timedelta(days=1)


def _day_named(spec: cron.Spec, day: date) -> bool:
    """Whether the schedule names `day` (month, and the day-of-month/day-of-week rule)."""
    dom_ok, dow_ok = bool(spec.dom >> day.day & 1), bool(spec.dow >> (day.isoweekday() % 7) & 1)
    either = not (spec.dom & cron.spec.STAR or spec.dow & cron.spec.STAR)
    return bool(spec.month >> day.month & 1) and (
        (dom_ok or dow_ok) if either else (dom_ok and dow_ok)
    )


def _offset_changed(previous: Slot, slot: Slot, tz: ZoneInfo) -> bool:
    if previous.at is None or slot.at is None:
        return False
    return previous.at.astimezone(tz).utcoffset() != slot.at.astimezone(tz).utcoffset()


def _day_slots(spec: cron.Spec, tz: ZoneInfo, day: date, after: datetime) -> list[Slot]:
    """The slots whose wall-clock date is `day`, later than `after`, in time order."""
    first = datetime.combine(day, datetime.min.time(), tz)
    runs: list[datetime] = []
    t = spec.next(max(after, first.astimezone(UTC) - timedelta(hours=3)))
    while t is not None and _wall(t, tz).date() <= day:
        if _wall(t, tz).date() == day and t > after:
            runs.append(t)
        t = spec.next(t)
    named: list[tuple[datetime, Slot]] = []
    ran = set(runs)
    if _day_named(spec, day):
        for hour in values(spec.hour, cron.spec.HOURS):
            for minute in values(spec.minute, cron.spec.MINUTES):
                naive = datetime(day.year, day.month, day.day, hour, minute)
                instants = _instants(naive, tz)
                kept = [i for i in instants if i in ran]
                for i in kept:
                    named.append((i, Slot(i, naive, "repeated" if len(instants) == 2 else None)))
                    ran.discard(i)
                where = instants[0] if instants else naive.replace(tzinfo=tz).astimezone(UTC)
                if not kept and where > after:
                    named.append((where, Slot(None, naive, "dropped" if instants else "skipped")))
    named += [(t, Slot(t, _wall(t, tz), "extra")) for t in ran]
    return [slot for _, slot in sorted(named, key=lambda item: item[0])]


def _instants(naive: datetime, tz: ZoneInfo) -> list[datetime]:
    """The real instants whose wall-clock time in `tz` is `naive`: none in a gap, two in a fold."""
    found: list[datetime] = []
    for fold in (0, 1):
        utc = naive.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if _wall(utc, tz) == naive and utc not in found:
            found.append(utc)
    return sorted(found)


def upcoming(
    schedule: str,
    time_zone: str | None,
    after: datetime,
    count: int,
    anchor: datetime | None = None,
) -> list[Slot]:
    """The next `count` runs, with the times the schedule names but the controller skips."""
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
    parsed = compile_schedule(schedule, time_zone)
    if isinstance(parsed, cron.Every):
        return [s.at for s in upcoming(schedule, time_zone, after, count, anchor) if s.at]
    found: list[datetime] = []
    t: datetime | None = after
    while len(found) < count and t is not None:
        t = parsed.next(t)
        if t is not None:
            found.append(t)
    return found


class TickCache:
    """Ticks per (schedule, zone, UTC day), least recently used first out, at most `budget`
    ticks in all (8 bytes each) and `max_days` days: bounded by size, never by time."""

    def __init__(self, budget: int = 400_000, max_days: int = 4096) -> None:
        self.budget, self.max_days = budget, max_days
        self._days: OrderedDict[tuple[str, str | None, int], array[int]] = OrderedDict()
        self._held = 0
        self._lock = Lock()
        self.hits = self.misses = 0

    @property
    def size(self) -> tuple[int, int]:
        """(days, ticks) held now."""
        return len(self._days), self._held

    def clear(self) -> None:
        with self._lock:
            self._days.clear()
            self._held = 0

    def day(self, schedule: str, time_zone: str | None, index: int) -> array[int]:
        """The ticks in UTC day `index` (days since the epoch), as Unix seconds."""
        key = (schedule, time_zone, index)
        with self._lock:
            found = self._days.get(key)
            if found is not None:
                self._days.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        computed = _day_ticks(compile_schedule(schedule, time_zone), index)
        with self._lock:
            if key not in self._days:
                self._days[key] = computed
                self._held += len(computed)
            while self._days and (self._held > self.budget or len(self._days) > self.max_days):
                _, dropped = self._days.popitem(last=False)
                self._held -= len(dropped)
        return computed


def _day_ticks(parsed: cron.Schedule, index: int) -> array[int]:
    start, end = index * _DAY, (index + 1) * _DAY
    if isinstance(parsed, cron.Spec):
        return array("q", parsed.between(start, end))
    out = array("q")
    t: datetime | None = parsed.next(gotime.instant(start - 1))
    while t is not None and gotime.seconds(t) < end:
        out.append(gotime.seconds(t))
        t = parsed.next(t)
    return out


TICKS = TickCache()


def ticks(
    schedule: str,
    time_zone: str | None,
    start: datetime,
    end: datetime,
    anchor: datetime | None = None,
    limit: int = 100_000,
) -> list[datetime]:
    """Every instant in (start, end] the schedule fires (at most `limit`, the oldest dropped).

    Raises ValueError for a schedule or zone that does not parse, or times out of range.
    """
    parsed = compile_schedule(schedule, time_zone)
    for t in (start, end):
        if not gotime.in_range(t):
            raise cron.OutOfRange(f"{t.isoformat()} is out of range")
    if end <= start:
        return []
    if isinstance(parsed, cron.Every):
        found = []
        for slot in _every_slots(parsed.seconds, UTC, start, anchor or start):
            if slot.at is None or slot.at > end:
                break
            found.append(slot.at)
            if len(found) > limit:
                found.pop(0)
        return found
    lo, hi = gotime.seconds(start), gotime.seconds(end)
    chosen: list[int] = []
    for index in range(lo // _DAY, hi // _DAY + 1):
        chosen += [t for t in TICKS.day(schedule, time_zone, index) if lo < t <= hi]
        del chosen[:-limit]
    return [gotime.instant(t) for t in chosen]


@lru_cache(maxsize=1024)
def next_run(
    schedule: str, time_zone: str | None, after: datetime, anchor: datetime | None = None
) -> datetime | None:
    """The next run after `after`, or None if the schedule or zone is invalid or never fires."""
    try:
        runs = next_runs(schedule, time_zone, after, anchor=anchor)
    except ValueError:
        return None
    return runs[0] if runs else None


def never_runs(
    schedule: str, time_zone: str | None, starting_deadline_seconds: int | None, now: datetime
) -> str | None:
    """Why the controller will never start this CronJob ("will never run: ..."), or None."""
    try:
        return cron.never_runs(schedule, time_zone, starting_deadline_seconds, now)
    except cron.OutOfRange:
        return None


def span(delta: timedelta) -> str:
    """A duration as Go prints it, without zero parts: 1h30m, 45s, 2h."""
    return _go_span(int(delta.total_seconds()))


@lru_cache(maxsize=1024)
def describe(schedule: str) -> str:
    """The schedule in words that are true of robfig/cron ("At 02:00"), or "" when it does
    not parse."""
    try:
        return cron.describe(compile_schedule(schedule, None))
    except ValueError:
        return ""
