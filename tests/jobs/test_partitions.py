"""A monthly-partitioned analytics_events on a real PostgreSQL 15: `init-db --partitioned`, the
partitions kept ahead, and cleanup-old-analytics dropping whole old partitions."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, select, text, update

from cronjobs.builtin import partition_months, partitions
from cronjobs.builtin.analytics import aggregate_day
from cronjobs.builtin.analytics_cleanup import cleanup_old_analytics
from cronjobs.database import connect
from cronjobs.dbapi import Db
from cronjobs.dev.schema import create_missing
from cronjobs.retention.models import analytics_events, daily_analytics
from cronjobs.retention.tables import DEFAULT_TABLES
from cronjobs.settings import Settings, parse_database_url
from tests.jobs.helpers import NOW, count, invoke, job_db

EVENTS = analytics_events


@pytest.fixture
def part_engine(pg_db_url: str) -> Iterator[Engine]:
    """The jobs' tables with analytics_events partitioned by month around NOW (2026-06-15),
    plus two older months (2025-03, 2025-04)."""
    create_missing(Settings(database_url=pg_db_url), partitioned=True, now=NOW)
    eng = connect(parse_database_url(pg_db_url))
    with eng.begin() as conn:
        partition_months.ensure_months(conn, EVENTS, date(2025, 3, 1), date(2025, 4, 1))
    yield eng
    eng.dispose()


@pytest.fixture
def part_db(part_engine: Engine) -> Iterator[Db]:
    """The run's own connection (cronjobs.dbapi.Db) to `part_engine`'s database."""
    with job_db(part_engine) as db:
        yield db


def names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        query = text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'analytics_events'::regclass ORDER BY 1"
        )
        return list(conn.scalars(query))


def add(engine: Engine, rows: list[tuple[str, datetime]], n: int = 1) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(analytics_events),
            [
                {"event_type": t, "user_id": f"u{i}", "occurred_at": when}
                for i in range(n)
                for t, when in rows
            ],
        )


def figures(engine: Engine) -> dict[tuple[date, str], int]:
    with engine.connect() as conn:
        rows = conn.execute(select(daily_analytics)).all()
    return {(r.day, r.event_type): r.event_count for r in rows}


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def test_init_db_partitioned_creates_monthly_partitions(pg_db_url: str) -> None:
    env = {"DATABASE_URL": pg_db_url}
    result = invoke("init-db", "--partitioned", env=env)
    assert result.exit_code == 0, result.stderr
    today = datetime.now(UTC).date()
    months = [partition_months.month_start(today, i) for i in range(-13, 3)]
    expected = [f"analytics_events_{m.year:04d}_{m.month:02d}" for m in months]
    eng = connect(parse_database_url(pg_db_url))
    try:
        assert names(eng) == expected
        assert "analytics_events, " in result.stdout and expected[-1] in result.stdout
        with eng.connect() as conn:
            assert partition_months.is_partitioned(conn, EVENTS)
            key = conn.scalar(
                text(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = 'analytics_events'::regclass AND contype = 'p'"
                )
            )
        assert key == "PRIMARY KEY (id, occurred_at)"
        add(eng, [("view", datetime.now(UTC))])  # the app's insert: id from its sequence
        assert count(eng, analytics_events) == 1
    finally:
        eng.dispose()
    again = invoke("init-db", "--partitioned", env=env)
    assert again.exit_code == 0 and again.stdout == "all tables exist\n"


def test_init_db_partitioned_needs_postgresql(tmp_path: Path) -> None:
    result = invoke("init-db", "--partitioned", env={"DATABASE_URL": f"sqlite:///{tmp_path}/a.db"})
    assert result.exit_code == 2
    assert "--partitioned needs PostgreSQL" in result.stderr


def test_ensure_partitions_is_idempotent_and_creates_future_months(
    part_engine: Engine, pg_db_url: str, part_db: Db
) -> None:
    assert partition_months.ensure_ahead(part_db, EVENTS, 2, now=NOW) == []
    made = partition_months.ensure_ahead(part_db, EVENTS, 4, now=NOW)
    assert made == ["analytics_events_2026_09", "analytics_events_2026_10"]
    assert partition_months.ensure_ahead(part_db, EVENTS, 4, now=NOW) == []
    # The aggregation job keeps them ahead of the real clock (default: 2 months).
    env = {"DATABASE_URL": pg_db_url}
    result = invoke("aggregate-daily-analytics", "--ensure-partitions", "3", env=env)
    assert result.exit_code == 0, result.stderr
    ahead = partition_months.month_start(datetime.now(UTC).date(), 3)
    assert f"analytics_events_{ahead.year:04d}_{ahead.month:02d}" in names(part_engine)
    add(part_engine, [("view", datetime.combine(ahead, datetime.min.time(), tzinfo=UTC))])


def test_unpartitioned_table_gets_no_partitions(pg_engine: Engine) -> None:
    with job_db(pg_engine) as db:
        assert partition_months.ensure_ahead(db, EVENTS, 2, now=NOW) == []


def test_recount_drops_old_partitions_counting_every_event(
    part_engine: Engine, part_db: Db
) -> None:
    """--recount-partitions: every event of a partition is counted against its figures."""
    rows = [
        ("view", at("2025-03-02")),
        ("click", at("2025-03-02", 23)),
        ("view", at("2025-03-31", 23)),
        ("view", at("2025-04-10")),  # its figures count more events than are left: kept
        ("click", at("2025-04-10")),
        ("view", at("2025-05-20")),
        ("view", at("2025-06-10")),  # boundary partition, before the cutoff (2025-06-15)
        ("view", at("2025-06-20")),  # boundary partition, after it: stays
    ]
    add(part_engine, rows, n=3)
    with part_engine.begin() as conn:  # pre-aggregated figures: one day right, one counting more
        for day, kind, n in ((date(2025, 3, 2), "view", 3), (date(2025, 4, 10), "view", 9)):
            conn.execute(
                insert(daily_analytics).values(
                    day=day, event_type=kind, event_count=n, unique_users=1, updated_at=NOW
                )
            )
    before = names(part_engine)

    dry = cleanup_old_analytics(part_db, now=NOW, dry_run=True, recount_partitions=True)
    assert dry.partitions is not None
    assert [p.name for p in dry.partitions.dropped] == [
        "analytics_events_2025_03",
        "analytics_events_2025_05",
    ]
    assert dry.partitions.rows == 12 and dry.partitions.kept == ["analytics_events_2025_04"]
    assert any("would detach and drop 2 partitions" in line for line in dry.lines())
    assert names(part_engine) == before and count(part_engine, analytics_events) == 24
    assert len(figures(part_engine)) == 2

    result = cleanup_old_analytics(
        part_db, now=NOW, batch_size=1, recount_partitions=True, exact_cutoff=True
    )
    assert result.partitions is not None
    assert [(p.name, p.rows) for p in result.partitions.dropped] == [
        ("analytics_events_2025_03", 9),
        ("analytics_events_2025_05", 3),
    ]
    assert result.partitions.kept == ["analytics_events_2025_04"]
    assert result.partitions.kept_days == [date(2025, 4, 10)]
    gone = {"analytics_events_2025_03", "analytics_events_2025_05"}
    assert names(part_engine) == [n for n in before if n not in gone]
    # Per-day path (exact_cutoff): the boundary's old day and the kept partition's counted type.
    assert result.purge is not None and result.purge.deleted == 3 + 3
    assert result.kept == 3 and result.kept_days == [date(2025, 4, 10)]
    with part_engine.connect() as conn:
        left = Counter(
            (r.occurred_at.date(), r.event_type) for r in conn.execute(select(analytics_events))
        )
    assert left == {(date(2025, 4, 10), "view"): 3, (date(2025, 6, 20), "view"): 3}
    # Every removed event is counted: figures == events ever inserted for those days.
    inserted = Counter((when.date(), kind) for kind, when in rows for _ in range(3))
    counted = figures(part_engine)
    for key, n in inserted.items():
        if key[0] < date(2025, 6, 15) and key != (date(2025, 4, 10), "view"):
            assert counted[key] == n, key
    assert counted[(date(2025, 4, 10), "view")] == 9  # kept as it was
    as_json = json.loads(json.dumps(result.partitions.__dict__, default=str))
    assert as_json["dropped"]

    again = cleanup_old_analytics(part_db, now=NOW, recount_partitions=True)
    assert again.partitions is not None and again.partitions.dropped == []
    assert again.purge is not None and again.purge.deleted == 0


def test_cleanup_drops_partitions_whose_days_have_figures_without_reading_them(
    part_engine: Engine, part_db: Db
) -> None:
    """The default check: every UTC day a partition holds has figures (days without are
    aggregated first), found by index probes; no statement reads the partition's events."""
    rows = [
        ("view", at("2025-03-02")),
        ("click", at("2025-03-02", 23)),
        ("view", at("2025-03-31", 23)),  # no figures: aggregated before the drop
        ("view", at("2025-04-10")),  # figures counting more than are left: dropped, kept as is
        ("view", at("2025-05-20")),
        ("view", at("2025-06-10")),  # boundary partition, before the cutoff (2025-06-15)
        ("view", at("2025-06-20")),  # boundary partition, after it: stays
    ]
    add(part_engine, rows, n=3)
    with part_engine.begin() as conn:
        for day in (date(2025, 3, 2), date(2025, 4, 10), date(2025, 5, 20)):
            aggregate_day(conn, day, now=NOW)
        conn.execute(
            update(daily_analytics)
            .where(daily_analytics.c.day == date(2025, 4, 10))
            .values(event_count=9)
        )
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(part_engine, "before_cursor_execute", seen)
    try:
        parts = partitions.drop_old_partitions(
            part_engine, at("2025-06-01"), now=NOW, tables=DEFAULT_TABLES
        )
    finally:
        event.remove(part_engine, "before_cursor_execute", seen)
    assert [(p.name, p.rows) for p in parts.dropped] == [
        ("analytics_events_2025_03", 9),
        ("analytics_events_2025_04", 9),
        ("analytics_events_2025_05", 3),
    ]
    assert parts.aggregated == [date(2025, 3, 31)] and parts.kept == []
    counting = [s for s in statements if "analytics_events" in s and "count(" in s.lower()]
    upserts = [s for s in counting if s.startswith('INSERT INTO "daily_analytics"')]
    assert len(upserts) == 1 and counting == upserts, counting  # only the missing day's upsert
    # Each partition is checked once, under its lock; 2025-03, which lacked a day's figures,
    # once more after that day was aggregated (outside the lock).
    scans = [i for i, s in enumerate(statements) if s.startswith("WITH RECURSIVE days")]
    locks = [s for s in statements if s.startswith("LOCK TABLE")]
    assert len(scans) == len(locks) == 4, statements
    assert all(statements[i - 1].startswith("LOCK TABLE") for i in scans)
    counted = figures(part_engine)
    assert counted[(date(2025, 3, 31), "view")] == 3 and counted[(date(2025, 4, 10), "view")] == 9
    assert counted[(date(2025, 3, 2), "click")] == 3

    # By default the boundary partition's old day waits to be dropped with its month.
    result = cleanup_old_analytics(part_db, now=NOW)
    assert result.purge is not None and result.purge.deleted == 0
    assert (result.held_partition, result.held_from) == ("analytics_events_2025_06", FIRST_JUNE)
    assert (
        "kept the days from 2025-06-01 to the cutoff: they are in analytics_events_2025_06, "
        "dropped whole once all of it is past the cutoff (--exact-cutoff deletes them row by row)"
    ) in result.lines()
    assert left_days(part_engine) == [date(2025, 6, 10)] * 3 + [date(2025, 6, 20)] * 3
    # With exact_cutoff, row by row to the cutoff.
    result = cleanup_old_analytics(part_db, now=NOW, exact_cutoff=True)
    assert result.purge is not None and result.purge.deleted == 3
    assert result.held_partition is None
    assert left_days(part_engine) == [date(2025, 6, 20)] * 3


