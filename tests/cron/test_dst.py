"""DST windows, as robfig/cron's Next walks them (the CronJob controller's behaviour), in
America/New_York, Europe/London, Australia/Lord_Howe (30-minute shifts) and Asia/Kolkata
(a half-hour offset; DST only in the 1940s). Expected times worked out by hand from spec.go's
loops and Go's time.Date: a skipped wall time does not run; a repeated one runs twice where the
minute loop walks back into it; Lord Howe's half-hour jumps make robfig add or drop a run."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from cronjobs.cron import Spec, format_schedule, parse


def runs(schedule: str, zone: str, after: datetime, count: int) -> list[str]:
    s = parse(format_schedule(schedule, zone))
    out, t = [], after
    for _ in range(count):
        nxt = s.next(t)
        assert nxt is not None
        out.append(nxt.astimezone(ZoneInfo(zone)).isoformat(timespec="minutes"))
        t = nxt
    return out


CASES = [
    # New York, 2025-03-09 02:00 EST -> 03:00 EDT: 02:30 does not exist, no run that day.
    ("30 2 * * *", "America/New_York", datetime(2025, 3, 8, 12, tzinfo=UTC),
     ["2025-03-10T02:30-04:00", "2025-03-11T02:30-04:00"]),
    ("0 * * * *", "America/New_York", datetime(2025, 3, 9, 5, 30, tzinfo=UTC),
     ["2025-03-09T01:00-05:00", "2025-03-09T03:00-04:00"]),
    # New York, 2025-11-02 02:00 EDT -> 01:00 EST: 01:30 happens twice, runs twice.
    ("30 1 * * *", "America/New_York", datetime(2025, 11, 1, 12, tzinfo=UTC),
     ["2025-11-02T01:30-04:00", "2025-11-02T01:30-05:00", "2025-11-03T01:30-05:00"]),
    ("0 2 * * *", "America/New_York", datetime(2025, 11, 1, 12, tzinfo=UTC),
     ["2025-11-02T02:00-05:00", "2025-11-03T02:00-05:00"]),
    # London, 2025-03-30 01:00 GMT -> 02:00 BST: 01:30 skipped.
    ("30 1 * * *", "Europe/London", datetime(2025, 3, 29, 12, tzinfo=UTC),
     ["2025-03-31T01:30+01:00", "2025-04-01T01:30+01:00"]),
    # London, 2025-10-26 02:00 BST -> 01:00 GMT: 01:30 twice; hourly runs 01:00 twice.
    ("30 1 * * *", "Europe/London", datetime(2025, 10, 25, 12, tzinfo=UTC),
     ["2025-10-26T01:30+01:00", "2025-10-26T01:30+00:00", "2025-10-27T01:30+00:00"]),
    ("0 * * * *", "Europe/London", datetime(2025, 10, 25, 23, 30, tzinfo=UTC),
     ["2025-10-26T01:00+01:00", "2025-10-26T01:00+00:00", "2025-10-26T02:00+00:00"]),
    # Lord Howe, 2025-10-05 02:00 +10:30 -> 02:30 +11:00. 02:00 does not exist: skipped.
    ("0 2 * * *", "Australia/Lord_Howe", datetime(2025, 10, 3, tzinfo=UTC),
     ["2025-10-04T02:00+10:30", "2025-10-06T02:00+11:00"]),
    # ... and after 01:30 the minute loop steps from 01:59 to 02:30, which matches minute 30:
    # an extra run at 02:30 that no wall-clock reading of `30 1 * * *` names.
    ("30 1 * * *", "Australia/Lord_Howe", datetime(2025, 10, 4, tzinfo=UTC),
     ["2025-10-05T01:30+10:30", "2025-10-05T02:30+11:00", "2025-10-06T01:30+11:00"]),
    # Lord Howe, 2025-04-06 02:00 +11:00 -> 01:30 +10:30. 02:00 +10:30 exists, but the hour
    # loop lands on 02:30 and the minute loop then runs on to 03:00: robfig drops that day's run.
    ("0 2 * * *", "Australia/Lord_Howe", datetime(2025, 4, 4, 12, tzinfo=UTC),
     ["2025-04-05T02:00+11:00", "2025-04-07T02:00+10:30"]),
    # ... 01:45 happens twice and runs twice.
    ("45 1 * * *", "Australia/Lord_Howe", datetime(2025, 4, 5, 12, tzinfo=UTC),
     ["2025-04-06T01:45+11:00", "2025-04-06T01:45+10:30", "2025-04-07T01:45+10:30"]),
    # Kolkata, +05:30 all year: an hourly schedule runs on the local hour (:30 UTC).
    ("0 * * * *", "Asia/Kolkata", datetime(2025, 6, 1, tzinfo=UTC),
     ["2025-06-01T06:00+05:30", "2025-06-01T07:00+05:30"]),
    # Kolkata, 1942-09-01 00:00 +05:30 -> 01:00 +06:30 (midnight does not exist).
    ("0 9 * * *", "Asia/Kolkata", datetime(1942, 8, 31, 12, tzinfo=UTC),
     ["1942-09-01T09:00+06:30", "1942-09-02T09:00+06:30"]),
]  # fmt: skip


@pytest.mark.parametrize(("schedule", "zone", "after", "expected"), CASES)
def test_dst_windows(schedule: str, zone: str, after: datetime, expected: list[str]) -> None:
    assert runs(schedule, zone, after, len(expected)) == expected


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"])
def test_counting_a_span_agrees_with_following_next(zone: str) -> None:
    """Spec.between counts wall-clock matches where the offset is constant and follows Next
    across a change: the same ticks as following Next from the start, DST days included."""
    from cronjobs.cron import gotime

    days = ["2025-03-09", "2025-03-30", "2025-04-06", "2025-10-05", "2025-11-02", "2026-06-15"]
    for expr in ("* * * * *", "*/7 * * * *", "30 1 * * *", "0 2 * * *", "0 0 */2 * 0-6"):
        s = parse(format_schedule(expr, zone))
        assert isinstance(s, Spec)
        for day in days:
            lo = gotime.seconds(datetime.fromisoformat(day).replace(tzinfo=UTC)) - 43200
            followed, t = [], s.next(gotime.instant(lo - 1))
            while t is not None and gotime.seconds(t) < lo + 86400:
                followed.append(gotime.seconds(t))
                t = s.next(t)
            assert s.between(lo, lo + 86400) == followed, (expr, day)
