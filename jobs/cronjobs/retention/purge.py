"""Delete rows older than a cutoff in short batches, each batch its own transaction.

Used by `cleanup-old-sessions` (`cleanup-old-analytics` deletes whole days: see
`cronjobs.builtin.analytics_cleanup`). The statements are SQL text (cronjobs.retention.purge_sql,
built once per rule and run) on the run's own connection (`ctx.db`, cronjobs.dbapi), naming the
rule's tables by cronjobs.retention.rule_names, every name quoted: a run with the default rules
imports no SQLAlchemy. (Tests and benches may pass a SQLAlchemy Engine: the same SQL runs on one
of its connections, seen as a `Db`: cronjobs.dblike.connection.) A batch is the next `batch_size` old rows
after the previous batch's last id (keyset, so no batch rescans what earlier ones deleted),
deleted with their child rows in one transaction:

- PostgreSQL: one statement per batch, in a transaction of its own, and no id leaves the server
  (`purge_sql.range_batch`): it finds the id of the batch's last row (the `batch_size`-th old
  row after the previous batch's last), deletes the old rows of that primary-key range, which
  are exactly the batch, and their children by `fk = ANY(ARRAY(ids deleted))`, returning the
  counts. The delete re-checks the age on the row's latest version (a session the app touched
  meanwhile is kept, and so are its children); a foreign key without ON DELETE CASCADE is
  checked at the end of the statement, when the children are gone too. A child the app commits
  in the instant between the statement's snapshot and the parent's row lock is not in the child
  delete: ON DELETE CASCADE removes it (uncounted); a foreign key without it fails the statement
  (the job exits 1, nothing of the batch is deleted, the next run redoes it). The statement
  waits at most FAST_LOCK_WAIT (50 ms) for a lock: a session-level `lock_timeout` for the
  purge's connection, with `default_transaction_isolation` READ COMMITTED whatever the
  database's default (a delete re-checks a row the app changed meanwhile; REPEATABLE READ would
  fail the batch on it), both reset after it (so not behind a pooler in transaction mode, which
  would hand those settings to other clients). If the app holds a row, the batch is redone the
  careful way (`_batch_skipping_held`): its ids are selected, locked `FOR UPDATE SKIP LOCKED`
  with their children, and a row the app holds (locked, being updated, or a child being
  inserted, which holds the parent's key-share lock), or whose child rows the app holds, is
  skipped, counted as in use and left for the next run. So a batch never waits long on the app,
  and an app write waits on a batch at most for that batch.
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
from typing import Any

from cronjobs.db_errors import LOCK_NOT_AVAILABLE, is_database_error, sqlstate
from cronjobs.dblike import OnSqlAlchemy, connection, on
from cronjobs.retention import purge_sql as sql
from cronjobs.retention.batch_time import DEFAULT_BATCH_TIME, BatchSizer
from cronjobs.retention.purged import PurgeResult as PurgeResult  # re-exported: purged.py's,
from cronjobs.retention.purged import sized as sized  # one model with cleanup-old-analytics
from cronjobs.retention.rule_names import RuleNames

log = logging.getLogger(__name__)

SQLITE_MAX_PARAMS = 30_000
FAST_LOCK_WAIT = 0.05
"""Seconds a batch's delete may wait for a row lock before it is redone with SKIP LOCKED."""
MIN_BATCH_ROWS = 10
"""The smallest batch the time budget may make (or `batch_size`, if smaller)."""
MAX_BATCH_ROWS = 100_000
"""The largest batch the time budget may make."""


@dataclass
class Batch:
    picked: int
    last_id: int | None
    deleted: int
    children: int
    in_use: int = 0


