"""A schedule in words that are true of robfig/cron: `*/7 * * * *` restarts at the top of the
hour, so it is "At 0, 7, ..., 56 minutes past the hour", not "Every 7 minutes".

The parsed bit sets are written back as a canonical expression (a step only where it divides
its cycle evenly, lists otherwise; the day-of-month/day-of-week OR rule resolved), which
cron-descriptor then reads.
"""

from __future__ import annotations

from cronjobs.cron.spec import DOM, DOW, HOURS, MINUTES, MONTHS, STAR, Bounds, Every, Schedule, Spec

_CYCLES = {"minute": (MINUTES, 60), "hour": (HOURS, 24), "month": (MONTHS, 12)}


def values(field_bits: int, b: Bounds) -> list[int]:
    return [v for v in range(b.low, b.high + 1) if field_bits >> v & 1]


def _compact(found: list[int]) -> str:
    runs: list[list[int]] = []
    for v in found:
        if runs and v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs)


def _field(field_bits: int, b: Bounds, cycle: int | None) -> str:
    found = values(field_bits, b)
    if len(found) == b.high - b.low + 1:
        return "*"
    if cycle is not None and len(found) > 1 and found[0] == b.low:
        step = found[1] - found[0]
        if cycle % step == 0 and found == list(range(b.low, b.high + 1, step)):
            return f"*/{step}"
    return _compact(found)


def canonical(spec: Spec) -> str:
    """The five fields as they behave: `0 0 */2 * 0-6` (ORed with every weekday) is daily."""
    minute = _field(spec.minute, MINUTES, 60)
    hour = _field(spec.hour, HOURS, 24)
    month = _field(spec.month, MONTHS, 12)
    dom, dow = _field(spec.dom, DOM, None), _field(spec.dow, DOW, None)
    if not (spec.dom & STAR or spec.dow & STAR) and "*" in (dom, dow):
        dom = dow = "*"  # ORed with a field that matches every day: every day
    return f"{minute} {hour} {dom} {month} {dow}"


def span(seconds: int) -> str:
    """A duration as Go prints it, without zero parts: 1h30m, 45s, 2h."""
    h, rest = divmod(seconds, 3600)
    m, sec = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (sec, "s")) if v) or "0s"


def describe(schedule: Schedule) -> str:
    """In words ("At 02:00", "Every 15 minutes"); "" if cron-descriptor cannot say it."""
    if isinstance(schedule, Every):
        return f"Every {span(schedule.seconds)} from the last run"
    if schedule.second != 1:
        return ""
    from cron_descriptor import ExpressionDescriptor, Options

    options = Options()
    options.use_24hour_time_format = True
    try:
        return str(ExpressionDescriptor(canonical(schedule), options).get_description())
    except Exception:  # cron-descriptor raises several unrelated types for input it cannot read
        return ""
