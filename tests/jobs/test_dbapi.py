"""The run's own connection (cronjobs.dbapi): the same connect keywords SQLAlchemy's psycopg
dialect derives from a URL, parameters on both dialects, transactions, and errors from the
bare drivers translated as SQLAlchemy's were. Real PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import make_url

from cronjobs.db_errors import translate_errors
from cronjobs.dbapi import Db, parse, pyformat
from cronjobs.dblike import on
from cronjobs.errors import ConfigError, DependencyError, JobError
from cronjobs.retention.models import analytics_events, metadata
from cronjobs.settings import parse_database_url

URLS = [
    "postgresql://app:s3cret@db.internal:6543/app",
    "postgresql://app@db/app?sslmode=require&target_session_attrs=read-write",
    "postgres://app:p%40ss%2Fw0rd@db:5432/my%20db",
    "postgresql://app:pw@[::1]:5432/app",
    "postgresql://app:pw@/app?host=/var/run/postgresql",
    "postgresql://app:pw@/app?host=h1:5432&host=h2:5433",
    "postgresql://app:pw@/app?host=h1&host=h2",
    "postgresql+psycopg://u@h/d?connect_timeout=30&options=-c%20statement_timeout%3D5s",
]


@pytest.mark.parametrize("url", URLS)
def test_the_connect_keywords_are_sqlalchemys(url: str) -> None:
    normalised = parse_database_url(url)
    _, expected = PGDialect_psycopg().create_connect_args(make_url(normalised))
    expected.update(  # what cronjobs.database passed as connect_args before
        connect_timeout=7,
        options="-c lock_timeout=2500 -c TimeZone=UTC",
        application_name="cronjobs",
    )
    target = parse(normalised, timeout=7.9, lock_timeout=2.5)
    assert target.dialect == "postgresql"
    assert dict(target.kwargs) == expected
    assert "s3cret" not in target.where and "p%40ss" not in target.where


def test_a_malformed_url_says_what_is_expected_and_quotes_nothing() -> None:
    with pytest.raises(ConfigError, match="expected postgresql://") as e:
        parse("postgresql://u:pw@host:99999/db")
    assert "pw" not in str(e.value)


def test_sqlite_urls() -> None:
    assert parse("sqlite:////tmp/x.db").path == "/tmp/x.db"
    assert parse("sqlite:///rel/x.db").path == "rel/x.db"
    uri = parse("sqlite:///file:x.db?mode=ro&uri=true")
    assert (uri.path, uri.uri) == ("file:x.db?mode=ro", True)


def test_pyformat_keeps_casts_and_literal_percents() -> None:
    sql = "SELECT :a::date, x LIKE 'a%', :b_2 FROM t WHERE y = :a"
    assert pyformat(sql) == "SELECT %(a)s::date, x LIKE 'a%%', %(b_2)s FROM t WHERE y = %(a)s"


def test_pyformat_leaves_quoted_names_and_literals_alone(pg_engine: Engine, pg_db_url: str) -> None:
    """A rules file's names are quoted, whatever they hold: a `:x` in a name or a literal is
    not a parameter, and runs as written on PostgreSQL."""
    sql = (
        """SELECT ":y%" AS ":y%", 'o''k :z %' AS "it""s", :a::int AS a FROM (SELECT 1 AS ":y%") t"""
    )
    assert pyformat(sql).count("%(") == 1
    db = Db(parse(parse_database_url(pg_db_url)))
    assert db.rows(sql, {"a": 7}) == [(1, "o'k :z %", 7)]
    db.close()


def _dbs(pg_engine: Engine, pg_db_url: str, tmp_path: Path) -> list[Db]:
    sqlite_url = f"sqlite:///{tmp_path}/app.db"
    from cronjobs.database import connect

    metadata.create_all(connect(sqlite_url))
    return [Db(parse(parse_database_url(pg_db_url))), Db(parse(sqlite_url))]


def test_datetimes_compare_with_what_sqlalchemy_stored(
    pg_engine: Engine, pg_db_url: str, tmp_path: Path
) -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    for db in _dbs(pg_engine, pg_db_url, tmp_path):
        from cronjobs.database import connect

        url = db.where if db.dialect == "sqlite" else parse_database_url(pg_db_url)
        engine = connect(url)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM analytics_events"))
            conn.execute(
                insert(analytics_events),
                [
                    {"event_type": "a", "user_id": "u", "occurred_at": now - timedelta(hours=h)}
                    for h in (1, 2, 30)
                ],
            )
        engine.dispose()
        since = now - timedelta(hours=2)
        n = db.scalar("SELECT count(*) FROM analytics_events WHERE occurred_at >= :t", {"t": since})
        assert n == 2, db.dialect
        db.close()


def test_a_transaction_commits_or_rolls_back(
    pg_engine: Engine, pg_db_url: str, tmp_path: Path
) -> None:
    for db in _dbs(pg_engine, pg_db_url, tmp_path):
        db.execute("DELETE FROM analytics_events")
        row = {"t": "x", "u": "u", "at": datetime(2026, 1, 1, tzinfo=UTC)}
        add = "INSERT INTO analytics_events (event_type, user_id, occurred_at) VALUES (:t, :u, :at)"
        with pytest.raises(RuntimeError), db.transaction():
            db.execute(add, row)
            raise RuntimeError("the work failed")
        assert db.scalar("SELECT count(*) FROM analytics_events") == 0, db.dialect
        with db.transaction():
            db.execute(add, row)
        assert db.scalar("SELECT count(*) FROM analytics_events") == 1, db.dialect
        db.close()


def test_driver_errors_are_translated_as_sqlalchemys_were(
    pg_engine: Engine, pg_db_url: str, tmp_path: Path
) -> None:
    for db in _dbs(pg_engine, pg_db_url, tmp_path):
        with pytest.raises(ConfigError, match="has no table"):
            translate_errors(db.where, db.execute, "SELECT * FROM no_such_table")
        # PostgreSQL's syntax error is a ProgrammingError; SQLite's an OperationalError
        said = "rejected a query" if db.dialect == "postgresql" else "cannot use the database"
        with pytest.raises(JobError, match=said):
            translate_errors(db.where, db.execute, "SELEKT 1")
        db.close()
    down = Db(parse("postgresql+psycopg://u:hunter22@127.0.0.1:1/db", timeout=1))
    with pytest.raises(DependencyError, match="Check DATABASE_URL") as e:
        translate_errors(down.where, down.execute, "SELECT 1")
    assert "hunter22" not in str(e.value)
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("hello " * 1000)
    garbage = Db(parse(f"sqlite:///{not_a_db}"))
    with pytest.raises(ConfigError, match="not a SQLite database file"):
        translate_errors(garbage.where, garbage.execute, "SELECT * FROM t")


def test_sql_text_on_a_sqlalchemy_connection_with_no_parameters(pg_engine: Engine) -> None:
    """`on(conn)` (the same SQL text from a SQLAlchemy transaction): a statement without
    parameters is sent as written, so a `%` in a quoted name is not read as a placeholder."""
    with pg_engine.begin() as conn:
        assert on(conn).rows('SELECT 1 AS "100%"') == [(1,)]
        assert on(conn).scalar("SELECT :n::int + 1", {"n": 1}) == 2


def test_sqlites_own_rollback_does_not_hide_the_error(tmp_path: Path) -> None:
    """SQLite rolls a transaction back itself on some errors (disk full, ON CONFLICT ROLLBACK):
    the error that did it is what the run reports, not "cannot rollback"."""
    db = Db(parse(f"sqlite:///{tmp_path}/t.db"))
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY ON CONFLICT ROLLBACK)")
    db.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(Exception, match="UNIQUE constraint failed") as e, db.transaction():
        db.execute("INSERT INTO t VALUES (1)")
    assert type(e.value).__name__ == "IntegrityError"
    assert db.scalar("SELECT count(*) FROM t") == 1
    db.close()


def test_the_catalog_reads_the_foreign_keys_of_its_schemas_table(
    pg_engine: Engine, pg_db_url: str
) -> None:
    """`Catalog(db, schema)` names the table in its schema, whatever the search_path says."""
    from cronjobs.retention.cascades import Catalog

    with pg_engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS other CASCADE"))
        conn.execute(text("CREATE SCHEMA other"))
        conn.execute(text("CREATE TABLE other.parent (id bigint PRIMARY KEY)"))
        conn.execute(
            text(
                "CREATE TABLE other.child (id bigint PRIMARY KEY, "
                "parent_id bigint REFERENCES other.parent ON DELETE CASCADE)"
            )
        )
    db = Db(parse(parse_database_url(pg_db_url)))
    try:
        found = Catalog(db, "other").referencing("parent")
        assert [(r.table, r.columns) for r in found] == [("child", ("parent_id",))]
    finally:
        db.close()
        with pg_engine.begin() as conn:
            conn.execute(text("DROP SCHEMA other CASCADE"))


def test_a_sqlite_uri_is_locked_beside_its_file(tmp_path: Path) -> None:
    """`sqlite:///file:PATH?mode=rw&uri=true` runs one at a time too: the lock file is beside
    PATH, as for a plain path."""
    from cronjobs.errors import Skipped

    (tmp_path / "app.db").touch()
    url = f"sqlite:///file:{tmp_path}/app.db?mode=rw&uri=true"
    first, second = Db(parse(url)), Db(parse(url))
    first.lock("job")
    assert (tmp_path / "app.db.job.lock").exists()
    with pytest.raises(Skipped):
        second.lock("job")
    first.close()
    second.lock("job")
    second.close()
    Db(parse("sqlite:///file:mem?mode=memory&uri=true")).lock("job")  # nothing to lock