def _delete_batch(tx: Any, names: RuleNames, ids: list[int], cutoff: datetime) -> tuple[int, int]:
    """Delete these rows (sorted ids), if still old, and their children, in `tx` (a `Db` in a
    transaction, or a SQLAlchemy Connection in one); return both counts."""
    db = on(tx)
    old = {"cutoff": cutoff}
    if db.dialect == "postgresql":
        row = db.rows(sql.delete_ids_pg(names), {**old, "ids": ids, "lo": ids[0], "hi": ids[-1]})
        return int(row[0][0]), sum(int(n) for n in row[0][1:])
    *children, rows = sql.delete_ids_sqlite(names, len(ids))
    params = {**old, **sql.id_params(ids)}
    deleted_children = sum(db.execute(s, params).rowcount for s in children)
    return db.execute(rows, params).rowcount, deleted_children


def _range_batch(
    tx: Any, names: RuleNames, cutoff: datetime, batch_size: int, last_id: int | None
) -> Batch:
    """PostgreSQL: one batch in one statement (purge_sql.range_batch)."""
    params: dict[str, Any] = {"cutoff": cutoff, "size": batch_size}
    if last_id is not None:
        params["last"] = last_id
    row = on(tx).rows(sql.range_batch(names, after=last_id is not None), params)[0]
    return Batch(int(row[0]), row[1], int(row[2]), sum(int(n) for n in row[3:]))


def _next_ids(
    tx: Any, names: RuleNames, cutoff: datetime, batch_size: int, last_id: int | None
) -> list[int]:
    """The next batch's ids, sorted (the keyset select)."""
    db = on(tx)
    params: dict[str, Any] = {"cutoff": cutoff, "size": batch_size}
    if last_id is not None:
        params["last"] = last_id
    return [int(i) for i in db.scalars(sql.keyset(names, db.dialect, last_id is not None), params)]


def _batch_skipping_held(
    tx: Any, names: RuleNames, cutoff: datetime, batch_size: int, last_id: int | None
) -> Batch:
    """PostgreSQL, when the app holds a row of the batch: select the batch's ids, lock them
    and their children `FOR UPDATE SKIP LOCKED`, delete what was locked. The statements wait
    the job's own lock_timeout for table locks, never for a row the app holds."""
    on(tx).execute("SET LOCAL lock_timeout TO DEFAULT")
    ids = _next_ids(tx, names, cutoff, batch_size, last_id)
    if not ids:
        return Batch(0, last_id, 0, 0)
    mine = _lock_batch(tx, names, ids)
    deleted, children = _delete_batch(tx, names, mine, cutoff) if mine else (0, 0)
    return Batch(len(ids), ids[-1], deleted, children, len(ids) - len(mine))


def _lock_batch(tx: Any, names: RuleNames, ids: list[int]) -> list[int]:
    """PostgreSQL: lock these rows and their children `FOR UPDATE SKIP LOCKED`; return the
    ids (sorted) locked with every child row, the ones this batch may delete without waiting."""
    db = on(tx)
    batch = {"ids": ids, "lo": ids[0], "hi": ids[-1]}
    locked = sorted(int(i) for i in db.scalars(sql.lock_ids(names), batch))
    for child in range(len(names.children)):
        if not locked:
            break
        held = sql.parents_with_children_held(names, child)
        busy = set(db.scalars(held, {"parents": locked}))
        locked = [i for i in locked if i not in busy]
    return locked


def _next_pg_batch(
    conn: Any, names: RuleNames, cutoff: datetime, batch_size: int, last_id: int | None
) -> Batch:
    """One PostgreSQL batch, committed: the range statement, or the careful way if it had to
    wait FAST_LOCK_WAIT for a lock."""
    try:
        with conn.transaction() as tx:
            return _range_batch(tx, names, cutoff, batch_size, last_id)
    except Exception as e:
        if sqlstate(e) != LOCK_NOT_AVAILABLE:
            raise
    with conn.transaction() as tx:
        return _batch_skipping_held(tx, names, cutoff, batch_size, last_id)


