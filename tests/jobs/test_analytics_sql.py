"""Issue 27 item 3: cleanup-old-analytics sends SQL text on the run's own connection
(cronjobs.builtin.analytics_sql): with the built-in rules a run, dry or not, imports no
SQLAlchemy module, on PostgreSQL (a plain and a partitioned events table) and SQLite, and does
its work (old events deleted, a whole partition dropped)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, text

from cronjobs.builtin import partition_months
from cronjobs.builtin.analytics import aggregate_day
from cronjobs.database import connect
from cronjobs.dev.schema import create_missing
from cronjobs.retention.models import analytics_events, metadata
from cronjobs.settings import Settings, parse_database_url
from tests.jobs.helpers import count
from tests.jobs.test_catalogue_and_startup import _run_and_list_modules

OLD_DAY = (datetime.now(UTC) - timedelta(days=500)).date()
"""Well past the 365-day retention, whenever the test runs."""


def _old_events(engine: Engine, day: date, per_day: int = 3) -> None:
    """`per_day` events on `day` and the day after, each day with its figures."""
    with engine.begin() as conn:
        for d in (day, day + timedelta(days=1)):
            at = datetime(d.year, d.month, d.day, 12, tzinfo=UTC)
            rows = [{"event_type": "view", "user_id": f"u{i}", "occurred_at": at}
                    for i in range(per_day)]  # fmt: skip
            conn.execute(insert(analytics_events), rows)
            aggregate_day(conn, d)


def _sqlalchemy(loaded: set[str]) -> set[str]:
    return {m for m in loaded if m.split(".")[0] == "sqlalchemy"}


def _engine(url: str, partitioned: bool) -> Engine:
    if partitioned:
        create_missing(Settings(database_url=url), partitioned=True)
    engine = connect(parse_database_url(url))
    if not partitioned:
        metadata.create_all(engine)
    return engine


@pytest.mark.parametrize(
    "backend", ["postgresql", "postgresql-partitioned", "sqlite"], ids=lambda b: b
)
def test_cleanup_old_analytics_with_the_built_in_rules_imports_no_sqlalchemy(
    backend: str, pg_db_url: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}" if backend == "sqlite" else pg_db_url
    engine = _engine(url, partitioned=backend.endswith("partitioned"))
    try:
        if backend.endswith("partitioned"):
            first = partition_months.month_start(OLD_DAY)
            with engine.begin() as conn:
                partition_months.ensure_months(conn, analytics_events, first, first)
            day = first + timedelta(days=3)
        else:
            day = OLD_DAY
        _old_events(engine, day)

        dry = _run_and_list_modules(["cleanup-old-analytics", "--dry-run"], url)
        assert not _sqlalchemy(dry)
        assert count(engine, analytics_events) == 6  # a dry run deletes nothing
        loaded = _run_and_list_modules(["cleanup-old-analytics", "--output", "json"], url)
        assert not _sqlalchemy(loaded)
        assert ("psycopg" in loaded) == backend.startswith("postgresql")
        assert count(engine, analytics_events) == 0
        if backend.endswith("partitioned"):
            with engine.connect() as conn:
                left = conn.execute(
                    text("SELECT to_regclass(:p)"),
                    {"p": f"analytics_events_{first.year:04d}_{first.month:02d}"},
                ).scalar()
            assert left is None  # the old month's partition was dropped whole
    finally:
        engine.dispose()