FIRST_JUNE = date(2025, 6, 1)


def left_days(engine: Engine) -> list[date]:
    with engine.connect() as conn:
        return sorted(r.occurred_at.date() for r in conn.execute(select(analytics_events)))


def test_the_held_partition_is_dropped_whole_once_past_the_cutoff(
    part_engine: Engine, part_db: Db
) -> None:
    """A year of retention keeps the boundary month's old days until the whole month is past
    the cutoff, then drops the month: no event of it is ever deleted row by row."""
    add(part_engine, [("view", at("2025-06-03")), ("view", at("2025-06-28"))], n=2)
    with part_engine.begin() as conn:
        for day in (date(2025, 6, 3), date(2025, 6, 28)):
            aggregate_day(conn, day, now=NOW)
    first = cleanup_old_analytics(part_db, now=NOW)  # cutoff 2025-06-15
    assert first.purge is not None and first.purge.deleted == 0
    assert left_days(part_engine) == [date(2025, 6, 3)] * 2 + [date(2025, 6, 28)] * 2
    later = NOW + timedelta(days=20)  # cutoff 2025-07-05: June is wholly past it
    second = cleanup_old_analytics(part_db, now=later)
    assert second.partitions is not None
    assert "analytics_events_2025_06" in [p.name for p in second.partitions.dropped]
    assert second.purge is not None and second.purge.deleted == 0
    assert second.held_partition == "analytics_events_2025_07"  # now July waits
    assert left_days(part_engine) == []


