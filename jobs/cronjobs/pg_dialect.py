"""The PostgreSQL dialect the jobs' engines use: SQLAlchemy's psycopg 3 dialect with its
first-connect set-up in two round trips instead of five.

On an engine's first connection SQLAlchemy asks the server, one query each, for its version,
the current schema, the default isolation level and `standard_conforming_strings`, then rolls
back. A job is a fresh process with one engine, so every run paid those round trips (about
1.5 ms of a 15 ms one-day aggregation). The server already sends its version and
`standard_conforming_strings` when the connection starts (psycopg's `conn.info`); the schema
and the isolation level come in one query (then the roll back). What the dialect learns is the same.

cronjobs.database registers it (by name, so it is imported only when a PostgreSQL engine is made)
and gives it the URLs that name psycopg 3.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg


def version_info(server_version: int) -> tuple[int, ...]:
    """libpq's server version number as SQLAlchemy's tuple: 150018 -> (15, 18), 90624 ->
    (9, 6, 24)."""
    major = server_version // 10000
    if major >= 10:
        return (major, server_version % 10000)
    return (major, server_version // 100 % 100, server_version % 100)


class Dialect(PGDialect_psycopg):
    """PGDialect_psycopg, answering `initialize()`'s questions from the connection's start-up
    parameters, and the schema and isolation level with one query."""

    supports_statement_cache = True  # a subclass must say so itself, or nothing is cached
    _first_isolation_level: str | None = None

    def _get_server_version_info(self, connection: Any) -> tuple[int, ...]:
        return version_info(connection.connection.dbapi_connection.info.server_version)

    def _set_backslash_escapes(self, connection: Any) -> None:
        info = connection.connection.dbapi_connection.info
        self._backslash_escapes = info.parameter_status("standard_conforming_strings") == "off"

    def _get_default_schema_name(self, connection: Any) -> str:
        # initialize() asks for the schema, then the isolation level: both in this one query.
        schema, level = connection.exec_driver_sql(
            "SELECT current_schema(), current_setting('transaction_isolation')"
        ).one()
        self._first_isolation_level = str(level).upper()
        return schema  # type: ignore[no-any-return]  # None if no schema on search_path exists

    def get_default_isolation_level(self, dbapi_conn: Any) -> Any:
        level, self._first_isolation_level = self._first_isolation_level, None
        if level is None:  # not after _get_default_schema_name: ask
            return super().get_default_isolation_level(dbapi_conn)  # type: ignore[no-untyped-call]
        return level
