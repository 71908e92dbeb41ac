"""cronjobs.cron.spec against robfig/cron v3.0.1's own test rows (tests/cron/robfig_rows.py names
each table's source): the parser and Next the CronJob controller uses, row for row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from cronjobs.cron import spec as robfig
from cronjobs.cron.spec import CronError, Every, Spec, parse
from tests.cron import robfig_rows as rows


def go_time(value: str) -> datetime | None:
    """The Go tests' getTime: local zone (UTC here), an offset, or "TZ=Zone <time>"."""
    if not value:
        return None
    zone: ZoneInfo | None = None
    if value.startswith("TZ="):
        name, value = value[3:].split(" ", 1)
        zone = ZoneInfo(name)
    for layout in ("%a %b %d %H:%M %Y", "%a %b %d %H:%M:%S %Y"):
        try:
            return datetime.strptime(value, layout).replace(tzinfo=UTC)
        except ValueError:
            pass
    t = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    return t.astimezone(zone) if zone else t.astimezone(timezone(t.utcoffset() or timedelta()))


@pytest.mark.parametrize(("when", "spec", "fires"), rows.ACTIVATION)
def test_activation(when: str, spec: str, fires: bool) -> None:
    t = go_time(when)
    assert t is not None
    assert (parse(spec).next(t - timedelta(seconds=1)) == t) is fires


@pytest.mark.parametrize(("when", "spec", "expected"), rows.NEXT)
def test_next(when: str, spec: str, expected: str) -> None:
    t = go_time(when)
    assert t is not None
    assert parse(spec, seconds=True).next(t) == go_time(expected)


@pytest.mark.parametrize(("when", "spec", "expected"), rows.NEXT_WITH_TZ)
def test_next_with_tz(when: str, spec: str, expected: str) -> None:
    t = go_time(when)
    assert t is not None
    assert parse(spec).next(t) == go_time(expected)


@pytest.mark.parametrize("spec", [*rows.ERRORS, rows.SLASH0])
def test_errors(spec: str) -> None:
    with pytest.raises(CronError):
        parse(spec)


@pytest.mark.parametrize(("expr", "low", "high", "expected", "error"), rows.RANGE)
def test_range(expr: str, low: int, high: int, expected: int, error: str) -> None:
    b = robfig.Bounds(low, high)
    if error:
        with pytest.raises(CronError, match=error):
            robfig.parse_range(expr, b)
    else:
        assert robfig.parse_range(expr, b) == expected


@pytest.mark.parametrize(("expr", "low", "high", "expected"), rows.FIELD)
def test_field(expr: str, low: int, high: int, expected: int) -> None:
    assert robfig.parse_field(expr, robfig.Bounds(low, high)) == expected


@pytest.mark.parametrize(("name", "expected"), rows.ALL)
def test_all(name: str, expected: int) -> None:
    b = {"minutes": robfig.MINUTES, "hours": robfig.HOURS, "dom": robfig.DOM,
         "months": robfig.MONTHS, "dow": robfig.DOW}[name]  # fmt: skip
    assert robfig.every_bit(b) == expected | robfig.STAR


@pytest.mark.parametrize(("low", "high", "step", "expected"), rows.BITS)
def test_bits(low: int, high: int, step: int, expected: int) -> None:
    assert robfig.bits(low, high, step) == expected


@pytest.mark.parametrize(("expr", "error"), rows.PARSE_ERRORS)
def test_parse_schedule_errors(expr: str, error: str) -> None:
    with pytest.raises(CronError, match=error):
        parse(expr, seconds=True)


@pytest.mark.parametrize(("expr", "expected", "error"), rows.STANDARD)
def test_standard_spec_schedule(expr: str, expected: object, error: str) -> None:
    if error:
        with pytest.raises(CronError, match=error):
            parse(expr)
        return
    got = parse(expr)
    if expected == "every5min":
        every = robfig.every_bit
        assert got == Spec(1, 1 << 5, every(robfig.HOURS), every(robfig.DOM),
                           every(robfig.MONTHS), every(robfig.DOW))  # fmt: skip
    else:
        assert got == Every(300)


@pytest.mark.parametrize(("expr", "zone"), rows.PARSE_ZONES)
def test_parse_schedule_zones(expr: str, zone: str | None) -> None:
    got = parse(expr)
    assert isinstance(got, Spec)
    assert got.location == (None if zone is None else UTC if zone == "UTC" else ZoneInfo(zone))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h30m", 5400), ("90s", 90), ("300ms", 1), ("0", 1), ("-1h", 1), ("1.5h", 5400),
     (".5m", 30), ("1h0.5s", 3600), ("2562047h", 2562047 * 3600)],
)  # fmt: skip
def test_every_reads_go_durations_cut_to_whole_seconds_at_least_one(
    text: str, seconds: int
) -> None:
    """constantdelay.go Every: under a second is 1s (a negative `@every -1h` too, which the API
    server accepts), the rest cut to whole seconds; durations are Go's ParseDuration."""
    assert parse(f"@every {text}") == Every(seconds)


@pytest.mark.parametrize("text", ["", "1", "1x", "h", ".", "1h ", " 1h", "2562048h", "1e3s"])
def test_every_refuses_what_go_refuses(text: str) -> None:
    with pytest.raises(CronError, match="failed to parse duration"):
        parse(f"@every {text}")


@pytest.mark.parametrize(
    ("expr", "accepted"),
    [("*-5 * * * *", True),  # getRange ignores what follows "*-"
     ("1,,2 * * * *", True), ("+5 * * * *", True), ("0\v0 * * *", True),
     ("@DAILY", False), (" @daily", False), ("@daily ", False), ("? * * * *", True),
     ("0 0 * * 7", False), ("0 0 1-31/2 * SUN-sat", True), ("TZ=Mars/Olympus 0 0 * * *", False),
     ("TZ=UTC", False), ("0 0 * * * *", False)],
)  # fmt: skip
def test_parser_corners_as_robfig(expr: str, accepted: bool) -> None:
    """Corners read off parser.go (these are what the API server accepts)."""
    if accepted:
        parse(expr)
    else:
        with pytest.raises(CronError):
            parse(expr)


def test_out_of_range_times_are_refused_not_crashed() -> None:
    with pytest.raises(robfig.OutOfRange):
        parse("* * * * *").next(datetime(9999, 1, 1, tzinfo=UTC))
