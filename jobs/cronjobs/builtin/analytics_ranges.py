"""cleanup-old-analytics on PostgreSQL: runs of whole UTC days deleted by time range, one
check and one delete per run, every deleted event counted exactly in the daily figures.

`old_days` finds the UTC days before the cutoff that hold raw events (one probe per day on the
`occurred_at` index, not a read of the events). `plan` packs consecutive days into runs of at
most `batch_size` events, sizes taken from the days' figures. `delete_run` deletes one run in a
REPEATABLE READ transaction, so the count and the delete see one snapshot (the statements,
SQL text with every name quoted, are cronjobs.builtin.analytics_sql's `check_run` and
`delete_range`; in outline):

    SELECT sum(n), sum(n) FILTER (WHERE figures.event_count IS DISTINCT FROM n)
    FROM (SELECT day, event_type, count(*) AS n FROM unnest(:days) AS run_days(day)
          JOIN events ON occurred_at >= <day's UTC midnight> AND occurred_at < <the next>
          GROUP BY 1, 2) got
    LEFT JOIN daily_analytics figures USING (day, event_type);
    DELETE FROM events WHERE occurred_at >= :lo AND occurred_at < :hi;

The count runs on a second connection (a new one of the run's own kind, cronjobs.dblike.another) in
the deleting transaction's snapshot, at the same time as the delete (`SnapshotCheck`), so it
adds little time; without a second connection (refused,
or failed) it runs first.
The run commits only if every (day, event type) has figures counting exactly its events and the
delete removed exactly the events counted (an event inserted meanwhile is not in the snapshot:
neither counted nor deleted; one the app changed or locked meanwhile fails the transaction).
Counting costs less than `DELETE ... RETURNING` into a grouped CTE (measured: 0.11 s + 0.16 s
against 0.40 s for 427k events). Otherwise (figures missing, short, or counting more events
than are left), or if a row is locked for more than FAST_LOCK_WAIT, the run is rolled back and
its days go the careful per-day path (`purge_unit`): it aggregates missing or short figures in
the transaction deleting their events, keeps types whose figures count more, and skips locked
rows. A run with a day that has no figures goes that way at once.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, wait
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from cronjobs.builtin import analytics_sql as sql
from cronjobs.builtin.analytics import day_bounds
from cronjobs.db_errors import is_database_error, is_refused
from cronjobs.dblike import DbLike, another, on
from cronjobs.retention.batch_time import median
from cronjobs.retention.names import analytics_names
from cronjobs.retention.purge import FAST_LOCK_WAIT

R = TypeVar("R")


def as_date(value: Any) -> date:
    """A day as the driver returns it: a date (PostgreSQL), or text (SQLite)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def old_days(conn: Any, tables: Any, cutoff: datetime, since: datetime | None = None) -> list[date]:
    """PostgreSQL: the UTC days before `cutoff` (from `since`) with raw events, oldest first,
    found without reading the events (the skip scan `analytics_sql.old_days`). `conn`: a `Db`
    or a SQLAlchemy Connection; `tables`: AnalyticsNames or SQLAlchemy AnalyticsTables."""
    params: dict[str, Any] = {"cutoff": cutoff} | ({} if since is None else {"since": since})
    statement = sql.old_days(analytics_names(tables), since is not None)
    return [as_date(d) for d in on(conn).scalars(statement, params)]


def figures_by_day(
    conn: Any, tables: Any, before: date, days: list[date] | None = None
) -> dict[date, dict[str, int]]:
    """Each day's figures (event type -> event_count) before `before` (of `days` only, if
    given): the sizes `plan` uses."""
    db = on(conn)
    statement = sql.figures_by_day(analytics_names(tables), db.dialect, days is not None)
    params: dict[str, Any] = {"before": before} | ({} if days is None else {"days": days})
    found: dict[date, dict[str, int]] = {}
    for day, event_type, n in db.rows(statement, params):
        found.setdefault(as_date(day), {})[event_type] = int(n)
    return found


@dataclass
class Run:
    """Consecutive old days checked and deleted in one transaction (`days[-1]` included)."""

    days: list[date]
    expected: int
    counted: bool = True
    """Every day has figures (else the run goes the careful way, which aggregates them)."""

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return day_bounds(self.days[0])[0], day_bounds(self.days[-1] + timedelta(days=1))[0]


def plan(days: list[date], figures: dict[date, dict[str, int]], batch_size: int) -> list[Run]:
    """Pack consecutive `days` into runs of at most `batch_size` events by their figures (a
    day without figures counts as the median day, or `batch_size`); a bigger day is a run by
    itself. (Splitting a big day by event type was tried: each part reads the whole day
    again, so it took 40% longer at 50M events and its longest transaction was no shorter.)"""
    return list(runs(days, figures, lambda: batch_size))


def runs(
    days: list[date], figures: dict[date, dict[str, int]], batch_size: Callable[[], int]
) -> Iterator[Run]:
    """`plan`'s runs one at a time, each packed up to `batch_size()` events as it is when the
    run is asked for (the job's size follows its time budget, cronjobs.retention.batch_time)."""
    known = [sum(types.values()) for types in figures.values()]
    guess = int(median(known)) if known else None

    def size(day: date, limit: int) -> int:
        return sum(figures[day].values()) if day in figures else guess or limit

    i = 0
    while i < len(days):
        limit = batch_size()
        run = Run([days[i]], size(days[i], limit), days[i] in figures)
        i += 1
        while (
            i < len(days)
            and run.days[-1] + timedelta(days=1) == days[i]  # its range: exactly its days
            and run.expected + size(days[i], limit) <= limit
        ):
            run.days.append(days[i])
            run.expected += size(days[i], limit)
            run.counted &= days[i] in figures
            i += 1
        yield run