def _sqlite_batch(
    conn: Any, names: RuleNames, cutoff: datetime, batch_size: int, last_id: int | None
) -> Batch:
    """One SQLite batch, committed: the ids, then their children and the rows still old, in
    one `BEGIN IMMEDIATE` transaction (SQLite caps bound parameters per statement)."""
    with conn.transaction() as tx:
        ids = _next_ids(tx, names, cutoff, batch_size, last_id)
        if not ids:
            return Batch(0, last_id, 0, 0)
        deleted, children = _delete_batch(tx, names, ids, cutoff)
    return Batch(len(ids), ids[-1], deleted, children)


def count_old(db: Any, names: RuleNames, cutoff: datetime) -> tuple[int, int]:
    """How many rows (and child rows) are older than the cutoff, read on `db` (a `Db`, or a
    SQLAlchemy Connection)."""
    db = on(db)
    params = {"cutoff": cutoff}
    rows, *children = (int(db.scalar(s, params) or 0) for s in sql.count_old(names, db.dialect))
    return rows, sum(children)


def purge(
    where: Any,
    names: RuleNames,
    cutoff: datetime,
    *,
    batch_size: int = 1000,
    batch_time: float = DEFAULT_BATCH_TIME,
    dry_run: bool = False,
    stop: threading.Event | None = None,
) -> PurgeResult:
    """Delete `names.table`'s rows older than `cutoff` (and their children), batch by batch,
    `batch_size` rows first, then as many as fit in `batch_time` seconds (0: `batch_size`).
    `where`: the run's `Db`, or a SQLAlchemy Engine (tests, benches)."""
    result = PurgeResult(table=names.name, cutoff=cutoff, dry_run=dry_run)
    with connection(where) as conn:
        if dry_run:
            result.deleted, result.children_deleted = count_old(conn, names, cutoff)
            log.info(
                "dry run: would delete",
                extra={
                    "table": names.name,
                    "rows": result.deleted,
                    "child_rows": result.children_deleted,
                },
            )
            return result
        postgres = conn.dialect == "postgresql"
        high = MAX_BATCH_ROWS if postgres else SQLITE_MAX_PARAMS
        sizer = BatchSizer(
            min(batch_size, high), batch_time, low=min(MIN_BATCH_ROWS, batch_size), high=high
        )
        if not postgres:
            return _purge_batches(names, result, sizer, stop, conn, _sqlite_batch)
        # READ COMMITTED whatever the database's default: a delete re-checks a row the app
        # changed meanwhile (REPEATABLE READ would fail the batch on it instead).
        conn.execute(f"SET lock_timeout = '{int(FAST_LOCK_WAIT * 1000)}ms'")
        conn.execute("SET default_transaction_isolation = 'read committed'")
        try:
            done = _purge_batches(names, result, sizer, stop, conn, _next_pg_batch)
        except BaseException:
            _reset(conn, failing=True)
            raise
        _reset(conn)
        return done


def _reset(conn: Any, failing: bool = False) -> None:
    """Undo the purge's session settings. A pooled connection that cannot be reset is
    invalidated (closed), never reused with 50 ms; the run's own `Db` fails the run (its
    connection is gone), unless it is failing already."""
    try:
        conn.execute("RESET lock_timeout")
        conn.execute("RESET default_transaction_isolation")
    except Exception as e:
        if not is_database_error(e):
            raise
        if isinstance(conn, OnSqlAlchemy):  # an Engine's: back to its pool otherwise
            conn.discard()
        elif not failing:
            raise
        log.debug("resetting the purge's lock_timeout failed", exc_info=True)


def _purge_batches(
    names: RuleNames,
    result: PurgeResult,
    sizer: BatchSizer,
    stop: threading.Event | None,
    conn: Any,
    next_batch: Any,
) -> PurgeResult:
    """Batch after batch, each `sizer.size` rows, until a batch comes short or a stop is
    requested: `next_batch` is `_next_pg_batch` or `_sqlite_batch`."""
    last_id: int | None = None
    while not (stop is not None and stop.is_set()):
        batch_size = sizer.size
        started = time.monotonic()
        batch = next_batch(conn, names, result.cutoff, batch_size, last_id)
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
            extra={"table": names.name, "deleted": result.deleted},
        )
    sized(result, sizer)
    return result
