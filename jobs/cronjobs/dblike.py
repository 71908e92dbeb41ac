"""A `Db`, or a SQLAlchemy connection seen as one: what the built-in jobs send their SQL text on.

A run's is its own `Db` (cronjobs.dbapi). Tests, benches and `cronjobs retention show` may
hand the jobs' functions a SQLAlchemy Engine or Connection instead: `OnSqlAlchemy` runs the
same SQL text on it, as the driver's own SQL. Nothing here imports SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from cronjobs.dbapi import Db, pyformat, sqlite_value

R = TypeVar("R")


class OnSqlAlchemy:
    """A SQLAlchemy Connection seen as a `Db`: the same SQL text runs on it as the driver's own
    SQL (tests, benches and `cronjobs retention show` hand the cleanups an Engine). Nothing here
    imports SQLAlchemy.

    Borrowed (`on(conn)`, `autocommit=False`): its statements run in the caller's transaction,
    which the caller ends. Its own (`connection(engine)`, `another(engine)`): a statement
    outside `transaction()` is committed at once (rolled back if it fails), as in `Db`'s
    autocommit."""

    def __init__(self, conn: Any, autocommit: bool = False) -> None:
        self.conn = conn
        self.dialect = str(conn.dialect.name)
        self.autocommit = autocommit
        self._in_tx = False

    def _sent(self, sql: str, params: Mapping[str, Any] | None) -> Any:
        if self.dialect == "postgresql":  # SQLAlchemy always sends parameters: % is then %%
            return self.conn.exec_driver_sql(pyformat(sql), dict(params or {}))
        values = {k: sqlite_value(v) for k, v in (params or {}).items()}
        return self.conn.exec_driver_sql(sql, values)

    def _run(self, sql: str, params: Mapping[str, Any] | None, fetch: Callable[[Any], R]) -> R:
        if not self.autocommit or self._in_tx:
            return fetch(self._sent(sql, params))
        try:
            result = fetch(self._sent(sql, params))
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()
        return result

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """Run one statement; its result (rows, rowcount)."""
        return self._run(sql, params, lambda result: result)

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self._run(sql, params, lambda result: [tuple(row) for row in result])

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        row = self._run(sql, params, lambda result: result.first())
        return None if row is None else row[0]

    def scalars(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        return self._run(sql, params, lambda result: [row[0] for row in result])

    @contextmanager
    def transaction(self, *setup: str) -> Iterator[OnSqlAlchemy]:
        """A transaction, as `Db.transaction`."""
        if self._in_tx:
            raise RuntimeError("a transaction is already open on this connection")
        self._in_tx = True
        try:
            with self.conn.begin():
                for sql in setup:
                    self._sent(sql, None)
                yield self
        finally:
            self._in_tx = False

    def discard(self) -> None:
        """Close this connection for good (the pool opens a new one), whatever state it is
        in: one whose session settings could not be reset never goes back to the pool."""
        self.conn.invalidate()

    def close(self) -> None:
        self.conn.close()


DbLike = Db | OnSqlAlchemy
"""What the built-in jobs send their SQL on: the run's `Db`, or a SQLAlchemy connection seen as
a `Db`."""


def on(conn: Any) -> DbLike:
    """`conn` as a `Db`: a `Db` (or one already seen as a `Db`) itself, or a SQLAlchemy
    Connection borrowed in the caller's transaction."""
    return conn if isinstance(conn, Db | OnSqlAlchemy) else OnSqlAlchemy(conn)


@contextmanager
def connection(source: Any) -> Iterator[DbLike]:
    """One connection of `source`: the run's `Db` itself (or a connection already seen as a
    `Db`), or a SQLAlchemy Engine's own connection, seen as a `Db` and closed after."""
    if isinstance(source, Db | OnSqlAlchemy):
        yield source
        return
    with source.connect() as conn:
        yield OnSqlAlchemy(conn, autocommit=True)


def another(source: Any) -> DbLike:
    """A new connection to `source`'s database, of the same kind, connected now (the caller
    closes it): a `Db` beside the run's, or another connection of a SQLAlchemy Engine's pool.
    `source`: a `Db`, a SQLAlchemy Engine, or a connection of one seen as a `Db`."""
    if isinstance(source, Db):
        db: DbLike = Db(source.target, source.lock_timeout)
    else:
        engine = source.conn.engine if isinstance(source, OnSqlAlchemy) else source
        db = OnSqlAlchemy(engine.connect(), autocommit=True)
    try:
        db.execute("SELECT 1")  # a pooler that has no server for it stalls here
    except BaseException:
        db.close()
        raise
    return db
