"""Connecting to the database, translating its errors, and the one-run-at-a-time lock."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import weakref
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.dialects import registry
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import Pool

from cronjobs.errors import ConfigError, DependencyError, JobError, Skipped
from cronjobs.redact import redact_url

log = logging.getLogger(__name__)


_EXPECTED = "expected postgresql://USER:PASSWORD@HOST:5432/DB or sqlite:///PATH"

# psycopg 3 URLs get cronjobs.pg_dialect (its first connect costs two round trips, not five),
# registered by name: imported only when an engine is made.
_PSYCOPG, _JOBS_PSYCOPG = "postgresql+psycopg", "postgresql+cronjobs"
registry.register("postgresql.cronjobs", "cronjobs.pg_dialect", "Dialect")


def connect(url: str, timeout: float = 5.0, lock_timeout: float = 5.0) -> Engine:
    """An engine for the jobs: UTC sessions, bounded connect and lock waits, no pool growth.

    On PostgreSQL a batch that waits more than `lock_timeout` for a row lock the app holds
    fails instead of making the app wait behind it. SQLite write transactions begin with
    BEGIN IMMEDIATE, so the rows a batch selects cannot change before it deletes them.
    """
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError):  # its message may quote the URL: say nothing of it
        raise ConfigError(f"DATABASE_URL is malformed: {_EXPECTED}") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": lock_timeout})
        _sqlite_begin_immediate(engine)
        return engine
    if parsed.drivername == _PSYCOPG:
        parsed = parsed.set(drivername=_JOBS_PSYCOPG)
    options = f"-c lock_timeout={int(lock_timeout * 1000)} -c TimeZone=UTC"
    engine = create_engine(
        parsed,
        # At most 4 connections, as before (2 + 2 overflow), but all of them kept when
        # returned: the one holding the job's advisory lock is never closed by the pool.
        pool_size=4,
        max_overflow=0,
        pool_pre_ping=False,
        use_native_hstore=False,  # no hstore columns: skips a pg_type look-up per run
        connect_args={
            "connect_timeout": max(1, int(timeout)),
            "options": options,
            "application_name": "cronjobs",
        },
    )
    _KEEPING_POOLS.add(engine.pool)
    return engine


# Pools made by connect(): they keep every connection returned to them (no overflow, no
# recycling), so a session-level lock taken on one of them lasts until the lock is released
# or the pool is disposed. engine.dispose() makes a new pool, which is not in here.
_KEEPING_POOLS: weakref.WeakSet[Pool] = weakref.WeakSet()


def require_existing(url: str) -> None:
    """A job never creates a database: a SQLite file that is not there is a configuration error
    (only `cronjobs init-db` creates one)."""
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError):  # its message may quote the URL: say nothing of it
        raise ConfigError(f"DATABASE_URL is malformed: {_EXPECTED}") from None
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or path in (None, "", ":memory:"):
        return
    if parsed.query.get("uri") or path.startswith("file:"):
        return  # a SQLite URI names its own mode (mode=rw refuses to create)
    if not os.path.exists(path):
        folder = os.path.dirname(os.path.abspath(path))
        missing = "" if os.path.isdir(folder) else f" (nor does its folder {folder})"
        raise ConfigError(
            f"DATABASE_URL names the SQLite file {path}, which does not exist{missing}: check the "
            "path, or create a development database with `cronjobs init-db`"
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


# SQLite: `no such table: x`, `no such column: x`; PostgreSQL (UndefinedTable, UndefinedColumn):
# `relation "x" does not exist`, `column "x" does not exist`, `column x.y does not exist`.
_MISSING = (
    re.compile(r"no such (?P<what>table|column): (?P<name>\S+)"),
    re.compile(r"(?P<what>relation|column) (?P<name>\"[^\"]+\"|\S+) does not exist"),
)


def _missing(reason: str) -> str | None:
    """`table x` or `column y` when the error says the schema lacks it."""
    for pattern in _MISSING:
        if m := pattern.search(reason):
            what = "table" if m.group("what") == "relation" else m.group("what")
            return f"{what} {m.group('name')}"
    return None


# libpq's words for a connection option it does not know or a value it does not take.
_BAD_OPTION = re.compile(r'invalid connection option "|invalid \w+ value: |for connection option "')

P = ParamSpec("P")
R = TypeVar("R")


def translate_errors(
    engine: Engine, action: Callable[P, R], *args: P.args, **kwargs: P.kwargs
) -> R:
    """Run `action`, turning database errors into JobErrors that say what to do."""
    try:
        return action(*args, **kwargs)
    except (exc.OperationalError, exc.ProgrammingError) as e:
        reason = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
        if _BAD_OPTION.search(reason):  # libpq refused the URL's ?options: nothing was sent
            raise ConfigError(
                f"DATABASE_URL has an option the PostgreSQL driver refuses ({reason}): fix or "
                f"remove it in {describe(engine)}"
            ) from e
        if missing := _missing(reason):
            raise ConfigError(
                f"the database at {describe(engine)} has no {missing}: is DATABASE_URL the app's "
                "database? In a development database `cronjobs init-db` creates the built-in "
                "jobs' tables (jobs/cronjobs/retention/models.py); the app's own tables (its jobs', a rules "
                "file's) come from the app's migrations"
            ) from e
        if "unable to open database file" in reason:
            raise ConfigError(
                f"cannot open the SQLite file of DATABASE_URL ({describe(engine)}): does its "
                "folder exist, and may this user write there?"
            ) from e
        if isinstance(e, exc.ProgrammingError):
            raise JobError(
                f"the database at {describe(engine)} rejected a query: {reason}. Does DATABASE_URL "
                "point at the app's database, and do the tables match jobs/cronjobs/retention/models.py?"
            ) from e
        if "lock timeout" in reason or "database is locked" in reason:
            raise DependencyError(
                f"a batch waited too long for rows the app holds locked ({reason}); committed "
                "batches stay, the next run continues. Raise CRONJOBS_LOCK_TIMEOUT if this repeats"
            ) from e
        raise DependencyError(
            f"cannot use the database at {describe(engine)}: {reason}. Check DATABASE_URL and "
            "that the server is up and reachable"
        ) from e
    except exc.IntegrityError as e:
        if held := _held_by_foreign_key(e):
            raise JobError(
                f"cannot delete a row that rows of another table still refer to ({held}): their "
                "foreign key has no ON DELETE CASCADE, so every run stops at this row. Add that "
                "table to the rule's `children` (the rules file, CRONJOBS_RULES) so the cleanup "
                "deletes them with it, or delete them in the app first; `cronjobs retention show "
                "--database-url ...` names the keys. Batches committed before this one stay"
            ) from e
        reason = " ".join(str(getattr(e, "orig", None) or e).split("\n")[0].split())
        raise JobError(f"database error at {describe(engine)}: {reason}") from e
    except exc.SQLAlchemyError as e:
        reason = " ".join(str(getattr(e, "orig", None) or e).split("\n")[0].split())
        if "file is not a database" in reason:
            raise ConfigError(
                f"DATABASE_URL names {describe(engine)}, which is not a SQLite database file: "
                "check the path"
            ) from e
        raise JobError(f"database error at {describe(engine)}: {reason}") from e


_FK_VIOLATION = "23503"


def _held_by_foreign_key(e: exc.IntegrityError) -> str | None:
    """What the database says of a delete refused by a foreign key (PostgreSQL: the key, the
    tables and the row; SQLite names none), or None for another integrity error."""
    orig = e.orig
    if getattr(orig, "sqlstate", None) == _FK_VIOLATION:
        diag = getattr(orig, "diag", None)
        said = " ".join(str(orig).split("\n")[0].split())
        detail = getattr(diag, "message_detail", None)
        return f"{said}; {detail}" if detail else said
    if "FOREIGN KEY constraint failed" in str(orig):
        return "SQLite: FOREIGN KEY constraint failed"
    return None


def lock_key(job_id: str) -> int:
    """A stable 64-bit advisory lock key per job."""
    digest = hashlib.sha256(f"cronjobs:{job_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def exclusive(engine: Engine, job_id: str) -> Iterator[None]:
    """Hold the job's lock for the block, or raise Skipped if another run holds it.

    PostgreSQL: a session-level advisory lock, released when the block ends or when its
    connection closes (so a killed pod never leaves it behind). On an engine from connect() the
    lock is taken on a pooled connection that then goes back to the pool, where the work's
    first transaction picks it up: one connection per run, not a second one just for the lock
    (the pool keeps it, and the lock outlives the transactions). Other engines get a connection
    of its own for the lock. SQLite: an flock on a file beside the database (same host only; an
    in-memory database needs no lock).
    """
    if engine.dialect.name == "postgresql":
        if engine.pool in _KEEPING_POOLS:
            with _advisory_lock_on_pool(engine, job_id):
                yield
        else:
            with _advisory_lock_own_connection(engine, job_id):
                yield
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        yield
        return
    path = f"{database}.{job_id}.lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Skipped(
                f"another run of {job_id} is in progress ({path} is locked); skipped"
            ) from None
        yield
    finally:
        os.close(fd)


# Sent as the driver's own SQL (pyformat): a statement this small needs no compiling per run.
_TRY_LOCK = "SELECT pg_try_advisory_lock(%(k)s)"
_UNLOCK = "SELECT pg_advisory_unlock(%(k)s)"


def _skipped(job_id: str) -> Skipped:
    return Skipped(f"another run of {job_id} is in progress (advisory lock held); skipped")


@contextmanager
def _advisory_lock_own_connection(engine: Engine, job_id: str) -> Iterator[None]:
    key = {"k": lock_key(job_id)}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not conn.exec_driver_sql(_TRY_LOCK, key).scalar():
            raise _skipped(job_id)
        try:
            yield
        finally:
            conn.exec_driver_sql(_UNLOCK, key)


@contextmanager
def _advisory_lock_on_pool(engine: Engine, job_id: str) -> Iterator[None]:
    key = {"k": lock_key(job_id)}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        held = conn.exec_driver_sql(_TRY_LOCK, key).scalar()
        holder = conn.connection.dbapi_connection
    if not held:
        raise _skipped(job_id)
    pool = engine.pool  # engine.dispose() during the run would replace it
    watch = _Holder(holder, job_id)
    for name, fn in watch.listeners():
        event.listen(pool, name, fn)
    try:
        yield
    finally:
        for name, fn in watch.listeners():
            event.remove(pool, name, fn)
        if watch.checked_out:  # the work left it checked out: its close releases the lock
            log.debug("the lock's connection is still checked out: released when it closes")
        elif not watch.lost:
            _unlock(engine, holder, key)


class _Holder:
    """Follows the pooled connection that holds a job's lock through the pool's events."""

    def __init__(self, dbapi_connection: Any, job_id: str) -> None:
        self.dbapi_connection = dbapi_connection
        self.job_id = job_id
        self.checked_out = False
        self.lost = False
        self._listeners = [
            ("checkout", self._checkout),
            ("checkin", self._checkin),
            *((name, self._gone) for name in ("close", "detach", "invalidate")),
        ]

    def listeners(self) -> list[tuple[str, Callable[..., None]]]:
        return self._listeners

    def _checkout(self, dbapi_connection: Any, *_: Any) -> None:
        if dbapi_connection is self.dbapi_connection:
            self.checked_out = True

    def _checkin(self, dbapi_connection: Any, *_: Any) -> None:
        if dbapi_connection is self.dbapi_connection:
            self.checked_out = False

    def _gone(self, dbapi_connection: Any, *_: Any) -> None:
        if dbapi_connection is self.dbapi_connection and not self.lost:
            self.lost = True
            self.checked_out = False
            log.warning(
                "the connection holding the lock of %s closed during the run (lock released): "
                "another run may start before this one ends",
                self.job_id,
            )


def _unlock(engine: Engine, dbapi_connection: Any, key: dict[str, int]) -> None:
    """Release the lock on the idle pooled connection that holds it (in autocommit, so the
    connection goes back to the pool as the pool left it: no transaction open)."""
    dialect = engine.dialect
    dialect.set_isolation_level(dbapi_connection, "AUTOCOMMIT")
    try:
        with closing(dbapi_connection.cursor()) as cursor:
            cursor.execute(_UNLOCK, key)
    finally:
        dialect.reset_isolation_level(dbapi_connection)
