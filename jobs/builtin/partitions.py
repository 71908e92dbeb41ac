"""Monthly RANGE partitions of analytics_events on PostgreSQL: telling a partitioned table from
pg_catalog, creating the months ahead, and dropping whole partitions past the retention.

A partition is dropped only when it lies wholly before the cutoff, on whole UTC days, and every
(day, event type) it holds has figures in daily_analytics equal to its raw count: days lacking
figures (or counting fewer events) are aggregated first by the per-day upsert; a day whose
figures count more events than are left keeps its partition (the per-day path keeps such days
too). The final check runs under `LOCK TABLE <p> IN ACCESS EXCLUSIVE MODE` (waiting at most the
job's lock_timeout) in the transaction that detaches and drops it, so no event arrives between
the check and the drop: every event removed is counted when its removal commits.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, Table, bindparam, exc, text

from jobs.builtin.analytics import AnalyticsTables, aggregate_day
from jobs.builtin.purge import LOCK_NOT_AVAILABLE

log = logging.getLogger(__name__)

_BOUND = re.compile(r"^FOR VALUES FROM \((.+)\) TO \((.+)\)$")


class Partition(NamedTuple):
    """One partition: its (unquoted) schema and name, and its bounds (None: MINVALUE/MAXVALUE
    or not a single timestamp)."""

    schema: str
    name: str
    lower: datetime | None
    upper: datetime | None


def _regclass(conn: Connection, table: Table) -> str:
    return str(conn.dialect.identifier_preparer.format_table(table))


def _quoted(conn: Connection, schema: str | None, name: str) -> str:
    prep = conn.dialect.identifier_preparer
    return (f"{prep.quote_schema(schema)}." if schema else "") + prep.quote(name)


def is_partitioned(conn: Connection, table: Table) -> bool:
    """Whether `table` is a RANGE-partitioned table (pg_partitioned_table); False off
    PostgreSQL."""
    if conn.dialect.name != "postgresql":
        return False
    query = text(
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table "
        "WHERE partrelid = to_regclass(:t) AND partstrat = 'r')"
    )
    return bool(conn.scalar(query, {"t": _regclass(conn, table)}))


def _bound(value: str) -> datetime | None:
    value = value.strip()
    if not (value.startswith("'") and value.endswith("'")):
        return None  # MINVALUE, MAXVALUE, or a multi-column bound
    try:
        parsed = datetime.fromisoformat(value[1:-1])
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def partitions(conn: Connection, table: Table) -> list[Partition]:
    """The partitions of `table` (pg_inherits), by lower bound; a DEFAULT partition is left
    out (it is never dropped nor counted as covering a month)."""
    query = text(
        "SELECT n.nspname, c.relname, pg_get_expr(c.relpartbound, c.oid) "
        "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE i.inhparent = to_regclass(:t)"
    )
    found = []
    for schema, name, bound in conn.execute(query, {"t": _regclass(conn, table)}):
        match = _BOUND.match(bound or "")
        if match:
            found.append(Partition(schema, name, _bound(match[1]), _bound(match[2])))
    far = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda p: p.lower or far)


def month_start(day: date, months: int = 0) -> date:
    """The first day of `day`'s month, `months` months later (or earlier)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, dtime.min, tzinfo=UTC)


def ensure_months(conn: Connection, table: Table, first: date, last: date) -> list[str]:
    """Create the monthly partitions from `first`'s month to `last`'s that no partition covers
    yet (`CREATE TABLE IF NOT EXISTS ... PARTITION OF`); return the names created."""
    existing = partitions(conn, table)
    created = []
    month = month_start(first)
    while month <= last:
        start, end = _midnight(month), _midnight(month_start(month, 1))
        covered = any(
            (p.lower is None or p.lower < end) and (p.upper is None or p.upper > start)
            for p in existing
        )
        if not covered:
            name = f"{table.name}_{month.year:04d}_{month.month:02d}"
            conn.execute(
                text(
                    f"CREATE TABLE IF NOT EXISTS {_quoted(conn, table.schema, name)} PARTITION OF "
                    f"{_regclass(conn, table)} FOR VALUES FROM ('{start.isoformat()}') "
                    f"TO ('{end.isoformat()}')"
                )
            )
            created.append(name)
        month = month_start(month, 1)
    return created


def ensure_ahead(
    engine: Engine, table: Table, months: int, now: datetime | None = None
) -> list[str]:
    """On a partitioned `table`, create this month's partition and the next `months` months'
    where missing, so inserts never fail for want of one; nothing elsewhere."""
    today = (now or datetime.now(UTC)).date()
    with engine.begin() as conn:
        if not is_partitioned(conn, table):
            return []
        created = ensure_months(conn, table, today, month_start(today, months))
    if created:
        log.info("partitions created", extra={"table": table.name, "partitions": created})
    return created


@dataclass
class DroppedPartition:
    name: str
    lower: datetime | None
    upper: datetime
    rows: int


