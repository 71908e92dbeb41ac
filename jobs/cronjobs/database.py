"""The SQLAlchemy engine for what needs one: an app job's `ctx.engine` and `ctx.session`,
`init-db`, and reflecting a rules file's tables. A run's own connection, its lock and the
built-in jobs' SQL are cronjobs.dbapi's, with no SQLAlchemy; errors are cronjobs.db_errors'.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.dialects import registry
from sqlalchemy.engine import URL, make_url

from cronjobs.dbapi import EXPECTED, connect_driver, parse
from cronjobs.errors import ConfigError
from cronjobs.redact import redact_url

if TYPE_CHECKING:
    from cronjobs.dbapi import Db

# psycopg 3 URLs get cronjobs.pg_dialect (its first connect costs two round trips, not five),
# registered by name: imported only when an engine is made.
_PSYCOPG, _JOBS_PSYCOPG = "postgresql+psycopg", "postgresql+cronjobs"
registry.register("postgresql.cronjobs", "cronjobs.pg_dialect", "Dialect")


def connect(
    url: str, timeout: float = 5.0, lock_timeout: float = 5.0, first: Db | None = None
) -> Engine:
    """An engine for the jobs: UTC sessions, bounded connect and lock waits, no pool growth.

    On PostgreSQL a batch that waits more than `lock_timeout` for a row lock the app holds
    fails instead of making the app wait behind it; the engine's first connection is `first`'s
    (the run's, holding the job's lock) when it has one open, so a run uses one connection.
    SQLite write transactions begin with BEGIN IMMEDIATE, so the rows a batch selects cannot
    change before it deletes them.
    """
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError):  # its message may quote the URL: say nothing of it
        raise ConfigError(f"DATABASE_URL is malformed: {EXPECTED}") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": lock_timeout})
        _sqlite_begin_immediate(engine)
        return engine
    if parsed.drivername == _PSYCOPG:
        parsed = parsed.set(drivername=_JOBS_PSYCOPG)
    target = parse(url, timeout, lock_timeout)
    handing = [first] if first is not None else []

    def creator() -> Any:
        # The same keywords SQLAlchemy would pass psycopg (cronjobs.dbapi.parse reads the URL
        # as it does); the run's own connection first, lock and all.
        db = handing.pop() if handing else None
        if db is not None and db.connected:
            return db.hand_over()
        return connect_driver(target, lock_timeout, autocommit=False)

    return create_engine(
        parsed,
        creator=creator,
        # At most 4 connections, as before (2 + 2 overflow), but all of them kept when
        # returned: the one holding the job's advisory lock is never closed by the pool.
        pool_size=4,
        max_overflow=0,
        pool_pre_ping=False,
        use_native_hstore=False,  # no hstore columns: skips a pg_type look-up per run
    )


def _sqlite_begin_immediate(engine: Engine) -> None:
    # SQLAlchemy's documented recipe: let SQLAlchemy, not pysqlite, emit BEGIN.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def describe(engine: Engine) -> str:
    """Where the engine points, without the password (and with the driver's own name)."""
    url: URL = engine.url
    if url.drivername == _JOBS_PSYCOPG:
        url = url.set(drivername=_PSYCOPG)
    return redact_url(url.render_as_string(hide_password=True))
