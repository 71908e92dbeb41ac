"""Dropping old partitions while the app reads and writes the partitioned table, on a real
PostgreSQL 15 (issue 23 item 8): the job takes the parent's lock before the partition's, as
the app's queries do, so neither side ever fails with "deadlock detected"."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from cronjobs.builtin import partition_months
from cronjobs.builtin.analytics import aggregate_day
from cronjobs.database import connect
from cronjobs.dev.schema import create_missing
from cronjobs.retention.models import analytics_events
from cronjobs.settings import Settings, parse_database_url
from tests.jobs.helpers import invoke

EVENTS = analytics_events
ROUNDS = 6
OLD_MONTHS = 4


@pytest.fixture
def part_engine(pg_db_url: str) -> Iterator[Engine]:
    create_missing(Settings(database_url=pg_db_url), partitioned=True)
    eng = connect(parse_database_url(pg_db_url))
    yield eng
    eng.dispose()


def _old_months(engine: Engine) -> list[date]:
    """Create OLD_MONTHS monthly partitions well past the 365-day retention, each with an
    event whose day has figures (so each is dropped whole); their first days."""
    first = partition_months.month_start((datetime.now(UTC) - timedelta(days=500)).date())
    months = [partition_months.month_start(first, i) for i in range(OLD_MONTHS)]
    with engine.begin() as conn:
        partition_months.ensure_months(conn, EVENTS, months[0], months[-1])
        for month in months:
            day = month + timedelta(days=3)
            conn.execute(
                text(
                    "INSERT INTO analytics_events (event_type, user_id, occurred_at) "
                    "VALUES ('view', 'u', :at)"
                ),
                {"at": datetime(day.year, day.month, day.day, 12, tzinfo=UTC)},
            )
            aggregate_day(conn, day)
    return months


class App:
    """Threads acting as the app on the parent table until stopped: readers (a count of the
    whole table, alone and as two statements of one transaction) and writers (an event now);
    every error they meet is kept."""

    def __init__(self, engine: Engine, readers: int = 3, writers: int = 2) -> None:
        self.engine, self.stop = engine, threading.Event()
        self.errors: list[str] = []
        self.done = 0
        work = [self._read] * readers + [self._write] * writers
        self.threads = [threading.Thread(target=self._loop, args=(w,)) for w in work]

    def _read(self, conn: Any) -> None:
        with conn.begin():
            conn.execute(text("SELECT count(*) FROM analytics_events"))
            conn.execute(text("SELECT max(occurred_at) FROM analytics_events"))

    def _write(self, conn: Any) -> None:
        with conn.begin():
            conn.execute(
                text(
                    "INSERT INTO analytics_events (event_type, user_id, occurred_at) "
                    "VALUES ('app', 'u', now())"
                )
            )

    def _loop(self, work: Any) -> None:
        with self.engine.connect() as conn:
            while not self.stop.is_set():
                try:
                    work(conn)
                    self.done += 1
                except Exception as e:  # every failure is the finding
                    self.errors.append(str(e).splitlines()[0])

    def __enter__(self) -> App:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)


def test_dropping_partitions_under_app_reads_and_writes_never_deadlocks(
    part_engine: Engine, pg_db_url: str
) -> None:
    env = {"DATABASE_URL": pg_db_url}
    for _ in range(ROUNDS):
        months = _old_months(part_engine)
        with App(part_engine) as app:
            result = invoke("cleanup-old-analytics", env=env)
        assert result.exit_code == 0, result.stderr
        assert not [e for e in app.errors if "deadlock" in e], app.errors
        assert app.errors == [] and app.done > 0
        with part_engine.connect() as conn:
            left = [p.name for p in partition_months.partitions(conn, EVENTS)]
        assert not [
            n for n in left if any(n.endswith(f"{m.year:04d}_{m.month:02d}") for m in months)
        ]
