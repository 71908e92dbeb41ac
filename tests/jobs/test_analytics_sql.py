"""Issue 27 item 3: cleanup-old-analytics sends SQL text on the run's own connection
(cronjobs.builtin.analytics_sql): with the built-in rules a run, dry or not, imports no
SQLAlchemy module, on PostgreSQL (a plain and a partitioned events table) and SQLite, and does
its work (old events deleted, a whole partition dropped)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, text

from cronjobs.builtin import partition_months
from cronjobs.builtin.analytics import aggregate_day
from cronjobs.database import connect
from cronjobs.dbapi import quote
from cronjobs.dblike import on
from cronjobs.dev.schema import create_missing
from cronjobs.retention.models import analytics_events, metadata
from cronjobs.settings import Settings, parse_database_url
from tests.jobs.helpers import count, modules_loaded_by

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

        dry = modules_loaded_by(["cleanup-old-analytics", "--dry-run"], url)
        assert not _sqlalchemy(dry)
        assert count(engine, analytics_events) == 6  # a dry run deletes nothing
        loaded = modules_loaded_by(["cleanup-old-analytics", "--output", "json"], url)
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


HOSTILE = 'ev"; DROP TABLE keep; --'
COLUMNS = {"at": "When's it from", "kind": "select", "who": "100% user", "id": "Id"}


def test_a_rules_file_s_hostile_names_are_names_in_the_cleanup_s_sql(
    tmp_path: Path, db_url: str
) -> None:
    """The cleanup's SQL text quotes every name a rules file gives (a quote, a semicolon, a
    reserved word, a space, a percent sign): the old day is counted and deleted from that
    table, and `keep` is untouched."""
    from tests.jobs.helpers import invoke

    engine = connect(parse_database_url(db_url))
    q = quote
    stamp = "TIMESTAMP WITH TIME ZONE" if engine.dialect.name == "postgresql" else "TIMESTAMP"
    at, kind, who, ident = (q(COLUMNS[k]) for k in ("at", "kind", "who", "id"))
    old = datetime.now(UTC) - timedelta(days=500)
    with engine.begin() as conn:
        # On the driver's cursor, without parameters: a % in a name is sent as it is.
        ddl = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        ddl.execute("CREATE TABLE keep (id INTEGER PRIMARY KEY)")
        ddl.execute(
            f"CREATE TABLE {q(HOSTILE)} ({ident} INTEGER PRIMARY KEY, {at} {stamp} NOT NULL, "
            f"{kind} TEXT, {who} TEXT)"
        )
        ddl.execute(f"CREATE INDEX ix_h ON {q(HOSTILE)} ({at})")
        ddl.execute(
            f"CREATE TABLE {q('per day')} ({q('the day')} DATE NOT NULL, {kind} TEXT NOT NULL, "
            f"{q('n%')} BIGINT, {q('users')} BIGINT, {q('stamped at')} {stamp}, "
            f"PRIMARY KEY ({q('the day')}, {kind}))"
        )
        on(conn).execute(
            f"INSERT INTO {q(HOSTILE)} ({ident}, {at}, {kind}, {who}) VALUES "
            "(1, :old, 'view', 'u1'), (2, :old, 'view', 'u2'), (3, :new, 'view', 'u1')",
            {"old": old, "new": datetime.now(UTC)},
        )
    body = f"""
[cleanup-old-analytics]
table = {json.dumps(HOSTILE)}
primary_key = "Id"
age = {json.dumps(COLUMNS["at"])}
days = 365

[rollup]
source = {json.dumps(HOSTILE)}
timestamp = {json.dumps(COLUMNS["at"])}
group_by = "select"
distinct = "100% user"
target = "per day"
columns = {{ day = "the day", group = "select", count = "n%", distinct = "users", updated_at = "stamped at" }}
"""
    path = tmp_path / "rules.toml"
    path.write_text(body)
    env = {"DATABASE_URL": db_url, "CRONJOBS_RULES": str(path)}
    try:
        result = invoke("cleanup-old-analytics", "-o", "json", env=env)
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["purge"]["deleted"] == 2
        with engine.connect() as conn:
            assert conn.scalar(text(f"SELECT count(*) FROM {q(HOSTILE)}")) == 1
            figures = on(conn).rows(
                f"SELECT {kind}, {q('n%')} FROM {q('per day')} WHERE {q('n%')} >= :least",
                {"least": 0},
            )
            assert conn.scalar(text("SELECT count(*) FROM keep")) == 0  # the table is there
        assert [tuple(r) for r in figures] == [("view", 2)]  # counted by the delete
    finally:
        engine.dispose()


def test_the_built_in_rules_refuse_a_cascade_from_analytics_events(
    engine: Engine, db_url: str
) -> None:
    """No rules file: an app table of its own that cascades from analytics_events would lose
    rows with the old events. The check reads the foreign keys with SQL text on the run's own
    connection: exit 2 naming the key, nothing deleted."""
    from tests.jobs.helpers import invoke

    _old_events(engine, OLD_DAY)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE event_notes (id INTEGER PRIMARY KEY, "
                "event_id INTEGER REFERENCES analytics_events (id) ON DELETE CASCADE)"
            )
        )
    result = invoke("cleanup-old-analytics", env={"DATABASE_URL": db_url})
    assert result.exit_code == 2, result.stderr
    assert (
        "rule for table 'analytics_events': event_notes.event_id: refers to analytics_events "
        "ON DELETE CASCADE" in result.stderr
    ), result.stderr
    assert count(engine, analytics_events) == 6


def test_the_default_names_are_the_built_in_tables() -> None:
    """`DEFAULT_ANALYTICS` names models.py's tables without importing them (a run with the
    built-in tables imports no SQLAlchemy): it stays what their SQLAlchemy binding derives."""
    from cronjobs.retention.names import DEFAULT_ANALYTICS, analytics_names
    from cronjobs.retention.tables import DEFAULT_TABLES

    assert analytics_names(DEFAULT_TABLES) == DEFAULT_ANALYTICS