_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")


class CheckFailed(Exception):
    """The second connection failed to count a run (its error is the cause): the run is
    rolled back, and counted on the job's own connection instead."""


CONNECT_WAIT = 5.0
"""Seconds the job waits for the second connection before it counts on its own."""


class SnapshotCheck:
    """A second connection that counts a run in the snapshot of the transaction deleting it,
    while that transaction deletes (`pg_export_snapshot()` there, `SET TRANSACTION SNAPSHOT`
    here, in a REPEATABLE READ READ ONLY transaction), so the count takes no time of its own
    (for 428k events: 0.24 s, against 0.31 s counting first and 0.25 s for one DELETE, on
    two cores). It waits at most FAST_LOCK_WAIT for a lock: the deleting transaction waits
    for it, where the server's deadlock detector cannot see. It connects (a new connection to
    the run's database: `cronjobs.dblike.another`), and counts each run, in a daemon thread
    (`_in_thread`: a connect that stalls never holds up the process's exit); the caller uses
    it from one thread and waits for each count before the next."""

    def __init__(self, source: Any, tables: Any) -> None:
        self._names = analytics_names(tables)
        self._conn = _in_thread(self._connect, source)  # while the caller goes on

    @staticmethod
    def _connect(source: Any) -> DbLike:
        return another(source)

    def refused(self) -> BaseException | None:
        """Wait (at most CONNECT_WAIT) for the connection: None once it is up, else why the
        database or the pool refused it, or the wait's own TimeoutError (any other error is
        raised)."""
        try:
            error = self._conn.exception(timeout=CONNECT_WAIT)
        except FutureTimeout as e:
            return e
        if error is None or is_refused(error):
            return error
        raise error

    def start(self, snapshot: str, run: Run) -> Future[tuple[int, int]]:
        """Begin counting `run` in `snapshot` (which its transaction must keep open until
        the result is in)."""
        if not _SNAPSHOT_ID.fullmatch(snapshot):
            raise ValueError(f"not a snapshot identifier: {snapshot!r}")
        return _in_thread(self._count, snapshot, run)

    def _count(self, snapshot: str, run: Run) -> tuple[int, int]:
        db = self._conn.result()
        with db.transaction(
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            f"SET TRANSACTION SNAPSHOT '{snapshot}'",
            f"SET LOCAL lock_timeout = '{int(FAST_LOCK_WAIT * 1000)}ms'",
        ) as tx:
            return _counted(tx, self._names, run)

    def close(self) -> None:
        """Close the connection; one still connecting is closed once it is up."""
        self._conn.add_done_callback(_close_connection)  # at once if it is done


def _in_thread(fn: Callable[..., R], *args: Any) -> Future[R]:
    """`fn(*args)` in a daemon thread of its own; its result or error in the future."""
    future: Future[R] = Future()

    def run() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn(*args))
            except BaseException as e:
                future.set_exception(e)

    threading.Thread(target=run, name="cleanup-check", daemon=True).start()
    return future


def _close_connection(connecting: Future[DbLike]) -> None:
    if not connecting.cancelled() and connecting.exception() is None:
        connecting.result().close()


def _counted(conn: Any, tables: Any, run: Run) -> tuple[int, int]:
    lo, hi = run.bounds
    params = {"days": run.days, "lo": lo, "hi": hi}
    row = on(conn).rows(sql.check_run(analytics_names(tables)), params)[0]
    return int(row[0]), int(row[1])


def delete_run(conn: Any, tables: Any, run: Run, check: SnapshotCheck | None = None) -> int | None:
    """Check and delete the run's events in the caller's transaction, which must be
    REPEATABLE READ (one snapshot for both statements: the rows deleted are the rows
    counted, and a row the app changed meanwhile is a serialization failure). With `check`,
    the count runs on its connection in this snapshot while this one deletes; without, before
    the delete (CheckFailed if that connection fails). The events deleted, or None when a
    figure does not count its events exactly: the caller rolls back."""
    db, names = on(conn), analytics_names(tables)
    lo, hi = run.bounds
    bounds = {"lo": lo, "hi": hi}
    deleting = sql.delete_range(names, db.dialect)
    if check is None:
        events, off = _counted(db, names, run)
        if off:
            return None
        deleted: int = db.execute(deleting, bounds).rowcount
        return deleted if deleted == events else None
    snapshot = db.scalar("SELECT pg_export_snapshot()")
    counted = check.start(str(snapshot), run)
    try:
        deleted = db.execute(deleting, bounds).rowcount
    except BaseException:
        wait([counted])  # the count ends before this transaction does; its result is moot
        raise
    try:
        events, off = counted.result()
    except Exception as e:  # a lock not granted in time, a connection gone, ...
        if not is_database_error(e):
            raise
        raise CheckFailed(str(getattr(e, "orig", None) or e)) from e
    return deleted if not off and deleted == events else None
