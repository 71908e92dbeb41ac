"""The database's catalog as cronjobs.retention.cascades reads it, on a run's own connection
(cronjobs.dbapi.Db): the same questions a `Schema` (cronjobs.retention.reflect) answers with
SQLAlchemy's inspector, asked as SQL text, so the built-in rules' check costs a run no
SQLAlchemy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cronjobs.dbapi import quote

# The tables SQLAlchemy's SQLite inspector lists (get_table_names): not SQLite's own.
_SQLITE_TABLES = (
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' ESCAPE '~'"
)


class Catalog:
    """What cascades.referencing asks of a database, on `db` (each answer asked once)."""

    def __init__(self, db: Any, schema: str | None = None) -> None:
        self.db = db
        self.schema = schema
        self.dialect = str(db.dialect)
        self._default: str | None = None
        self._tables: set[str] | None = None

    @property
    def default_schema(self) -> str | None:
        """PostgreSQL: the first schema of the search_path."""
        if self._default is None:
            self._default = self.db.scalar("SELECT current_schema()")
        return self._default

    def tables(self) -> set[str]:
        """SQLite: the database's tables."""
        if self._tables is None:
            self._tables = {str(name) for name in self.db.scalars(_SQLITE_TABLES)}
        return set(self._tables)

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.db.rows(sql, params)]

    def q(self, name: str) -> str:
        return quote(name)

    def qt(self, table: str) -> str:
        """A table as SQL names it, in the rules' schema if they name one."""
        return f"{quote(self.schema)}.{quote(table)}" if self.schema else quote(table)
