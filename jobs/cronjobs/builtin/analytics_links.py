"""The connections cleanup-old-analytics sends its SQL text on: the run's own `Db`
(cronjobs.dbapi), or a SQLAlchemy Engine's connections (what tests and benches pass). Either
way the statements are the same text (cronjobs.builtin.analytics_sql); a `Link` only says how
a transaction begins and ends on it, and where a second connection comes from.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cronjobs.db_errors import is_database_error
from cronjobs.dbapi import Db, OnSqlAlchemy, on

log = logging.getLogger(__name__)

LOCK_NOT_AVAILABLE = "55P03"
SERIALIZATION_FAILURE = "40001"
DEADLOCK_DETECTED = "40P01"
FAST_LOCK_WAIT = 0.05
"""Seconds a fast run's statements may wait for a row lock before the run goes the careful
way (as cleanup-old-sessions' batches)."""


def sqlstate(e: BaseException) -> str | None:
    """The SQLSTATE of a driver's error (or of the driver error a SQLAlchemy error wraps)."""
    if not is_database_error(e):
        return None
    return getattr(getattr(e, "orig", None) or e, "sqlstate", None)


def dialect_of(source: Any) -> str:
    """`postgresql` or `sqlite`: of a `Db` or a SQLAlchemy Engine."""
    return str(source.dialect) if isinstance(source, Db) else str(source.dialect.name)


class Undo(Exception):
    """Raised inside `Link.transaction()` to roll it back; caught by the caller."""


class Link:
    """One connection, for a series of transactions."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.dialect = str(conn.dialect) if isinstance(conn, Db) else str(conn.dialect.name)

    @contextmanager
    def transaction(self, *first: str) -> Iterator[Db | OnSqlAlchemy]:
        """A transaction (BEGIN IMMEDIATE on SQLite), its `first` statements sent at once
        (`SET TRANSACTION ...`, `SET LOCAL ...`): committed when the block ends, rolled back
        if it raises (`Undo` included)."""
        if isinstance(self.conn, Db):
            with self.conn.transaction() as tx:
                for sql in first:
                    tx.execute(sql)
                yield tx
            return
        with self.conn.begin():
            wrapped = on(self.conn)
            for sql in first:
                wrapped.execute(sql)
            yield wrapped

    def session(self, sql: str) -> None:
        """A statement outside any transaction (`SET`, `RESET`): it lasts for the session."""
        if isinstance(self.conn, Db):
            self.conn.execute(sql)
        else:
            self.conn.exec_driver_sql(sql)
            self.conn.commit()

    def reset_lock_timeout(self) -> None:
        """Undo a session-level `SET lock_timeout`. A pooled SQLAlchemy connection that cannot
        be reset is invalidated (closed), never reused with 50 ms; the run's own connection
        ends with the run."""
        try:
            if not isinstance(self.conn, Db):
                self.conn.rollback()
            self.session("RESET lock_timeout")
        except Exception as e:
            if not is_database_error(e):
                raise
            log.debug("resetting lock_timeout failed", exc_info=True)
            if not isinstance(self.conn, Db):
                self.conn.invalidate()

    def close(self) -> None:
        self.conn.close()


@contextmanager
def connected(source: Any) -> Iterator[Link]:
    """`source` (a `Db`, or a SQLAlchemy Engine: a connection of its own) as a Link."""
    if isinstance(source, Db):
        yield Link(source)
        return
    with source.connect() as conn:
        yield Link(conn)


def another(source: Any) -> Link:
    """A new connection to `source`'s database, connected now (the caller closes it): a new
    `Db` beside the run's, or another connection of the engine's pool."""
    if isinstance(source, Db):
        db = Db(source.target, source.lock_timeout)
        try:
            db.execute("SELECT 1")  # a pooler that has no server for it stalls here
        except BaseException:
            db.close()
            raise
        return Link(db)
    conn = source.connect()
    try:
        conn.exec_driver_sql("SELECT 1")
        conn.rollback()
    except BaseException:
        conn.close()
        raise
    return Link(conn)


def refused_kind(e: BaseException) -> bool:
    """Whether `e` says the database or a pool refused a connection (rather than a bug)."""
    kinds = {cls.__name__ for cls in type(e).__mro__}
    return bool(kinds & {"OperationalError", "TimeoutError"})
