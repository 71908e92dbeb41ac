"""Delete rows older than a cutoff in short batches, each batch its own transaction.

Used by `cleanup-old-sessions` (`cleanup-old-analytics` deletes whole days: see
`cronjobs.builtin.analytics_cleanup`). A batch is the next `batch_size` old rows after the previous
batch's last id (keyset, so no batch rescans what earlier ones deleted), deleted with their
child rows in one transaction:

- PostgreSQL: one statement per batch, in a transaction of its own, and no id leaves the
  server (`range_batch`): it finds the id of the batch's last row (the `batch_size`-th old row
  after the previous batch's last), deletes the old rows of that primary-key range, which are
  exactly the batch, and their children by `fk = ANY(ARRAY(ids deleted))`, returning the
  counts. The delete re-checks the age on the row's latest version (a session the app touched
  meanwhile is kept, and so are its children); a foreign key without ON DELETE CASCADE is
  checked at the end of the statement, when the children are gone too. A child the app commits
  in the instant between the statement's snapshot and the parent's row lock is not in the
  child delete: ON DELETE CASCADE removes it (uncounted); a foreign key without it fails the
  statement (the job exits 1, nothing of the batch is deleted, the next run redoes it).
  The statement waits at most FAST_LOCK_WAIT (50 ms) for a lock: a session-level
  `lock_timeout` for the purge's connection, reset after it (so not behind a pooler in
  transaction mode, which would hand that setting to other clients). If the app holds a row, the
  batch is redone the careful way (`_batch_skipping_held`): its ids are selected, locked `FOR
  UPDATE SKIP LOCKED` with their children, and a row the app holds (locked, being updated, or a
  child being inserted, which holds the parent's key-share lock), or whose child rows the app
  holds, is skipped, counted as in use and left for the next run. So a batch never waits long
  on the app, and an app write waits on a batch at most for that batch.
- SQLite: the children of those rows that are still old first, then the rows, inside
  `BEGIN IMMEDIATE`, which holds the database's write lock from the select on (SQLite has no
  row locks, so nothing is ever in use).

The batch size follows a time budget per transaction (`batch_time`, 0.1 s by default: see
cronjobs.retention.batch_time): `batch_size` rows first, then as many as the rows per second measured
so far fit in the budget, between MIN_BATCH_ROWS and MAX_BATCH_ROWS (a batch_time of 0 keeps
`batch_size`). Each batch's size and time are logged (`batch committed`), and the run's
smallest, median and largest sizes (`batch sizes`).

A stop request is honoured between batches.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    Connection,
    Engine,
    and_,
    bindparam,
    delete,
    exc,
    func,
    literal,
    select,
)
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import Executable

from cronjobs.retention.batch_time import DEFAULT_BATCH_TIME, BatchSizer
from cronjobs.retention.tables import Retention

log = logging.getLogger(__name__)

SQLITE_MAX_PARAMS = 30_000
FAST_LOCK_WAIT = 0.05
"""Seconds a batch's delete may wait for a row lock before it is redone with SKIP LOCKED."""
LOCK_NOT_AVAILABLE = "55P03"
MIN_BATCH_ROWS = 10
"""The smallest batch the time budget may make (or `batch_size`, if smaller)."""
MAX_BATCH_ROWS = 100_000
"""The largest batch the time budget may make."""


@dataclass
class PurgeResult:
    table: str
    cutoff: datetime
    deleted: int = 0
    children_deleted: int = 0
    batches: int = 0
    longest_batch_seconds: float = 0.0
    in_use: int = 0
    """Rows skipped because the app held them (or their child rows) locked: left for the next
    run. Always 0 on SQLite and in a dry run."""
    dry_run: bool = False
    interrupted: bool = False
    smallest_batch: int = 0
    largest_batch: int = 0
    """The sizes (rows or events asked for) of the run's smallest and largest batches."""

    def committed(self, elapsed: float, **extra: Any) -> None:
        """Count a committed batch (its counts already added) and log it (`batch committed`,
        with `extra` between the batch number and the running total)."""
        self.batches += 1
        self.longest_batch_seconds = max(self.longest_batch_seconds, elapsed)
        log.info(
            "batch committed",
            extra={
                "table": self.table,
                "batch": self.batches,
                **extra,
                "total": self.deleted,
                "seconds": round(elapsed, 4),
            },
        )


