"""Schedules as robfig/cron v3.0.1 parses and evaluates them (parser.go, spec.go,
constantdelay.go): the CronJob controller's parser is its `ParseStandard`.

`parse("*/15 9-17 * * 1-5")` returns a `Spec` (bit sets, as robfig keeps them) or an `Every`
(`@every 1h30m`); `.next(t)` is robfig's `Next`: the first activation strictly after `t`, or None
where robfig returns the zero time (nothing within five years: `0 0 31 2 *`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronjobs.cron import gotime

STAR = 1 << 63
"""robfig's star bit: set when a field is `*` or `?` without a step above 1."""


class CronError(ValueError):
    """The schedule cannot be parsed; the message is robfig's (the API server's) words."""


@dataclass(frozen=True)
class Bounds:
    low: int
    high: int
    names: tuple[str, ...] = ()

    def name_value(self, text: str) -> int | None:
        lower = text.lower()
        return self.names.index(lower) + self.low if lower in self.names else None


SECONDS = Bounds(0, 59)
MINUTES = Bounds(0, 59)
HOURS = Bounds(0, 23)
DOM = Bounds(1, 31)
MONTHS = Bounds(1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                        "nov", "dec"))  # fmt: skip
DOW = Bounds(0, 6, ("sun", "mon", "tue", "wed", "thu", "fri", "sat"))


def bits(low: int, high: int, step: int) -> int:
    """robfig's getBits: the values low..high every `step`, as a bit set."""
    out = 0
    for i in range(low, high + 1, step):
        out |= 1 << i
    return out


def every_bit(b: Bounds) -> int:
    """robfig's all(): the whole range, with the star bit."""
    return bits(b.low, b.high, 1) | STAR


_INT = re.compile(r"[+-]?[0-9]+")


def _int(text: str) -> int:
    """robfig's mustParseInt (strconv.Atoi, then no negatives)."""
    if not _INT.fullmatch(text) or abs(int(text)) > (1 << 63) - 1:
        raise CronError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": '
                        + ("value out of range" if _INT.fullmatch(text) else "invalid syntax"))  # fmt: skip
    num = int(text)
    if num < 0:
        raise CronError(f"negative number ({num}) not allowed: {text}")
    return num


def _int_or_name(text: str, b: Bounds) -> int:
    named = b.name_value(text) if b.names else None
    return named if named is not None else _int(text)


