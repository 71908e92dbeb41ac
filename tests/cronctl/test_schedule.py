"""Next-run computation across time zones and DST transitions, with the CronJob controller's
(robfig/cron) rules: a wall-clock time skipped by spring-forward does not run that day; one in
the hour repeated by fall-back runs on both occurrences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cronjobs.cronctl.schedule import describe, next_run, next_runs, ticks, upcoming, zone


def local(ts: list[datetime], tz: str) -> list[str]:
    return [t.astimezone(zone(tz)).isoformat() for t in ts]


def test_new_york_spring_forward_skips_the_missing_time() -> None:
    # 2025-03-09: 02:00 EST jumps to 03:00 EDT, so 02:30 does not exist that day.
    after = datetime(2025, 3, 8, 12, 0, tzinfo=UTC)
    runs = next_runs("30 2 * * *", "America/New_York", after, 2)
    assert local(runs, "America/New_York") == [
        "2025-03-10T02:30:00-04:00",
        "2025-03-11T02:30:00-04:00",
    ]


def test_new_york_fall_back_runs_in_both_repeated_hours() -> None:
    # 2025-11-02: 02:00 EDT falls back to 01:00 EST, so 01:30 happens twice.
    after = datetime(2025, 11, 1, 12, 0, tzinfo=UTC)
    runs = next_runs("30 1 * * *", "America/New_York", after, 3)
    assert local(runs, "America/New_York") == [
        "2025-11-02T01:30:00-04:00",
        "2025-11-02T01:30:00-05:00",
        "2025-11-03T01:30:00-05:00",
    ]
    # From between the two occurrences, the next one is the second 01:30 (EST).
    between = datetime(2025, 11, 2, 5, 45, tzinfo=UTC)  # 01:45 EDT
    assert next_run("30 1 * * *", "America/New_York", between) == datetime(
        2025, 11, 2, 6, 30, tzinfo=UTC
    )


def test_berlin_every_six_hours_keeps_wall_clock_across_spring_forward() -> None:
    # 2025-03-30: 02:00 CET jumps to 03:00 CEST; runs stay at 00/06/12/18 local time.
    after = datetime(2025, 3, 29, 20, 0, tzinfo=UTC)
    runs = next_runs("0 */6 * * *", "Europe/Berlin", after, 3)
    assert local(runs, "Europe/Berlin") == [
        "2025-03-30T00:00:00+01:00",
        "2025-03-30T06:00:00+02:00",
        "2025-03-30T12:00:00+02:00",
    ]
    assert (runs[1] - runs[0]).total_seconds() == 5 * 3600  # the lost hour


def test_berlin_fall_back_daily_run_happens_once_outside_the_repeated_hour() -> None:
    after = datetime(2025, 10, 25, 12, 0, tzinfo=UTC)
    runs = next_runs("0 4 * * *", "Europe/Berlin", after, 2)
    assert local(runs, "Europe/Berlin") == [
        "2025-10-26T04:00:00+01:00",
        "2025-10-27T04:00:00+01:00",
    ]


def test_time_zone_changes_the_instant_and_default_is_utc() -> None:
    after = datetime(2025, 6, 1, 0, 0, tzinfo=UTC)
    assert next_run("0 2 * * *", None, after) == datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
    assert next_run("0 2 * * *", "Asia/Tokyo", after) == datetime(2025, 6, 1, 17, 0, tzinfo=UTC)
    assert next_run("@daily", "UTC", after) == datetime(2025, 6, 2, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "tz"),
    [("not a schedule", None), ("0 2 * * *", "Mars/Olympus"), ("0 0 30 2 *", None)],
)
def test_invalid_or_impossible_schedule_has_no_next_run(schedule: str, tz: str | None) -> None:
    assert next_run(schedule, tz, datetime(2025, 1, 1, tzinfo=UTC)) is None


def test_schedule_in_words() -> None:
    assert describe("0 2 * * *") == "At 02:00"
    assert describe("*/30 * * * *") == "Every 30 minutes"
    assert describe("@hourly") == "Every hour"
    assert describe("nonsense") == ""


def dates(runs: list[datetime]) -> list[str]:
    return [t.date().isoformat() for t in runs]


def test_day_fields_follow_robfig_cron_v3_star_bit_rule() -> None:
    """robfig/cron v3 (the CronJob controller's parser) ANDs day-of-month and day-of-week only
    when either field has the star bit: `*` or `?` with no step, or a step of 1. A step above 1
    (`*/2`) clears it, so the fields are ORed, as when both are restricted. Hand-computed:
    2025-01-01 is a Wednesday; January's Mondays are the 6th, 13th, 20th, 27th."""
    after = datetime(2025, 1, 1, tzinfo=UTC)
    # `*/2` ORs: odd days, and every Monday (the old code ANDed: Jan 13, 27, Feb 3, 17).
    assert dates(next_runs("0 0 */2 * 1", None, after, 4)) == [
        "2025-01-03",
        "2025-01-05",
        "2025-01-06",
        "2025-01-07",
    ]
    # The 1st, and Sundays, Tuesdays, Thursdays, Saturdays (`*/2` in day-of-week: 0,2,4,6).
    assert dates(next_runs("0 0 1 * */2", None, after, 3)) == [
        "2025-01-02",
        "2025-01-04",
        "2025-01-05",
    ]
    # A bare `*` (or `*/1`) ANDs: every day that is a Monday.
    assert dates(next_runs("0 0 * * 1", None, after, 2)) == ["2025-01-06", "2025-01-13"]
    assert dates(next_runs("0 0 */1 * 1", None, after, 2)) == ["2025-01-06", "2025-01-13"]
    assert dates(next_runs("0 0 1 * *", None, after, 2)) == ["2025-02-01", "2025-03-01"]
    # Both restricted: ORed (the 1st and 15th, and every Monday).
    assert dates(next_runs("0 0 1,15 * 1", None, after, 4)) == [
        "2025-01-06",
        "2025-01-13",
        "2025-01-15",
        "2025-01-20",
    ]


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        # robfig/cron v3's own TestNext cases, as five fields (after Mon 2012-07-09 23:35).
        ("0 0 */5 Apr,Aug,Oct Mon", "2012-08-01"),  # ORed: the 1st of August
        ("0 0 */5 Oct Mon", "2012-10-01"),
        ("0 0 * Feb Mon", "2013-02-04"),  # ANDed: `*` in day-of-month
        ("0 0 * Feb Mon/2", "2013-02-01"),  # Mon, Wed, Fri in February: Feb 1 is a Friday
    ],
)
def test_robfig_next_cases(schedule: str, expected: str) -> None:
    after = datetime(2012, 7, 9, 23, 35, tzinfo=UTC)
    assert dates(next_runs(schedule, None, after, 1)) == [expected]


