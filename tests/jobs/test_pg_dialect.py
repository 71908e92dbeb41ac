"""cronjobs.pg_dialect against a real PostgreSQL 15: an engine's first connect sends one query
(SQLAlchemy's own dialect sends four; with the rollback after them, two round trips instead of
five), and the dialect learns what SQLAlchemy's own psycopg dialect learns, also from a
database whose defaults are not the stock ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, text

from cronjobs.database import connect, describe
from cronjobs.pg_dialect import Dialect, version_info
from cronjobs.settings import parse_database_url


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement psycopg sends in this process, as text."""
    statements: list[str] = []
    execute = psycopg.Cursor.execute

    def recording(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        statements.append(query if isinstance(query, str) else repr(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", recording)
    return statements


def test_the_first_connect_sends_one_query(pg_db_url: str, sent: list[str]) -> None:
    engine = connect(parse_database_url(pg_db_url))
    try:
        assert isinstance(engine.dialect, Dialect)
        with engine.connect() as conn:
            first = list(sent)
            conn.execute(text("SELECT 1"))
        # SQLAlchemy's own dialect sends four: version(), current_schema(), SHOW transaction
        # isolation level, SHOW standard_conforming_strings.
        assert first == ["SELECT current_schema(), current_setting('transaction_isolation')"]
        assert engine.dialect.server_version_info is not None
        assert engine.dialect.server_version_info[0] == 15
    finally:
        engine.dispose()


@pytest.fixture
def unusual_db(pg_db_url: str) -> Iterator[str]:
    """The test database with non-default isolation level, search_path and
    standard_conforming_strings for new sessions."""
    url = parse_database_url(pg_db_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        db = conn.exec_driver_sql("SELECT current_database()").scalar_one()
        conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS app")
        for setting in (
            "default_transaction_isolation = 'repeatable read'",
            "search_path = app, public",
            "standard_conforming_strings = off",
        ):
            conn.exec_driver_sql(f'ALTER DATABASE "{db}" SET {setting}')
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{db}" RESET ALL')
        admin.dispose()


def _learned(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    d: Any = engine.dialect
    return {
        "server_version_info": d.server_version_info,
        "default_schema_name": d.default_schema_name,
        "default_isolation_level": d.default_isolation_level,
        "_backslash_escapes": d._backslash_escapes,
    }


@pytest.mark.parametrize("setup", ["stock", "unusual"])
def test_the_dialect_learns_what_sqlalchemys_own_learns(
    setup: str, pg_db_url: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("unusual_db") if setup == "unusual" else pg_db_url
    url = parse_database_url(url)
    ours, theirs = connect(url), create_engine(url)
    try:
        assert type(theirs.dialect).__name__ == "PGDialect_psycopg"
        got, want = _learned(ours), _learned(theirs)
        assert got == want
        if setup == "unusual":
            assert got["default_schema_name"] == "app"
            assert got["default_isolation_level"] == "REPEATABLE READ"
            assert got["_backslash_escapes"] is True
        # A connection given another isolation level goes back to the pool reset to the
        # database's default.
        with ours.connect().execution_options(isolation_level="SERIALIZABLE") as conn:
            conn.execute(text("SELECT 1"))
        with ours.connect() as conn:
            level = conn.exec_driver_sql("SHOW transaction_isolation").scalar_one()
        assert level.upper() == want["default_isolation_level"]
    finally:
        ours.dispose()
        theirs.dispose()


def test_version_numbers() -> None:
    assert version_info(150018) == (15, 18)
    assert version_info(170000) == (17, 0)
    assert version_info(90624) == (9, 6, 24)


def test_errors_name_the_driver_the_user_gave(pg_db_url: str) -> None:
    engine = connect(parse_database_url(pg_db_url))
    assert describe(engine).startswith("postgresql+psycopg://")
    assert "cronjobs" not in describe(engine).split("@")[0]
