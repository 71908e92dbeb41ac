"""Creating the jobs' tables where they are missing (development stacks and the demo)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from sqlalchemy import Connection, MetaData, Table, inspect
from sqlalchemy.engine import make_url

from cronjobs.builtin import partition_months
from cronjobs.database import connect, describe
from cronjobs.db_errors import translate_errors
from cronjobs.errors import ConfigError
from cronjobs.retention import models
from cronjobs.settings import Settings

PAST_MONTHS = 13
"""Months before the current one that `init-db --partitioned` creates partitions for."""
AHEAD_MONTHS = 2


def partitioned_events(metadata: MetaData) -> Table:
    """analytics_events as a RANGE-partitioned table on occurred_at: the partition key must be
    in every unique constraint, so the primary key is (id, occurred_at); id stays BIGSERIAL."""
    source = models.analytics_events
    columns = []
    for column in source.columns:
        copy = column._copy()
        if column.name == "occurred_at":
            copy.primary_key = True
        if column.name == "id":
            copy.autoincrement = True
        columns.append(copy)
    return Table(
        source.name,
        metadata,
        *columns,
        postgresql_partition_by="RANGE (occurred_at)",
    )


def _monthly(conn: Connection, table: Table, now: datetime) -> list[str]:
    today = now.date()
    first = partition_months.month_start(today, -PAST_MONTHS)
    return partition_months.ensure_months(
        conn, table, first, partition_months.month_start(today, AHEAD_MONTHS)
    )


def create_missing(
    settings: Settings,
    *,
    dry_run: bool = False,
    partitioned: bool = False,
    now: datetime | None = None,
) -> list[str]:
    """Create the tables (and their indexes) that do not exist; return their names.

    `partitioned` (PostgreSQL only): analytics_events is created partitioned by UTC month, with
    partitions for the past PAST_MONTHS months and the next AHEAD_MONTHS (the missing ones of
    an existing partitioned table are added; an unpartitioned one is left as it is).
    """
    url = settings.require_database()
    sqlite_file = _sqlite_file(url)
    if sqlite_file == "":
        raise ConfigError(
            "DATABASE_URL names an in-memory SQLite database, which is gone when init-db "
            "exits: name a file, e.g. sqlite:///data/app.db"
        )
    if partitioned and make_url(url).get_backend_name() != "postgresql":
        raise ConfigError("--partitioned needs PostgreSQL: SQLite has no partitioned tables")
    if dry_run and sqlite_file and not os.path.exists(sqlite_file):  # connecting creates it
        return [t.name for t in models.metadata.sorted_tables]
    engine = connect(url, settings.timeout, settings.lock_timeout)
    events_name = models.analytics_events.name

    def work() -> list[str]:
        existing = set(inspect(engine).get_table_names())
        missing = [t for t in models.metadata.sorted_tables if t.name not in existing]
        names = [t.name for t in missing]
        if dry_run or not partitioned:
            if missing and not dry_run:
                models.metadata.create_all(engine, tables=missing)
            return names
        plain = [t for t in missing if t.name != events_name]
        with engine.begin() as conn:
            if plain:
                models.metadata.create_all(conn, tables=plain)
            table = partitioned_events(MetaData())
            if events_name in names:
                table.create(conn)
            if partition_months.is_partitioned(conn, table):
                names += _monthly(conn, table, now or datetime.now(UTC))
        return names

    try:
        return translate_errors(describe(engine), work)
    finally:
        engine.dispose()


def _sqlite_file(url: str) -> str | None:
    """The path of a SQLite URL's file ("" for an in-memory database); None off SQLite, or for
    a SQLite URI (it names its own mode)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.query.get("uri"):
        return None
    path = parsed.database or ""
    if path.startswith("file:"):
        return None
    return "" if path in ("", ":memory:") else path
