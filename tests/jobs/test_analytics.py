"""aggregate-daily-analytics and cleanup-old-analytics on SQLite and a real PostgreSQL 15."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert, select

from cronjobs.builtin.analytics import aggregate, days_between
from cronjobs.builtin.analytics_cleanup import cleanup_old_analytics
from cronjobs.dbapi import Db
from cronjobs.retention.models import analytics_events, daily_analytics
from tests.jobs.helpers import NOW, count, invoke

DAY = date(2026, 6, 14)
START = datetime(2026, 6, 14, tzinfo=UTC)


def add_events(engine: Engine, rows: list[tuple[str, str | None, datetime]]) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(analytics_events),
            [{"event_type": t, "user_id": u, "occurred_at": at} for t, u, at in rows],
        )


def figures(engine: Engine) -> dict[tuple[date, str], tuple[int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(daily_analytics)).all()
    return {(r.day, r.event_type): (r.event_count, r.unique_users) for r in rows}


def test_aggregates_one_utc_day_in_sql_and_is_idempotent(engine: Engine, run_db: Db) -> None:
    add_events(
        engine,
        [
            ("page_view", "a", START - timedelta(microseconds=1)),  # the day before: not counted
            ("page_view", "a", START),  # first instant of the day
            ("page_view", "a", START + timedelta(hours=3)),
            ("page_view", "b", START + timedelta(hours=5)),
            ("page_view", None, START + timedelta(hours=6)),  # anonymous: counted, not a user
            ("search", "c", START + timedelta(days=1) - timedelta(microseconds=1)),  # last instant
            ("search", "c", START + timedelta(days=1)),  # the next day: not counted
        ],
    )
    first = aggregate(run_db, [DAY])
    assert [(d.day, d.events, d.event_types) for d in first.days] == [(DAY, 5, 2)]
    expected = {(DAY, "page_view"): (4, 2), (DAY, "search"): (1, 1)}
    assert figures(engine) == expected
    aggregate(run_db, [DAY])  # twice: the same rows, no duplicates
    assert figures(engine) == expected
    # Late events are picked up by a rerun (upsert, not insert-once).
    add_events(engine, [("search", "d", START + timedelta(hours=1))])
    aggregate(run_db, [DAY])
    assert figures(engine)[(DAY, "search")] == (2, 2)


def test_backfill_matches_a_python_reference_and_dry_run_writes_nothing(
    engine: Engine, run_db: Db
) -> None:
    rows = []
    for i in range(300):
        at = START - timedelta(hours=7 * i)
        rows.append((("view", "click", "search")[i % 3], f"user{i % 17}", at))
    add_events(engine, rows)
    since, until = (START - timedelta(hours=7 * 299)).date(), DAY
    reference: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    users: dict[tuple[date, str], set[str]] = defaultdict(set)
    for t, u, at in rows:
        reference[(at.date(), t)][0] += 1
        users[(at.date(), t)].add(u)
    expected = {k: (v[0], len(users[k])) for k, v in reference.items()}

    dry = aggregate(run_db, days_between(since, until), dry_run=True)
    assert sum(d.events for d in dry.days) == 300
    assert count(engine, daily_analytics) == 0

    aggregate(run_db, days_between(since, until))
    assert figures(engine) == expected


def test_cleanup_aggregates_missing_days_before_deleting(engine: Engine, run_db: Db) -> None:
    cutoff = datetime(2025, 6, 15, tzinfo=UTC)  # NOW - 365 days, rounded down to midnight
    add_events(
        engine,
        [
            ("view", "a", cutoff - timedelta(days=3)),
            ("view", "b", cutoff - timedelta(seconds=1)),  # last second of the last old day
            ("view", "c", cutoff),  # first instant of the first kept day
            ("view", "d", cutoff + timedelta(hours=11)),  # newer than NOW - 365d exactly, same day
        ],
    )
    before = figures(engine)
    assert before == {}
    result = cleanup_old_analytics(run_db, now=NOW, batch_size=1)
    assert result.cutoff == cutoff
    assert result.aggregated_first == [date(2025, 6, 12), date(2025, 6, 14)]
    assert result.purge is not None and result.purge.deleted == 2 and result.purge.batches == 2
    assert count(engine, analytics_events) == 2
    # The deleted days' figures exist: nothing was lost.
    assert figures(engine) == {
        (date(2025, 6, 12), "view"): (1, 1),
        (date(2025, 6, 14), "view"): (1, 1),
    }
    again = cleanup_old_analytics(run_db, now=NOW)
    assert again.aggregated_first == [] and again.purge is not None and again.purge.deleted == 0


def test_cleanup_refuses_without_figures_and_touches_nothing(engine: Engine, db_url: str) -> None:
    add_events(engine, [("view", "a", datetime.now(UTC) - timedelta(days=400))])
    result = invoke("cleanup-old-analytics", "--no-aggregate-missing", env={"DATABASE_URL": db_url})
    assert result.exit_code == 1
    assert "have raw events but no daily figures" in result.stderr
    assert "nothing was deleted" in result.stderr
    assert "cronjobs aggregate-daily-analytics --since" in result.stderr
    assert count(engine, analytics_events) == 1 and count(engine, daily_analytics) == 0


def test_cleanup_dry_run_changes_nothing(engine: Engine, db_url: str) -> None:
    add_events(engine, [("view", "a", datetime.now(UTC) - timedelta(days=400))] * 3)
    result = invoke("cleanup-old-analytics", "--dry-run", env={"DATABASE_URL": db_url})
    assert result.exit_code == 0, result.stderr
    assert "would aggregate 1 day with no daily figures (" in result.stdout
    assert "analytics_events: would delete 3 rows\n" in result.stdout
    assert count(engine, analytics_events) == 3 and count(engine, daily_analytics) == 0


def test_aggregate_cli_date_options(engine: Engine, db_url: str) -> None:
    add_events(engine, [("view", "a", START + timedelta(hours=1))])
    env = {"DATABASE_URL": db_url}
    ok = invoke("aggregate-daily-analytics", "--date", "2026-06-14", env=env)
    assert ok.exit_code == 0, ok.stderr
    assert (
        "1 day aggregated (1 event): wrote daily figures\n  2026-06-14: 1 event, 1 event type\n"
        in (ok.stdout)
    )
    backfill = invoke(
        "aggregate-daily-analytics",
        "--since",
        "2026-06-10",
        "--until",
        "2026-06-14",
        "-o",
        "json",
        env=env,
    )
    assert backfill.exit_code == 0 and backfill.stdout.count('"day"') == 5
    both = invoke(
        "aggregate-daily-analytics", "--date", "2026-06-14", "--since", "2026-06-10", env=env
    )
    assert both.exit_code == 2 and "not both" in both.stderr
    swapped = invoke(
        "aggregate-daily-analytics", "--since", "2026-06-14", "--until", "2026-06-10", env=env
    )
    assert swapped.exit_code == 2 and "swap them" in swapped.stderr
    bad = invoke("aggregate-daily-analytics", "--date", "14/06/2026", env=env)
    assert bad.exit_code == 2 and "'14/06/2026': expected a day as YYYY-MM-DD" in bad.stderr
    no_such = invoke("aggregate-daily-analytics", "--date", "2024-02-30", env=env)
    assert no_such.exit_code == 2 and "'2024-02-30': no such day" in no_such.stderr


def test_a_backfill_keeps_figures_of_days_past_retention_unless_forced(
    engine: Engine, db_url: str, run_db: Db
) -> None:
    old_day = datetime.now(UTC).date() - timedelta(days=400)
    start = datetime.combine(old_day, datetime.min.time(), tzinfo=UTC)
    add_events(engine, [("view", "a", start + timedelta(hours=1))] * 3)
    aggregate(run_db, [old_day])  # complete figures: 3 events
    with engine.begin() as conn:  # the cleanup then deleted part of that day's raw events
        conn.execute(analytics_events.delete().where(analytics_events.c.id > 1))
    env = {"DATABASE_URL": db_url}
    kept = invoke("aggregate-daily-analytics", "--date", old_day.isoformat(), env=env)
    assert kept.exit_code == 0, kept.stderr
    assert "kept the figures of 1 day older than the retention cutoff" in kept.stdout
    assert figures(engine)[(old_day, "view")] == (3, 1)
    forced = invoke("aggregate-daily-analytics", "--date", old_day.isoformat(), "--force", env=env)
    assert forced.exit_code == 0 and figures(engine)[(old_day, "view")] == (1, 1)


def test_an_event_from_1970_does_not_block_the_cleanup(engine: Engine, run_db: Db) -> None:
    add_events(
        engine,
        [
            ("view", "a", datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)),
            ("view", "b", datetime(2020, 2, 29, 23, 59, 59, tzinfo=UTC)),
        ],
    )
    result = cleanup_old_analytics(run_db, now=NOW)
    assert result.aggregated_first == [date(1970, 1, 1), date(2020, 2, 29)]
    assert result.purge is not None and result.purge.deleted == 2


def test_date_range_mistakes_are_usage_errors() -> None:
    future = invoke("aggregate-daily-analytics", "--since", "2999-01-01")
    assert future.exit_code == 2 and "--since 2999-01-01 is in the future" in future.stderr
    today = datetime.now(UTC).date().isoformat()
    no_end = invoke("aggregate-daily-analytics", "--since", today)
    assert no_end.exit_code == 2 and "is after yesterday" in no_end.stderr
    huge = invoke("aggregate-daily-analytics", "--since", "1990-01-01", "--until", "2020-01-01")
    assert huge.exit_code == 2 and "a backfill covers at most 3660 days" in huge.stderr
    until_only = invoke("aggregate-daily-analytics", "--until", "2020-01-01")
    assert until_only.exit_code == 2 and "--until needs --since" in until_only.stderr


def test_aggregating_today_says_the_figures_are_partial(engine: Engine, db_url: str) -> None:
    now = datetime.now(UTC)
    add_events(engine, [("view", "a", now - timedelta(seconds=1))] * 2)
    env = {"DATABASE_URL": db_url}
    today = invoke("aggregate-daily-analytics", "--date", now.date().isoformat(), env=env)
    assert today.exit_code == 0, today.stderr
    assert (
        f"  {now.date()}: 2 events, 1 event type (the day is not over: partial figures; "
        "rerun it after it ends)\n"
    ) in today.stdout
    as_json = invoke(
        "aggregate-daily-analytics", "--date", now.date().isoformat(), "-o", "json", env=env
    )
    assert [d["partial"] for d in json.loads(as_json.stdout)["days"]] == [True]
    yesterday = invoke("aggregate-daily-analytics", "-o", "json", env=env)
    assert [d["partial"] for d in json.loads(yesterday.stdout)["days"]] == [False]