def test_every_descriptor_is_a_constant_delay_from_the_anchor() -> None:
    """`@every` is accepted by the API server (robfig's ParseStandard): a delay in Go's
    duration syntax, counted from the last schedule time (or the creation), whole seconds."""
    anchor = datetime(2025, 6, 1, 10, 7, tzinfo=UTC)
    after = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    runs = next_runs("@every 1h30m", "Europe/Berlin", after, 3, anchor=anchor)
    assert [t.strftime("%H:%M") for t in runs] == ["13:07", "14:37", "16:07"]
    assert next_runs("@every 90s", None, anchor, 1) == [anchor + timedelta(seconds=90)]
    assert next_runs("@every 300ms", None, anchor, 1) == [anchor + timedelta(seconds=1)]
    assert describe("@every 1h30m") == "Every 1h30m from the last run"
    assert next_run("@every 1x", None, after) is None
    assert ticks("@every 6h", None, anchor, anchor + timedelta(days=1), anchor=anchor) == [
        anchor + timedelta(hours=h) for h in (6, 12, 18, 24)
    ]


@pytest.mark.parametrize("prefix", ["CRON_TZ=Asia/Tokyo ", "TZ=Asia/Tokyo "])
def test_legacy_time_zone_prefix_sets_the_zone(prefix: str) -> None:
    after = datetime(2025, 6, 1, 0, 0, tzinfo=UTC)
    assert next_run(prefix + "0 2 * * *", None, after) == datetime(2025, 6, 1, 17, 0, tzinfo=UTC)
    assert next_run(prefix + "@daily", None, after) == datetime(2025, 6, 1, 15, 0, tzinfo=UTC)
    assert describe(prefix + "0 2 * * *") == "At 02:00"
    assert next_run("TZ=Mars/Olympus 0 2 * * *", None, after) is None


def test_upcoming_marks_what_a_dst_change_skips_doubles_or_shifts() -> None:
    def marks(schedule: str, tz: str, after: datetime, count: int) -> list[tuple[str, str]]:
        return [(s.local, s.dst or "-") for s in upcoming(schedule, tz, after, count)]

    assert marks("30 2 * * *", "America/New_York", datetime(2025, 3, 8, 12, tzinfo=UTC), 1) == [
        ("2025-03-09T02:30", "skipped"),
        ("2025-03-10T02:30", "-"),
    ]
    assert marks("30 1 * * *", "America/New_York", datetime(2025, 11, 1, 12, tzinfo=UTC), 3) == [
        ("2025-11-02T01:30", "repeated"),
        ("2025-11-02T01:30", "repeated"),
        ("2025-11-03T01:30", "-"),
    ]
    assert marks("0 */6 * * *", "Europe/Berlin", datetime(2025, 3, 29, 20, tzinfo=UTC), 3) == [
        ("2025-03-30T00:00", "-"),
        ("2025-03-30T06:00", "shifted"),
        ("2025-03-30T12:00", "-"),
    ]


def test_the_tick_cache_is_bounded_by_size_and_reused_by_sliding_windows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`serve` asks the last 7 days of ticks to `now - 1 min` on every page load, `now` moving
    on each time: the cache keeps days of ticks, reused by the next window, and never holds more
    than its budget of ticks, whatever the number of requests (issue 23 item 1)."""
    from cronjobs.cronctl import schedule

    cache = schedule.TickCache(budget=20_000, max_days=40)
    monkeypatch.setattr(schedule, "TICKS", cache)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    held = []
    for i in range(0, 60 * 24 * 20, 361):  # a request every 6 hours or so, for 20 days
        now = start + timedelta(minutes=i)
        for expr in ("* * * * *", "*/5 * * * *", "0 * * * *"):
            found = ticks(expr, None, now - timedelta(days=7), now - timedelta(minutes=1))
            assert found[-1] <= now - timedelta(minutes=1) < found[-1] + timedelta(hours=1)
        held.append(cache.size)
    assert max(days for days, _ in held) <= 40
    assert max(count for _, count in held) <= 20_000
    assert cache.hits > 10 * cache.misses  # a window reuses the days it shares with the last
    cache.clear()
    assert cache.size == (0, 0)