def parse_range(expr: str, b: Bounds) -> int:
    """robfig's getRange: `*`, `?`, N, N-M, each with an optional /STEP."""
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    single = len(low_high) == 1
    extra = 0
    if low_high[0] in ("*", "?"):
        start, end, extra = b.low, b.high, STAR  # anything after "*-" is ignored, as in robfig
    else:
        start = _int_or_name(low_high[0], b)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], b)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _int(range_and_step[1])
        if single:
            end = b.high  # N/STEP is N-max/STEP
        if step > 1:
            extra = 0
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < b.low:
        raise CronError(f"beginning of range ({start}) below minimum ({b.low}): {expr}")
    if end > b.high:
        raise CronError(f"end of range ({end}) above maximum ({b.high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return bits(start, end, step) | extra


def parse_field(field: str, b: Bounds) -> int:
    """robfig's getField: a comma list of ranges (empty items are dropped, as FieldsFunc does)."""
    out = 0
    for expr in (part for part in field.split(",") if part):
        out |= parse_range(expr, b)
    return out


@dataclass(frozen=True)
class Spec:
    """robfig's SpecSchedule: one bit set per field, and the zone (None: the caller's)."""

    second: int
    minute: int
    hour: int
    dom: int
    month: int
    dow: int
    location: tzinfo | None = None

    def day_matches(self, w: gotime.Wall) -> bool:
        dom_match = bool(self.dom >> w.day & 1)
        dow_match = bool(self.dow >> w.weekday & 1)
        if self.dom & STAR or self.dow & STAR:
            return dom_match and dow_match
        return dom_match or dow_match

    def next(self, t: datetime) -> datetime | None:
        """robfig's SpecSchedule.Next (spec.go), step for step; None for its zero time."""
        _check(t)
        tz = self.location if self.location is not None else (t.tzinfo or UTC)
        ts = gotime.seconds(t) + 1  # the upcoming second
        added = False
        year_limit = gotime.wall(ts, tz).year + 5
        while True:  # WRAP
            w = gotime.wall(ts, tz)
            if w.year > year_limit:
                return None
            wrapped = False
            while not self.month >> w.month & 1:
                if not added:
                    added = True
                    ts = gotime.go_date(w.year, w.month, 1, 0, 0, 0, tz)
                ts = gotime.add_date(ts, tz, months=1)
                w = gotime.wall(ts, tz)
                if w.month == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not self.day_matches(w):
                if not added:
                    added = True
                    ts = gotime.go_date(w.year, w.month, w.day, 0, 0, 0, tz)
                ts = gotime.add_date(ts, tz, days=1)
                w = gotime.wall(ts, tz)
                if w.hour != 0:  # midnight did not exist (DST): back to it, as robfig does
                    ts += (24 - w.hour) * 3600 if w.hour > 12 else -w.hour * 3600
                    w = gotime.wall(ts, tz)
                if w.day == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not self.hour >> w.hour & 1:
                if not added:
                    added = True
                    ts = gotime.go_date(w.year, w.month, w.day, w.hour, 0, 0, tz)
                ts += 3600
                w = gotime.wall(ts, tz)
                if w.hour == 0:
                    wrapped = True
                    break
            if wrapped:
                continue
            ts, w, added, wrapped = self._step(ts, w, tz, added, 60, self.minute, "minute")
            if wrapped:
                continue
            ts, w, added, wrapped = self._step(ts, w, tz, added, 1, self.second, "second")
            if wrapped:
                continue
            return gotime.instant(ts)

    def between(self, lo: int, hi: int, zone: tzinfo = UTC) -> list[int]:
        """Every activation in [lo, hi) (Unix seconds), as following Next from lo - 1 gives.

        Where the zone's UTC offset is the same all through the span (checked every 3 hours,
        far closer than any two DST changes), Next is exact wall-clock matching, so the times
        are counted straight from the bit sets; across a change, Next is followed step by step.
        """
        tz = self.location if self.location is not None else zone
        checks = [*range(lo, hi, 3 * 3600), hi]
        offsets = {gotime.offset(t, tz) for t in checks}
        if len(offsets) != 1:
            return self._follow(lo, hi, tz)
        (off,) = offsets
        seconds = [v for v in range(60) if self.second >> v & 1]
        minutes = [v for v in range(60) if self.minute >> v & 1]
        hours = [v for v in range(24) if self.hour >> v & 1]
        found: list[int] = []
        day = (lo + off) // 86400
        while day * 86400 - off < hi:
            w = gotime.wall(day * 86400 - off, tz)
            if self.month >> w.month & 1 and self.day_matches(w):
                base = day * 86400 - off
                found += [
                    t
                    for h in hours
                    for m in minutes
                    for sec in seconds
                    if lo <= (t := base + h * 3600 + m * 60 + sec) < hi
                ]
            day += 1
        return found

    def _follow(self, lo: int, hi: int, tz: tzinfo) -> list[int]:
        found: list[int] = []
        t = Spec.next(replace(self, location=tz), gotime.instant(lo - 1))
        while t is not None and (ts := gotime.seconds(t)) < hi:
            found.append(ts)
            t = Spec.next(replace(self, location=tz), t)
        return found

    @staticmethod
    def _step(
        ts: int, w: gotime.Wall, tz: tzinfo, added: bool, unit: int, allowed: int, name: str
    ) -> tuple[int, gotime.Wall, bool, bool]:
        """robfig's minute or second loop: truncate, then add a unit until the field matches
        (or wraps to 0: back to WRAP). Jumps straight to the stop when the zone's offset does
        not change on the way (the usual case); steps one unit at a time when it does."""
        value = getattr(w, name)
        if allowed >> value & 1:
            return ts, w, added, False
        if not added:
            added = True
            ts -= ts % unit
        later = [v for v in range(value + 1, 60) if allowed >> v & 1]
        stop = later[0] if later else 60
        target = ts + (stop - value) * unit
        if gotime.offset(target, tz) == gotime.offset(ts, tz):
            w = gotime.wall(target, tz)
            return target, w, added, stop == 60
        while True:
            ts += unit
            w = gotime.wall(ts, tz)
            if getattr(w, name) == 0:
                return ts, w, added, True
            if allowed >> getattr(w, name) & 1:
                return ts, w, added, False


@dataclass(frozen=True)
class Every:
    """robfig's ConstantDelaySchedule: `@every D`, D cut to whole seconds and at least 1s."""

    seconds: int

    def next(self, t: datetime) -> datetime:
        _check(t)
        return gotime.instant(gotime.seconds(t) + self.seconds)


Schedule = Spec | Every


class OutOfRange(ValueError):
    """A time too far in the past or future to compute with."""


def _check(t: datetime) -> None:
    if not gotime.in_range(t):
        raise OutOfRange(
            f"{t.isoformat()} is out of range: years {gotime.MIN_YEAR}-{gotime.MAX_YEAR} only"
        )


_DESCRIPTORS = {
    "@yearly": (1, 1, 1 << 1, 1 << 1, every_bit(DOW)),
    "@annually": (1, 1, 1 << 1, 1 << 1, every_bit(DOW)),
    "@monthly": (1, 1, 1 << 1, every_bit(MONTHS), every_bit(DOW)),
    "@weekly": (1, 1, every_bit(DOM), every_bit(MONTHS), 1),
    "@daily": (1, 1, every_bit(DOM), every_bit(MONTHS), every_bit(DOW)),
    "@midnight": (1, 1, every_bit(DOM), every_bit(MONTHS), every_bit(DOW)),
    "@hourly": (1, every_bit(HOURS), every_bit(DOM), every_bit(MONTHS), every_bit(DOW)),
}
"""(minute, hour, dom, month, dow) bits of robfig's descriptors; the second is always 0."""
DESCRIPTORS = tuple(_DESCRIPTORS)

# Go's unicode.IsSpace, which strings.Fields and strings.TrimSpace split and trim on.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_FIELDS = re.compile(f"[^{_GO_SPACE}]+")
_TRIM = re.compile(f"^[{_GO_SPACE}]+|[{_GO_SPACE}]+$")


def load_location(name: str) -> tzinfo | None:
    """Go's time.LoadLocation: "" and "UTC" are UTC, "Local" the caller's zone (None)."""
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise CronError(f"unknown time zone {name}") from e


def parse(spec: str, *, seconds: bool = False) -> Schedule:
    """robfig/cron v3's ParseStandard (`seconds`: its tests' parser with a leading seconds
    field and an optional day-of-week). CronError with robfig's message when it fails."""
    if not spec:
        raise CronError("empty spec string")
    location: tzinfo | None = None
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space, eq = spec.find(" "), spec.find("=")
        if space < 0:
            raise CronError(f"a time zone prefix needs a schedule after it: {spec}")
        try:
            location = load_location(spec[eq + 1 : space])
        except CronError as e:
            raise CronError(f"provided bad location {spec[eq + 1 : space]}: {e}") from None
        spec = _TRIM.sub("", spec[space:])
    if spec.startswith("@"):
        return _descriptor(spec, location)
    fields = _FIELDS.findall(spec)
    if seconds:
        if not 5 <= len(fields) <= 6:
            raise CronError(f"expected 5 to 6 fields, found {len(fields)}: [{' '.join(fields)}]")
        fields = [*fields, "*"] if len(fields) == 5 else fields
    else:
        if len(fields) != 5:
            raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
        fields = ["0", *fields]
    return Spec(
        parse_field(fields[0], SECONDS),
        parse_field(fields[1], MINUTES),
        parse_field(fields[2], HOURS),
        parse_field(fields[3], DOM),
        parse_field(fields[4], MONTHS),
        parse_field(fields[5], DOW),
        location,
    )


def _descriptor(spec: str, location: tzinfo | None) -> Schedule:
    if spec in _DESCRIPTORS:
        return Spec(1, *_DESCRIPTORS[spec], location=location)
    if spec.startswith("@every "):
        try:
            ns = gotime.parse_duration(spec[len("@every ") :])
        except ValueError as e:
            raise CronError(f"failed to parse duration {spec}: {e}") from None
        return Every(max(1_000_000_000, ns) // 1_000_000_000)
    raise CronError(f"unrecognized descriptor: {spec}")