def _in(column: Any, ids: list[int], dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        # One array parameter: a stable, cheap plan at any batch size.
        return column == func.any(bindparam("ids", ids, type_=ARRAY(BigInteger)))  # type: ignore[no-any-return]
    return column.in_(ids)  # type: ignore[no-any-return]


def batch_statements(
    rule: Retention, ids: list[int], cutoff: datetime, dialect: str
) -> list[Executable]:
    """The statements that delete one batch (these rows, if still old, and their children):
    one on PostgreSQL, returning the counts; children then rows on SQLite."""
    old = rule.old(cutoff)
    id_col = rule.table.c.id
    if dialect == "postgresql":
        # The id range (tight: ids come sorted from the keyset select) makes the parent delete a
        # primary-key range scan; with `= ANY` alone the planner may scan the age index and read
        # every remaining old row per batch. Children go by `fk = ANY(ARRAY(ids deleted))`: an
        # index scan whose plan does not hang on the CTE's unknowable row estimate.
        in_batch = and_(_in(id_col, ids, dialect), id_col.between(ids[0], ids[-1]))
        gone = delete(rule.table).where(in_batch, old).returning(id_col).cte("gone")
        gone_ids = func.array(select(gone.c.id).scalar_subquery()).cast(ARRAY(BigInteger))
        counts = [select(func.count()).select_from(gone).scalar_subquery()]
        for i, fk in enumerate(rule.children):
            child = delete(fk.table).where(fk == func.any(gone_ids))
            child_cte = child.returning(literal(1)).cte(f"child_{i}")
            counts.append(select(func.count()).select_from(child_cte).scalar_subquery())
        return [select(*counts)]
    still_old = select(id_col).where(_in(id_col, ids, dialect), old)
    children: list[Executable] = [delete(fk.table).where(fk.in_(still_old)) for fk in rule.children]
    return [*children, delete(rule.table).where(_in(id_col, ids, dialect), old)]


def _delete_batch(
    conn: Connection, rule: Retention, ids: list[int], cutoff: datetime
) -> tuple[int, int]:
    """Delete these rows (if still old) and their children; return both counts."""
    statements = batch_statements(rule, ids, cutoff, conn.dialect.name)
    if conn.dialect.name == "postgresql":
        row = conn.execute(statements[0]).one()
        return int(row[0]), sum(int(n) for n in row[1:])
    children = sum(conn.execute(s).rowcount for s in statements[:-1])  # type: ignore[attr-defined]
    return conn.execute(statements[-1]).rowcount, children  # type: ignore[attr-defined]


def next_batch(rule: Retention, cutoff: datetime, batch_size: int) -> Select[Any]:
    """The keyset select of the next batch's ids (add `id > last id` after the first)."""
    id_col = rule.table.c.id
    return select(id_col).where(rule.old(cutoff)).order_by(id_col).limit(batch_size)


@lru_cache(maxsize=16)
def range_batch(rule: Retention, cutoff: datetime, after: bool) -> Select[Any]:
    """PostgreSQL: the one statement that deletes the next batch of `:size` rows (`:last` is
    the previous batch's last id when `after`) and returns the rows picked, the last id picked,
    the rows deleted and each child table's rows deleted. Built once per run (cached): each
    batch only binds `:size` and `:last`, and SQLAlchemy's cache key is memoized on the
    statement (building it and its key took ~0.8 ms, for each of 110 batches at 1M sessions).

    The batch is a primary-key range (`id > :last AND id <= hi`, `hi` the id of the
    `:size`-th old row): the delete is one range scan, no id list goes to the client and
    back, and the children go by an index scan on the ids actually deleted.
    """
    table, id_col = rule.table, rule.table.c.id
    old = rule.old(cutoff)
    lower = [id_col > bindparam("last", type_=BigInteger)] if after else []
    size = bindparam("size", type_=BigInteger)
    picked = select(id_col.label("id")).where(old, *lower).order_by(id_col).limit(size)
    picked_sq = picked.subquery("picked")
    bound = select(func.count().label("n"), func.max(picked_sq.c.id).label("hi")).cte("bound")
    hi = select(bound.c.hi).scalar_subquery()
    gone = delete(table).where(*lower, id_col <= hi, old).returning(id_col).cte("gone")
    gone_ids = func.array(select(gone.c.id).scalar_subquery()).cast(ARRAY(BigInteger))
    counts = [select(bound.c.n).scalar_subquery(), hi]
    counts.append(select(func.count()).select_from(gone).scalar_subquery())
    for i, fk in enumerate(rule.children):
        child = delete(fk.table).where(fk == func.any(gone_ids))
        child_cte = child.returning(literal(1)).cte(f"child_{i}")
        counts.append(select(func.count()).select_from(child_cte).scalar_subquery())
    return select(*counts)


@dataclass
class Batch:
    picked: int
    last_id: int | None
    deleted: int
    children: int
    in_use: int = 0


def _range_batch(
    conn: Connection, rule: Retention, cutoff: datetime, batch_size: int, last_id: int | None
) -> Batch:
    statement = range_batch(rule, cutoff, after=last_id is not None)
    params = {"size": batch_size} | ({} if last_id is None else {"last": last_id})
    row = conn.execute(statement, params).one()
    return Batch(int(row[0]), row[1], int(row[2]), sum(int(n) for n in row[3:]))


def _batch_skipping_held(
    conn: Connection, rule: Retention, cutoff: datetime, batch_size: int, last_id: int | None
) -> Batch:
    """PostgreSQL, when the app holds a row of the batch: select the batch's ids, lock them
    and their children `FOR UPDATE SKIP LOCKED`, delete what was locked. The statements wait
    the job's own lock_timeout for table locks, never for a row the app holds."""
    conn.exec_driver_sql("SET LOCAL lock_timeout TO DEFAULT")
    ids = _next_ids(conn, rule, cutoff, batch_size, last_id)
    if not ids:
        return Batch(0, last_id, 0, 0)
    mine = _lock_batch(conn, rule, ids)
    deleted, children = _delete_batch(conn, rule, mine, cutoff) if mine else (0, 0)
    return Batch(len(ids), ids[-1], deleted, children, len(ids) - len(mine))


def _next_pg_batch(
    conn: Connection, rule: Retention, cutoff: datetime, batch_size: int, last_id: int | None
) -> Batch:
    """One PostgreSQL batch, committed: the range statement, or the careful way if it had to
    wait FAST_LOCK_WAIT for a lock."""
    try:
        with conn.begin():
            return _range_batch(conn, rule, cutoff, batch_size, last_id)
    except exc.OperationalError as e:
        if getattr(e.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
    with conn.begin():
        return _batch_skipping_held(conn, rule, cutoff, batch_size, last_id)


def _next_ids(
    conn: Connection, rule: Retention, cutoff: datetime, batch_size: int, last_id: int | None
) -> list[int]:
    """The next batch's ids, sorted (the keyset select)."""
    query = next_batch(rule, cutoff, batch_size)
    if last_id is not None:
        query = query.where(rule.table.c.id > last_id)
    return list(conn.scalars(query))


def _lock_batch(conn: Connection, rule: Retention, ids: list[int]) -> list[int]:
    """PostgreSQL: lock these rows and their children `FOR UPDATE SKIP LOCKED`; return the
    ids (sorted) locked with every child row, the ones this batch may delete without waiting."""
    id_col = rule.table.c.id
    in_batch = and_(_in(id_col, ids, "postgresql"), id_col.between(ids[0], ids[-1]))
    locked = sorted(conn.scalars(select(id_col).where(in_batch).with_for_update(skip_locked=True)))
    for fk in rule.children:
        if not locked:
            break
        busy = set(conn.scalars(_parents_with_children_held(fk), {"parents": locked}))
        locked = [i for i in locked if i not in busy]
    return locked


def _parents_with_children_held(fk: Column[Any]) -> Select[Any]:
    """Of `:parents`, those with a child row this transaction could not lock (SKIP LOCKED).

    The locked and the visible children are counted in one statement (one snapshot), after
    the parents are locked, so no child can be added meanwhile.
    """
    parents = fk == func.any(bindparam("parents", type_=ARRAY(BigInteger)))
    mine = select(fk.label("fk")).where(parents).with_for_update(skip_locked=True).cte("mine")
    held = select(mine.c.fk, func.count().label("n")).group_by(mine.c.fk).subquery("held")
    every = select(fk.label("fk"), func.count().label("n")).where(parents).group_by(fk)
    every_sq = every.subquery("every")
    return (
        select(every_sq.c.fk)
        .outerjoin(held, held.c.fk == every_sq.c.fk)
        .where(func.coalesce(held.c.n, 0) < every_sq.c.n)
    )


def count_old(conn: Connection, rule: Retention, cutoff: datetime) -> tuple[int, int]:
    """How many rows (and child rows) are older than the cutoff."""
    table = rule.table
    old_ids = select(table.c.id).where(rule.old(cutoff))
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
    batch_size: int = 1000,
    batch_time: float = DEFAULT_BATCH_TIME,
    dry_run: bool = False,
    stop: threading.Event | None = None,
) -> PurgeResult:
    """Delete `rule.table`'s rows older than `cutoff` (and their children), batch by batch,
    `batch_size` rows first, then as many as fit in `batch_time` seconds (0: `batch_size`)."""
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

    high = MAX_BATCH_ROWS if engine.dialect.name == "postgresql" else SQLITE_MAX_PARAMS
    sizer = BatchSizer(
        min(batch_size, high), batch_time, low=min(MIN_BATCH_ROWS, batch_size), high=high
    )
    if engine.dialect.name == "postgresql":
        # READ COMMITTED whatever the database's default: a delete re-checks a row the app
        # changed meanwhile (REPEATABLE READ would fail the batch on it instead).
        with engine.connect().execution_options(isolation_level="READ COMMITTED") as conn:
            conn.exec_driver_sql(f"SET lock_timeout = '{int(FAST_LOCK_WAIT * 1000)}ms'")
            conn.commit()
            try:
                return _purge_batches(rule, result, sizer, stop, conn)
            finally:
                reset_lock_timeout(conn)
    return _purge_batches(rule, result, sizer, stop, engine)


def reset_lock_timeout(conn: Connection) -> None:
    """Undo a session-level `SET lock_timeout` before the connection goes back to the pool: a
    connection that cannot be reset is invalidated (closed), never reused with 50 ms."""
    try:
        conn.rollback()
        conn.exec_driver_sql("RESET lock_timeout")
        conn.commit()
    except exc.DBAPIError:
        conn.invalidate()


def _sqlite_batch(
    engine: Engine, rule: Retention, cutoff: datetime, batch_size: int, last_id: int | None
) -> Batch:
    """One SQLite batch, committed: the ids, then their children and the rows still old, in
    one `BEGIN IMMEDIATE` transaction (SQLite caps bound parameters per statement)."""
    with engine.begin() as conn:
        ids = _next_ids(conn, rule, cutoff, batch_size, last_id)
        if not ids:
            return Batch(0, last_id, 0, 0)
        deleted, children = _delete_batch(conn, rule, ids, cutoff)
    return Batch(len(ids), ids[-1], deleted, children)


def _purge_batches(
    rule: Retention,
    result: PurgeResult,
    sizer: BatchSizer,
    stop: threading.Event | None,
    where: Connection | Engine,
) -> PurgeResult:
    """Batch after batch, each `sizer.size` rows, until a batch comes short or a stop is
    requested: on a PostgreSQL connection (`_next_pg_batch`) or a SQLite engine
    (`_sqlite_batch`)."""
    last_id: int | None = None
    while not (stop is not None and stop.is_set()):
        batch_size = sizer.size
        started = time.monotonic()
        if isinstance(where, Connection):
            batch = _next_pg_batch(where, rule, result.cutoff, batch_size, last_id)
        else:
            batch = _sqlite_batch(where, rule, result.cutoff, batch_size, last_id)
        elapsed = time.monotonic() - started
        if not batch.picked:
            break
        last_id = batch.last_id
        result.deleted += batch.deleted
        result.children_deleted += batch.children
        result.in_use += batch.in_use
        result.committed(
            elapsed,
            size=batch_size,
            rows=batch.deleted,
            child_rows=batch.children,
            in_use=batch.in_use,
        )
        sizer.after(batch.picked, elapsed)
        if batch.picked < batch_size:
            break
    else:
        result.interrupted = True
        log.warning(
            "stop requested: finished the batch in hand, the next run continues",
            extra={"table": rule.name, "deleted": result.deleted},
        )
    sized(result, sizer)
    return result


def sized(result: PurgeResult, sizer: BatchSizer) -> None:
    """Note the run's smallest and largest batch sizes on `result`, and log them."""
    if sizer.sizes:
        result.smallest_batch, result.largest_batch = min(sizer.sizes), max(sizer.sizes)
        log.info("batch sizes", extra={"table": result.table, **sizer.summary()})
