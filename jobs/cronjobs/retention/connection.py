"""One connection for a purge: statements in autocommit, and transactions one after another on
that same connection (a session-level setting holds across them).

A run's is its own `Db` (cronjobs.dbapi). Tests, benches and `cronjobs retention show` may hand
a SQLAlchemy Engine instead: one of its connections is then seen as a `Db` (`OnEngine`), and
the same SQL text runs on it. Nothing here imports SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from cronjobs.dbapi import Db, OnSqlAlchemy


class OnEngine(OnSqlAlchemy):
    """A SQLAlchemy Connection seen as a `Db`: a statement outside `transaction()` is committed
    at once (rolled back if it fails), as in autocommit."""

    def _committed(self, run: Any) -> Any:
        try:
            result = run()
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()
        return result

    def _sent(self, sql: str, params: Mapping[str, Any] | None) -> Any:
        return OnSqlAlchemy.execute(self, sql, params)

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._committed(lambda: self._sent(sql, params))

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return list(self._committed(lambda: [tuple(r) for r in self._sent(sql, params)]))

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        row = self._committed(lambda: self._sent(sql, params).first())
        return None if row is None else row[0]

    def scalars(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        return list(self._committed(lambda: [r[0] for r in self._sent(sql, params)]))

    @contextmanager
    def transaction(self) -> Iterator[OnSqlAlchemy]:
        with self.conn.begin():
            yield OnSqlAlchemy(self.conn)

    def discard(self) -> None:
        """Close this connection for good (the pool opens a new one), whatever state it is in."""
        self.conn.invalidate()


@contextmanager
def connection(where: Any) -> Iterator[Db | OnEngine]:
    """`where` itself if it is a `Db`; else one connection of a SQLAlchemy Engine (closed
    after)."""
    if isinstance(where, Db):
        yield where
        return
    with where.connect() as conn:
        yield OnEngine(conn)
