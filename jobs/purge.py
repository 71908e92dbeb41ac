"""Delete rows older than a cutoff in short batches, each batch its own transaction.

Shared by `cleanup-old-sessions` and `cleanup-old-analytics`. Each batch selects the next ids
(keyset: `id > last id`, so no batch rescans what earlier ones deleted) and deletes them with
their child rows, in one transaction:

- PostgreSQL: one statement, `WITH gone AS (DELETE FROM t WHERE id = ANY(:ids) AND id BETWEEN
  :first AND :last AND <old> RETURNING id) DELETE FROM child WHERE fk = ANY(ARRAY(SELECT id
  FROM gone))`.
  The parent DELETE re-checks the age on the row's latest version (a session the app touched
  since the select is kept, and so are its children); a foreign key without ON DELETE CASCADE
  is checked at the end of the statement, when the children are gone too. No row locks are
  taken beyond the delete's own.
- SQLite: the children of those rows that are still old first, then the rows, inside
  `BEGIN IMMEDIATE`, which holds the database's write lock from the select on.

A stop request is honoured between batches.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Connection,
    Engine,
    and_,
    bindparam,
    delete,
    func,
    literal,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from jobs.retention import Retention

log = logging.getLogger(__name__)

SQLITE_MAX_PARAMS = 30_000


@dataclass
class PurgeResult:
    table: str
    cutoff: datetime
    deleted: int = 0
    children_deleted: int = 0
    batches: int = 0
    longest_batch_seconds: float = 0.0
    dry_run: bool = False
    interrupted: bool = False


def _in(column: Any, ids: list[int], dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        # One array parameter: a stable, cheap plan at any batch size.
        return column == func.any(bindparam("ids", ids, type_=ARRAY(BigInteger)))  # type: ignore[no-any-return]
    return column.in_(ids)  # type: ignore[no-any-return]


def _delete_batch(
    conn: Connection, rule: Retention, ids: list[int], cutoff: datetime
) -> tuple[int, int]:
    """Delete these rows (if still old) and their children; return both counts."""
    dialect = conn.dialect.name
    old = rule.age_of < cutoff
    if dialect == "postgresql":
        # The id range (tight: ids come sorted from the keyset select) makes the parent delete a
        # primary-key range scan; with `= ANY` alone the planner may scan the age index and read
        # every remaining old row per batch. Children go by `fk = ANY(ARRAY(ids deleted))`: an
        # index scan whose plan does not hang on the CTE's unknowable row estimate.
        id_col = rule.table.c.id
        in_batch = and_(_in(id_col, ids, dialect), id_col.between(ids[0], ids[-1]))
        gone = delete(rule.table).where(in_batch, old).returning(id_col).cte("gone")
        gone_ids = func.array(select(gone.c.id).scalar_subquery()).cast(ARRAY(BigInteger))
        counts = [select(func.count()).select_from(gone).scalar_subquery()]
        for i, fk in enumerate(rule.children):
            child = delete(fk.table).where(fk == func.any(gone_ids))
            child_cte = child.returning(literal(1)).cte(f"child_{i}")
            counts.append(select(func.count()).select_from(child_cte).scalar_subquery())
        row = conn.execute(select(*counts)).one()
        return int(row[0]), sum(int(n) for n in row[1:])
    still_old = select(rule.table.c.id).where(_in(rule.table.c.id, ids, dialect), old)
    children = 0
    for fk in rule.children:
        children += conn.execute(delete(fk.table).where(fk.in_(still_old))).rowcount
    deleted = conn.execute(delete(rule.table).where(_in(rule.table.c.id, ids, dialect), old))
    return deleted.rowcount, children


def count_old(conn: Connection, rule: Retention, cutoff: datetime) -> tuple[int, int]:
    """How many rows (and child rows) are older than the cutoff."""
    table = rule.table
    old_ids = select(table.c.id).where(rule.age_of < cutoff)
    rows = conn.scalar(select(func.count()).select_from(old_ids.subquery())) or 0
    children = 0
    for fk in rule.children:
        children += conn.scalar(select(func.count()).where(fk.in_(old_ids))) or 0
    return rows, children


def purge(
    engine: Engine,
    rule: Retention,
    cutoff: datetime,
    *,
    batch_size: int = 5000,
    dry_run: bool = False,
    stop: threading.Event | None = None,
) -> PurgeResult:
    """Delete `rule.table`'s rows older than `cutoff` (and their children), batch by batch."""
    result = PurgeResult(table=rule.name, cutoff=cutoff, dry_run=dry_run)
    if dry_run:
        with engine.connect() as conn:
            result.deleted, result.children_deleted = count_old(conn, rule, cutoff)
        log.info(
            "dry run: would delete",
            extra={
                "table": rule.name,
                "rows": result.deleted,
                "child_rows": result.children_deleted,
            },
        )
        return result

    dialect = engine.dialect.name
    id_col = rule.table.c.id
    # SQLite caps bound parameters per statement; PostgreSQL gets one array parameter.
    if dialect != "postgresql":
        batch_size = min(batch_size, SQLITE_MAX_PARAMS)
    last_id: int | None = None
    while not (stop is not None and stop.is_set()):
        started = time.monotonic()
        with engine.begin() as conn:
            query = select(id_col).where(rule.age_of < cutoff).order_by(id_col).limit(batch_size)
            if last_id is not None:
                query = query.where(id_col > last_id)
            ids = list(conn.scalars(query))
            if not ids:
                break
            deleted, children = _delete_batch(conn, rule, ids, cutoff)
        elapsed = time.monotonic() - started
        last_id = ids[-1]
        result.batches += 1
        result.deleted += deleted
        result.children_deleted += children
        result.longest_batch_seconds = max(result.longest_batch_seconds, elapsed)
        log.info(
            "batch committed",
            extra={
                "table": rule.name,
                "batch": result.batches,
                "rows": deleted,
                "child_rows": children,
                "total": result.deleted,
                "seconds": round(elapsed, 4),
            },
        )
        if len(ids) < batch_size:
            break
    else:
        result.interrupted = True
        log.warning(
            "stop requested: finished the batch in hand, the next run continues",
            extra={"table": rule.name, "deleted": result.deleted},
        )
    return result
