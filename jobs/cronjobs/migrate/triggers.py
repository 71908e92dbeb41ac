"""APScheduler 3 triggers as Kubernetes schedules: cron fields to a 5-field cron, intervals to `every`.

Pure functions over plain values (no `ast`): the scanner evaluates the source's literals and
calls these. A trigger that cannot be expressed raises `Unmappable` with the reason in words.

APScheduler 3's semantics, as in apscheduler/triggers/cron/__init__.py and fields.py:
- fields more significant than the least significant one given default to `*`, less significant
  ones to their minimum (so `hour=2` is 02:00:00 daily), except `week` and `day_of_week`, which
  default to `*`; with no field at all, every field is `*` (every second);
- `day_of_week` counts 0 = Monday ... 6 = Sunday, names mon..sun; `CronTrigger.from_crontab`
  passes its fifth field through unchanged, so a number there is read the same way
  (apscheduler issue #286): `from_crontab("0 0 * * 0")` runs on Mondays;
- every field must match (day and day_of_week are ANDed), where cron runs a job when either its
  day-of-month or its day-of-week matches, once both are restricted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cronjobs.registry import cron_problem

FIELD_NAMES = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
DEFAULTS = {"year": "*", "month": "1", "day": "1", "week": "*", "day_of_week": "*"}
DEFAULTS |= {"hour": "0", "minute": "0", "second": "0"}
RANGES = {"minute": (0, 59), "hour": (0, 23), "day": (1, 31), "month": (1, 12)}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
CRON_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
EVEN_HINT = (
    "the intervals a cron schedule repeats evenly are minutes that divide 60 "
    "(1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30), hours that divide 24 (1, 2, 3, 4, 6, 8, 12), "
    "1 day and 7 days"
)
_ITEM = re.compile(r"^(?:\*|(?P<first>\d+)(?:-(?P<last>\d+))?)(?:/(?P<step>\d+))?$")
_NAMES = re.compile(r"^(?P<first>[a-z]+)(?:-(?P<last>[a-z]+))?$")


class Unmappable(Exception):
    """The trigger has no Kubernetes equivalent; the message says why."""


@dataclass
class Converted:
    """A schedule (`schedule` or `every`) and notes on what changed in the conversion."""

    schedule: str | None = None
    every: str | None = None
    notes: list[str] = field(default_factory=list)


def cron_from_fields(fields: dict[str, str], *, crontab: bool = False) -> Converted:
    """The 5-field cron of CronTrigger(**fields) (values as strings); `crontab` marks the fields
    as coming from `from_crontab` (or a wrapper's cron expression), for the day-of-week note."""
    full = with_defaults(fields)
    for name, why in (
        ("year", "a Kubernetes schedule has no year field"),
        ("week", "a Kubernetes schedule has no ISO week-number field"),
    ):
        if full[name] != "*":
            raise Unmappable(f"{name}={full[name]!r}: {why}")
    if not fields:
        raise Unmappable("a cron trigger with no fields runs every second")
    if not re.fullmatch(r"0+", full["second"]):
        raise Unmappable(
            f"second={full['second']!r}: a Kubernetes schedule runs at most once a minute, "
            "at second 0"
        )
    out = Converted()
    parts = [_plain_field(n, full[n]) for n in ("minute", "hour", "day", "month")]
    dow = day_of_week(full["day_of_week"], crontab=crontab, notes=out.notes)
    if parts[2] != "*" and dow != "*":
        raise Unmappable(
            f"day={full['day']!r} and day_of_week={full['day_of_week']!r} both restrict the day: "
            "APScheduler runs when both match, a Kubernetes schedule when either does"
        )
    out.schedule = " ".join([*parts, dow])
    problem = cron_problem(out.schedule)  # what the chart (and the registry) would refuse
    if problem:
        raise Unmappable(f"the schedule it maps to, {out.schedule!r}: {problem}")
    return out


def with_defaults(fields: dict[str, str]) -> dict[str, str]:
    """All eight CronTrigger fields, with APScheduler 3's defaults for the ones not given."""
    full: dict[str, str] = {}
    remaining = set(fields)
    assign_defaults = False
    for name in FIELD_NAMES:
        if name in fields:
            full[name] = fields[name].strip()
            remaining.discard(name)
            assign_defaults = not remaining
        else:
            full[name] = DEFAULTS[name] if assign_defaults else "*"
    return full


def crontab_fields(expression: str) -> dict[str, str]:
    """The CronTrigger fields of `CronTrigger.from_crontab(expression)` (macros included)."""
    macros = {
        "@yearly": "0 0 1 1 *",
        "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *",
        "@hourly": "0 * * * *",
    }
    values = macros.get(expression.strip(), expression).split()
    if len(values) != 5:
        raise Unmappable(
            f"{expression!r} has {len(values)} fields; APScheduler's from_crontab takes 5 "
            "(minute hour day month day_of_week) or @yearly/@monthly/@weekly/@daily/@hourly"
        )
    return dict(zip(("minute", "hour", "day", "month", "day_of_week"), values, strict=True))


def _plain_field(name: str, expr: str) -> str:
    """minute, hour, day or month, checked and written the way cron reads it."""
    low, high = RANGES[name]
    items = []
    for item in re.split(r" *, *", expr.lower()):
        if name == "day" and (
            item == "last" or re.match(r"^(1st|2nd|3rd|4th|5th|last) +\w+$", item)
        ):
            raise Unmappable(
                f"day={expr!r}: {item!r} (a position in the month) has no equivalent in a "
                "Kubernetes schedule (no L or # syntax)"
            )
        if name == "month":
            item = _month_names(item, expr)
        match = _ITEM.match(item)
        if not match:
            raise Unmappable(f"{name}={expr!r}: {item!r} is not an expression APScheduler reads")
        first, last, step = match["first"], match["last"], match["step"]
        for value in (first, last):
            if value is not None and not low <= int(value) <= high:
                raise Unmappable(f"{name}={expr!r}: {value} is outside {low}-{high}")
        if first is not None and last is not None and int(first) > int(last):
            raise Unmappable(
                f"{name}={expr!r}: the range {item!r} runs backwards (start after end): "
                "APScheduler refuses it, and so does Kubernetes"
            )
        if step is not None and int(step) == 0:
            raise Unmappable(f"{name}={expr!r}: {item!r} has a step of 0 (APScheduler refuses it)")
        if first is not None and last is None and step is not None:
            item = f"{int(first)}-{high}/{step}"  # APScheduler's N/STEP runs from N to the maximum
        items.append(item)
    return ",".join(items)


def _month_names(item: str, expr: str) -> str:
    match = _NAMES.match(item)
    if not match:
        return item
    try:
        ends = [str(MONTHS.index(v) + 1) for v in (match["first"], match["last"]) if v]
    except ValueError:
        raise Unmappable(f"month={expr!r}: {item!r} is not a month name (jan..dec)") from None
    return "-".join(ends)


def day_of_week(expr: str, *, crontab: bool = False, notes: list[str] | None = None) -> str:
    """APScheduler's day_of_week (0 = Monday, names mon..sun) as cron's (0 = Sunday)."""
    expr = expr.strip().lower()
    if expr in ("*", "?"):
        return "*"
    days: set[int] = set()  # APScheduler numbering
    numeric = False
    for item in re.split(r" *, *", expr):
        names = _NAMES.match(item)
        if names:
            try:
                ends = [WEEKDAYS.index(v) for v in (names["first"], names["last"]) if v]
            except ValueError:
                raise Unmappable(
                    f"day_of_week={expr!r}: {item!r} is not a weekday name (mon..sun)"
                ) from None
            first, last, step = ends[0], ends[-1], 1
        else:
            match = _ITEM.match(item)
            if not match:
                raise Unmappable(
                    f"day_of_week={expr!r}: {item!r} is not an expression APScheduler reads"
                )
            numeric = numeric or match["first"] is not None
            first = int(match["first"] or 0)
            last = int(match["last"] or (6 if match["step"] or not match["first"] else first))
            step = int(match["step"] or 1)
            if step == 0:
                raise Unmappable(
                    f"day_of_week={expr!r}: {item!r} has a step of 0 (APScheduler refuses it)"
                )
            if last > 6:
                raise Unmappable(
                    f"day_of_week={expr!r}: {last} is outside 0-6 (APScheduler numbers the "
                    "days 0 = Monday to 6 = Sunday)"
                )
        if first > last:
            raise Unmappable(f"day_of_week={expr!r}: the range {item!r} runs backwards")
        days.update(range(first, last + 1, step))
    cron_days = sorted((d + 1) % 7 for d in days)
    if len(cron_days) == 7:
        return "*"
    out = _compact(cron_days)
    if numeric and notes is not None:
        words = ", ".join(CRON_DAYS[d] for d in cron_days)
        if crontab:
            notes.append(
                f"day-of-week {expr!r}: APScheduler 3 reads day numbers in a crontab expression "
                f"as 0 = Monday (unlike cron), so this job ran on {words}; the schedule keeps "
                f"those days ({out}); if you meant cron's numbering, write {expr!r} back"
            )
        else:
            notes.append(
                f"day_of_week={expr!r} is {words} (APScheduler counts 0 = Monday); cron "
                f"writes it {out} (0 = Sunday)"
            )
    return out


def _compact(days: list[int]) -> str:
    """Sorted numbers as a cron list with ranges: [1, 2, 3, 5] -> 1-3,5."""
    runs: list[list[int]] = []
    for d in days:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs)