@dataclass
class PartitionsResult:
    """What the partition step of cleanup-old-analytics did (or would do, in a dry run)."""

    dropped: list[DroppedPartition] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    """Partitions wholly before the cutoff kept: a day's figures count more events than it
    holds (or its lock was not granted in time); the per-day path then handles their days."""
    kept_days: list[date] = field(default_factory=list)
    aggregated: list[date] = field(default_factory=list)
    """Days whose figures were missing or short, aggregated before their partition's drop."""
    interrupted: bool = False

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.dropped)


Counts = dict[date, dict[str, int]]


def droppable(conn: Connection, table: Table, cutoff: datetime) -> list[Partition]:
    """Partitions wholly before `cutoff` whose bounds fall on UTC midnights (a day is never
    split between a dropped partition and another)."""
    return [
        p
        for p in partitions(conn, table)
        if p.upper is not None
        and p.upper <= cutoff
        and all(b is None or b.astimezone(UTC).time() == dtime.min for b in (p.lower, p.upper))
    ]


def _days_of(p: Partition, days: Any) -> list[date]:
    lower, upper = (p.lower.astimezone(UTC).date() if p.lower else date.min), p.upper
    assert upper is not None
    return [d for d in days if lower <= d < upper.astimezone(UTC).date()]


def _raw_counts(conn: Connection, qualified: str) -> Counts:
    query = text(
        "SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, event_type, count(*) "
        f"FROM {qualified} GROUP BY 1, 2"
    )
    found: Counts = {}
    for day, event_type, n in conn.execute(query):
        found.setdefault(day, {})[event_type] = int(n)
    return found


def _figures(conn: Connection, tables: AnalyticsTables, days: list[date]) -> Counts:
    daily = tables.daily
    query = daily.select().where(daily.c.day.in_(bindparam("days", expanding=True)))
    found: Counts = {}
    for row in conn.execute(query, {"days": days}).mappings():
        found.setdefault(row[daily.c.day], {})[row[daily.c.event_type]] = int(
            row[daily.c.event_count]
        )
    return found


def _verdict(raw: Counts, figures: Counts) -> tuple[list[date], list[date]]:
    """(days whose figures count more events than are left, days whose figures are short)."""
    over, short = [], []
    for day, types in sorted(raw.items()):
        counted = figures.get(day, {})
        if any(counted.get(t, 0) > n for t, n in types.items()):
            over.append(day)
        elif any(counted.get(t, 0) != n for t, n in types.items()):
            short.append(day)
    return over, short


def _drop_if_counted(engine: Engine, p: Partition, tables: AnalyticsTables) -> Counts | list[date]:
    """Lock `p`, check its raw counts against the figures, detach and drop it, in one
    transaction; its raw counts if dropped, else the days that stopped it (none: not locked)."""
    try:
        with engine.begin() as conn:
            qualified = _quoted(conn, p.schema, p.name)
            conn.execute(text(f"LOCK TABLE {qualified} IN ACCESS EXCLUSIVE MODE"))
            raw = _raw_counts(conn, qualified)
            over, short = _verdict(raw, _figures(conn, tables, sorted(raw)))
            if over or short:  # commits only the lock: nothing was written
                return over + short
            parent = _regclass(conn, tables.events)
            conn.execute(text(f"ALTER TABLE {parent} DETACH PARTITION {qualified}"))
            conn.execute(text(f"DROP TABLE {qualified}"))
            return raw
    except exc.OperationalError as e:
        if getattr(e.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        log.warning("partition kept: its lock was not granted in time", extra={"partition": p.name})
        return []


def drop_old_partitions(
    engine: Engine,
    cutoff: datetime,
    events: Counts,
    figures: Counts,
    *,
    dry_run: bool = False,
    stop: threading.Event | None = None,
    now: datetime | None = None,
    tables: AnalyticsTables,
) -> PartitionsResult:
    """Detach and drop every partition wholly before `cutoff` whose days are all counted, each
    in its own transaction. `events`/`figures`: the cleanup's inventory of the old days."""
    result = PartitionsResult()
    parent = tables.events
    with engine.connect() as conn:
        candidates = droppable(conn, parent, cutoff)
    for p in candidates:
        if stop is not None and stop.is_set():
            result.interrupted = True
            break
        days = _days_of(p, events)
        over, short = _verdict({d: events[d] for d in days}, figures)
        if over:
            result.kept.append(p.name)
            result.kept_days += over
            continue
        if dry_run:
            rows = sum(sum(events[d].values()) for d in days)
            result.dropped.append(DroppedPartition(p.name, p.lower, p.upper, rows))  # type: ignore[arg-type]
            result.aggregated += short
            continue
        for day in short:  # the per-day upsert, a day per transaction
            with engine.begin() as conn:
                aggregate_day(conn, day, now=now, tables=tables)
        result.aggregated += short
        started = time.monotonic()
        raw = _drop_if_counted(engine, p, tables)
        if isinstance(raw, list):  # events arrived, figures changed, or the lock was not granted
            result.kept.append(p.name)
            result.kept_days += raw
            continue
        rows = sum(sum(t.values()) for t in raw.values())
        result.dropped.append(DroppedPartition(p.name, p.lower, p.upper, rows))  # type: ignore[arg-type]
        log.info(
            "partition dropped",
            extra={
                "table": parent.name,
                "partition": p.name,
                "rows": rows,
                "seconds": round(time.monotonic() - started, 4),
            },
        )
    return result
