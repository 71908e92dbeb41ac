"""The few pieces of Go's `time` package that robfig/cron's Next relies on, over instants.

An instant is an int of Unix seconds; a zone is any `tzinfo`. Go resolves a wall-clock time that
does not exist, or exists twice, in its own way (time.Date in go/src/time/time.go): it looks up
the zone's offset at the wall time read as UTC, and if the instant that gives lies outside that
offset's period, takes the offset at that instant instead. So in New York a skipped 02:30 becomes
01:30 EST (03:30 EDT's twin), in London 01:30 becomes 02:30 BST, and a repeated time resolves to
the first occurrence where the zone's offset is negative and the second where it is 0. robfig's
DST behaviour follows from this, so it is reproduced here exactly rather than approximated with
Python's fold.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import NamedTuple

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
MIN_YEAR, MAX_YEAR = 2, 9990
"""Instants outside these years are refused (Python's datetime stops at 1 and 9999)."""


class Wall(NamedTuple):
    """An instant's wall-clock fields in a zone; weekday 0 = Sunday, as Go counts."""

    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int
    weekday: int


def seconds(t: datetime) -> int:
    """An aware datetime as whole Unix seconds, rounded down (Go's t.Unix())."""
    return (t - _EPOCH) // timedelta(seconds=1)


def instant(ts: int) -> datetime:
    return _EPOCH + timedelta(seconds=ts)


def in_range(t: datetime) -> bool:
    return MIN_YEAR <= t.astimezone(UTC).year <= MAX_YEAR


def wall(ts: int, tz: tzinfo) -> Wall:
    d = instant(ts).astimezone(tz)
    return Wall(d.year, d.month, d.day, d.hour, d.minute, d.second, d.isoweekday() % 7)


def offset(ts: int, tz: tzinfo) -> int:
    """The zone's UTC offset in seconds at an instant."""
    off = instant(ts).astimezone(tz).utcoffset()
    return int(off.total_seconds()) if off else 0


def go_date(year: int, month: int, day: int, hour: int, minute: int, sec: int, tz: tzinfo) -> int:
    """Go's time.Date: fields normalised (month 13 is January of the next year, day 0 the last
    day of the month before), then the wall time resolved to an instant as Go does."""
    carry, m0 = divmod(month - 1, 12)
    year, month = year + carry, m0 + 1
    days = date(year, month, 1).toordinal() - _EPOCH_ORDINAL + day - 1
    unix = days * 86400 + hour * 3600 + minute * 60 + sec
    guess = offset(unix, tz)
    if guess == 0:
        return unix
    # If unix - guess lies in the period `guess` came from, the offset there is `guess`;
    # otherwise Go takes the offset at unix - guess: either way, the offset at unix - guess.
    return unix - offset(unix - guess, tz)


def add_date(ts: int, tz: tzinfo, months: int = 0, days: int = 0) -> int:
    """Go's t.AddDate(0, months, days): the wall-clock date moved, then resolved again."""
    w = wall(ts, tz)
    return go_date(w.year, w.month + months, w.day + days, w.hour, w.minute, w.second, tz)


_UNITS = {"ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000,
          "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}  # fmt: skip
_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")
_MAX_NS = (1 << 63) - 1


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds ("1h30m", "-1.5h", "300ms"); ValueError as Go's
    error reads."""
    original, s = text, text
    negative = s[:1] == "-"
    if s[:1] in ("-", "+"):
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f'time: invalid duration "{original}"')
    total = 0
    while s:
        m = _PART.match(s)
        assert m is not None  # the pattern matches any string, possibly empty
        whole, frac, unit = m.group(1), m.group(2), m.group(3)
        if not whole and not frac:
            raise ValueError(f'time: invalid duration "{original}"')
        if not unit:
            raise ValueError(f'time: missing unit in duration "{original}"')
        if unit not in _UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{original}"')
        scale = _UNITS[unit]
        value = int(whole or "0") * scale
        if frac:
            value += int(frac) * scale // 10 ** len(frac)
        total += value
        if total > _MAX_NS + (1 if negative else 0):
            raise ValueError(f'time: invalid duration "{original}"')
        s = s[m.end() :]
    return -total if negative else total
