"""The live database as the retention checks read it: one inspector's answers, each asked once
(`Schema`), and what a check found (`Finding`). jobs/cronjobs/retention/schema_check.py and
cascades.py both read the schema through it."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, exc, inspect, text

from cronjobs.errors import ConfigError
from cronjobs.retention.finding import Finding

__all__ = ["Finding", "Schema"]


@contextmanager
def _expression_indexes_unread() -> Iterator[None]:
    """SQLite's expression indexes are not reflected (a warning): `expression_indexes` reads
    their CREATE INDEX text instead."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", exc.SAWarning)
        yield


def _ascii_lower(name: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in name)


class Schema:
    """One inspector's answers, each asked once."""

    def __init__(self, engine: Engine, schema: str | None = None) -> None:
        self.engine = engine
        self.schema = schema
        self.inspector = inspect(engine)
        if schema is not None and engine.dialect.name != "postgresql":
            raise ConfigError(
                f"the rules file names schema {schema!r}: schemas are for PostgreSQL; on "
                f"{engine.dialect.name} drop the `schema` key"
            )
        if schema is not None and schema not in self.inspector.get_schema_names():
            raise ConfigError(
                f"the rules file names schema {schema!r}, which this database does not have "
                "(names are exact): create it, or fix `schema`"
            )
        self._tables = set(self.inspector.get_table_names(schema=schema))
        self._columns: dict[str, dict[str, Any]] = {}
        self._indexes: dict[str, list[dict[str, Any]]] = {}

    def indexes(self, table: str) -> list[dict[str, Any]]:
        if table not in self._indexes:
            with _expression_indexes_unread():
                self._indexes[table] = [
                    dict(i) for i in self.inspector.get_indexes(table, schema=self.schema)
                ]
        return self._indexes[table]

    def has(self, table: str) -> bool:
        return table in self._tables

    def tables(self) -> set[str]:
        return set(self._tables)

    def near(self, table: str) -> str:
        """A hint when the table exists under another case (PostgreSQL folds unquoted names
        to lower case; the rules file's names are exact)."""
        same = [t for t in self._tables if t.lower() == table.lower()]
        return f" (did you mean {same[0]!r}? names are exact)" if same else ""

    def q(self, name: str) -> str:
        """A name as this database's SQL needs it (quoted when it must be)."""
        return str(self.engine.dialect.identifier_preparer.quote(name))

    def qt(self, table: str) -> str:
        """A table's name as SQL needs it, in the rules' schema if they name one."""
        return f"{self.q(self.schema)}.{self.q(table)}" if self.schema else self.q(table)

    def columns(self, table: str) -> dict[str, Any]:
        if table not in self._columns:
            found = self.inspector.get_columns(table, schema=self.schema)
            self._columns[table] = {c["name"]: c["type"] for c in found}
        return self._columns[table]

    def not_text(self, table: str, column: str) -> bool:
        """SQLite only: whether the column holds values that are not text (epoch numbers, say),
        which compare with a text cutoff by type, not by time."""
        if self.engine.dialect.name != "sqlite":
            return False
        t, c = (self.engine.dialect.identifier_preparer.quote(n) for n in (table, column))
        query = text(f"SELECT 1 FROM {t} WHERE typeof({c}) NOT IN ('text', 'null') LIMIT 1")
        with self.engine.connect() as conn:  # names quoted by the dialect's own preparer
            return conn.scalar(query) is not None

    def leading_index_columns(self, table: str) -> set[str]:
        found = set()
        for index in self.indexes(table):
            names = index.get("column_names") or []
            if names and names[0]:
                found.add(names[0])
        constraint = self.inspector.get_pk_constraint(table, schema=self.schema)
        pk = constraint.get("constrained_columns") or []
        return found | set(pk[:1])

    def expression_indexes(self, table: str) -> list[str]:
        if self.engine.dialect.name == "sqlite":  # not reflected: its CREATE INDEX text
            query = text("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t")
            with self.engine.connect() as conn:
                return [str(sql) for sql in conn.scalars(query, {"t": table}) if sql]
        return [" ".join(str(e) for e in i.get("expressions") or []) for i in self.indexes(table)]

    def foreign_keys(self, table: str) -> list[dict[str, Any]]:
        """The table's declared foreign keys, `referred_schema` None for a referred table in the
        rules' schema (without one, the connection's default schema), "" for one in another
        schema on the search_path, else that schema's name."""
        if self.engine.dialect.name != "postgresql":
            return [dict(f) for f in self.inspector.get_foreign_keys(table, schema=self.schema)]
        # Given a schema, SQLAlchemy gives it as the referred one exactly when it is (None: some
        # other schema on the search_path). Without one, ignoring the search_path gives every
        # schema but the default: a table of the same name elsewhere on it is not ours.
        found = self.inspector.get_foreign_keys(
            table, schema=self.schema, postgresql_ignore_search_path=self.schema is None
        )
        ours = {self.schema} if self.schema else {None, self.inspector.default_schema_name}

        def where(referred: str | None) -> str | None:
            return None if referred in ours else referred or ""

        return [{**f, "referred_schema": where(f["referred_schema"])} for f in found]

    def refers_to(self, fk: dict[str, Any], table: str, column: str) -> bool:
        """Whether a reflected foreign key refers to exactly `table`(`column`) of the rules'
        schema (SQLite's names are ASCII-case-insensitive: `REFERENCES chat_Sessions` is it)."""
        if fk.get("referred_schema") is not None:
            return False
        named = (fk["referred_table"], *fk["referred_columns"])
        if self.engine.dialect.name == "sqlite":
            return tuple(map(_ascii_lower, named)) == (_ascii_lower(table), _ascii_lower(column))
        return named == (table, column)

    def unique_keys(self, table: str) -> list[set[str]]:
        pk = self.inspector.get_pk_constraint(table, schema=self.schema)
        keys = [set(pk.get("constrained_columns") or [])]
        with _expression_indexes_unread():  # SQLite reads its indexes for these
            unique = self.inspector.get_unique_constraints(table, schema=self.schema)
        keys += [set(u["column_names"]) for u in unique]
        keys += [
            set(i["column_names"])
            for i in self.indexes(table)
            if i.get("unique") and None not in (i.get("column_names") or [None])
        ]
        return [k for k in keys if k]