def every_from_interval(
    *, weeks: float = 0, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
) -> str:
    """IntervalTrigger(weeks=..., ...) as the chart's `every` (15m, 2h, 1d, 7d)."""
    total = weeks * 604800 + days * 86400 + hours * 3600 + minutes * 60 + seconds
    if total < 0:
        raise Unmappable(f"a negative interval ({total:g} seconds): an interval must be positive")
    if total == 0:
        raise Unmappable("an interval of 0 (APScheduler then runs the job every second)")
    if total % 60:
        raise Unmappable(
            f"an interval of {_words(total)} is not a whole number of minutes: a Kubernetes "
            "schedule runs at most once a minute"
        )
    m = int(total // 60)
    if (m < 60 and 60 % m == 0) or (m < 1440 and m % 60 == 0 and 1440 % m == 0):
        return f"{m}m" if m < 60 else f"{m // 60}h"
    if m in (1440, 10080):
        return f"{m // 1440}d"
    raise Unmappable(
        f"an interval of {_words(total)} cannot be expressed evenly as a cron schedule (cron "
        f"repeats within the hour, the day or the week, so the gap at the boundary would "
        f"differ): {EVEN_HINT}; or choose a cron schedule yourself"
    )


def _words(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    if seconds >= 60:
        return f"{int(seconds // 60)} minutes {seconds % 60:g} seconds"
    return f"{seconds:g} seconds"
