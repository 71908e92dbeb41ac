"""Monthly RANGE partitions of analytics_events on PostgreSQL: telling a partitioned table from
pg_catalog, and creating the months ahead (what aggregate-daily-analytics does before it
aggregates). SQL text on any connection (cronjobs.dbapi): no SQLAlchemy. Dropping whole
partitions past the retention is cronjobs.builtin.partitions.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any, NamedTuple

from cronjobs.dbapi import qualified
from cronjobs.dblike import connection, on

log = logging.getLogger(__name__)

_BOUND = re.compile(r"^FOR VALUES FROM \((.+)\) TO \((.+)\)$")


class Partition(NamedTuple):
    """One partition: its (unquoted) schema and name, and its bounds (None: MINVALUE/MAXVALUE
    or not a single timestamp)."""

    schema: str
    name: str
    lower: datetime | None
    upper: datetime | None


def is_partitioned(conn: Any, table: Any) -> bool:
    """Whether `table` is a RANGE-partitioned table (pg_partitioned_table); False off
    PostgreSQL."""
    db = on(conn)
    if db.dialect != "postgresql":
        return False
    query = (
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table "
        "WHERE partrelid = to_regclass(:t) AND partstrat = 'r')"
    )
    return bool(db.scalar(query, {"t": qualified(table.schema, table.name)}))


def _bound(value: str) -> datetime | None:
    value = value.strip()
    if not (value.startswith("'") and value.endswith("'")):
        return None  # MINVALUE, MAXVALUE, or a multi-column bound
    try:
        parsed = datetime.fromisoformat(value[1:-1])
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def partitions(conn: Any, table: Any) -> list[Partition]:
    """The partitions of `table` (pg_inherits), by lower bound; a DEFAULT partition is left
    out (it is never dropped nor counted as covering a month)."""
    query = (
        "SELECT n.nspname, c.relname, pg_get_expr(c.relpartbound, c.oid) "
        "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE i.inhparent = to_regclass(:t)"
    )
    found = []
    for schema, name, bound in on(conn).rows(query, {"t": qualified(table.schema, table.name)}):
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


def ensure_months(conn: Any, table: Any, first: date, last: date) -> list[str]:
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
            on(conn).execute(
                f"CREATE TABLE IF NOT EXISTS {qualified(table.schema, name)} PARTITION OF "
                f"{qualified(table.schema, table.name)} FOR VALUES FROM ('{start.isoformat()}') "
                f"TO ('{end.isoformat()}')"
            )
            created.append(name)
        month = month_start(month, 1)
    return created


def ensure_ahead(db: Any, table: Any, months: int, now: datetime | None = None) -> list[str]:
    """On a partitioned `table`, create this month's partition and the next `months` months'
    where missing, so inserts never fail for want of one; nothing elsewhere."""
    today = (now or datetime.now(UTC)).date()
    with connection(db) as own, own.transaction() as conn:
        if not is_partitioned(conn, table):
            return []
        created = ensure_months(conn, table, today, month_start(today, months))
    if created:
        log.info("partitions created", extra={"table": table.name, "partitions": created})
    return created