def test_cli_reports_partitions_in_text_and_json(part_engine: Engine, pg_db_url: str) -> None:
    old = datetime.now(UTC) - timedelta(days=420)
    with part_engine.begin() as conn:
        partition_months.ensure_months(conn, EVENTS, old.date(), old.date())
    add(part_engine, [("view", old)], n=2)
    env = {"DATABASE_URL": pg_db_url}
    name = f"analytics_events_{old.year:04d}_{old.month:02d}"
    dry = invoke("cleanup-old-analytics", "--dry-run", env=env)
    assert dry.exit_code == 0, dry.stderr
    assert "would detach and drop " in dry.stdout and "(2 events counted)" in dry.stdout
    recount = invoke("cleanup-old-analytics", "--dry-run", "--recount-partitions", env=env)
    assert recount.exit_code == 0, recount.stderr
    assert "(2 events counted)" in recount.stdout
    assert name in names(part_engine)
    result = invoke("cleanup-old-analytics", "-o", "json", env=env)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    dropped = data["partitions"]["dropped"]
    assert {"name": name, "rows": 2} in [{"name": p["name"], "rows": p["rows"]} for p in dropped]
    assert name not in names(part_engine)
    assert figures(part_engine)[(old.date(), "view")] == 2


def test_exact_cutoff_is_a_flag_and_a_variable(part_engine: Engine, pg_db_url: str) -> None:
    """--exact-cutoff / CRONJOBS_ANALYTICS_EXACT_CUTOFF reach the job: the boundary month's old
    days go row by row only with it. (On a day whose cutoff is a month's first day there are
    no boundary days: the old day's month is dropped whole either way.)"""
    cutoff = (datetime.now(UTC) - timedelta(days=365)).date()
    day = datetime.combine(cutoff - timedelta(days=1), datetime.min.time(), UTC) + timedelta(
        hours=12
    )
    with part_engine.begin() as conn:
        partition_months.ensure_months(conn, EVENTS, day.date(), cutoff)
    add(part_engine, [("view", day)])
    with part_engine.begin() as conn:
        aggregate_day(conn, day.date())
    shown = invoke("cleanup-old-analytics", "--help")
    assert "--exact-cutoff" in shown.stdout and "CRONJOBS_ANALYTICS_EXACT_CUTOFF" in shown.stdout
    env = {"DATABASE_URL": pg_db_url}
    first = invoke("cleanup-old-analytics", env=env)
    assert first.exit_code == 0, first.stderr
    if cutoff.day == 1:
        assert "kept the days from" not in first.stdout and left_days(part_engine) == []
        return
    assert f"kept the days from {cutoff.replace(day=1)} to the cutoff" in first.stdout
    assert left_days(part_engine) == [day.date()]
    gone = invoke("cleanup-old-analytics", env={**env, "CRONJOBS_ANALYTICS_EXACT_CUTOFF": "1"})
    assert gone.exit_code == 0, gone.stderr
    assert "kept the days from" not in gone.stdout and left_days(part_engine) == []
