"""The run's own database connection: one DB-API connection (psycopg 3 or the stdlib's sqlite3),
no SQLAlchemy.

A job's process pays for what it imports: SQLAlchemy Core and its dialect cost a short job
more CPU than its SQL (bench/README.md, "Start-up"). The runner connects a `Db` for every job
that needs the database and takes the job's lock on it; the built-in jobs send their SQL as
text through it. SQLAlchemy stays for what needs it: `ctx.engine` and `ctx.session` (an app
job's choice; on PostgreSQL the engine's first connection is this one, lock included),
`init-db`, and reflecting a rules file's tables.

SQL is written with `:name` parameters (as sqlite3 and SQLAlchemy's `text()` take them); on
PostgreSQL they become psycopg's `%(name)s`. On SQLite a datetime parameter is sent as the
text SQLAlchemy's DateTime stores (`YYYY-MM-DD HH:MM:SS.ffffff`, UTC), so both read the
same rows.

The code that sends that SQL takes a `Db`, or a SQLAlchemy connection seen as one
(cronjobs.dblike).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from cronjobs.errors import ConfigError, Skipped
from cronjobs.redact import redact_url

log = logging.getLogger(__name__)
EXPECTED = "expected postgresql://USER:PASSWORD@HOST:5432/DB or sqlite:///PATH"
_SQLITE = ("sqlite://", "sqlite+pysqlite://")


@dataclass(frozen=True)
class Target:
    """Where a database URL points: the dialect, and how its driver connects there."""

    dialect: str
    """`postgresql` or `sqlite`."""
    where: str
    """The URL as messages show it: no password, psycopg's own scheme name."""
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    """psycopg.connect's keywords (PostgreSQL)."""
    path: str = ""
    """The SQLite file (or `:memory:`, or a `file:` URI with `uri` set)."""
    uri: bool = False


def parse(url: str, timeout: float = 5.0, lock_timeout: float = 5.0) -> Target:
    """Read a DATABASE_URL (as cronjobs.settings normalised it) the way SQLAlchemy's psycopg
    dialect reads it, without SQLAlchemy: the same connect keywords, and the jobs' own (bounded
    connect and lock waits, UTC, `application_name=cronjobs`) over the URL's."""
    from cronjobs.urls import split

    if url.lower().startswith(_SQLITE):
        return _sqlite(url)
    try:
        parts = split(url, "DATABASE_URL", needs_host=False)
    except ConfigError:
        raise ConfigError(f"DATABASE_URL is malformed: {EXPECTED}") from None
    if not parts.scheme.lower().startswith(("postgresql", "postgres")):
        raise ConfigError(f"DATABASE_URL is malformed: {EXPECTED}")
    kwargs: dict[str, Any] = {}
    if parts.host:
        kwargs["host"] = parts.host.strip("[]")
    if parts.port is not None:
        kwargs["port"] = parts.port
    if parts.username:
        kwargs["user"] = parts.username
    if parts.password is not None:
        kwargs["password"] = parts.password
    if parts.path.strip("/"):
        kwargs["dbname"] = unquote(parts.path[1:])
    hosts: list[str] = []
    for key, value in parts.params():
        if key == "host":
            hosts.append(value)
        else:
            kwargs[key] = value
    if hosts:  # ?host=h1:5432&host=h2:5432, as SQLAlchemy joins them for libpq
        names, ports = zip(*(_host_port(h) for h in hosts), strict=True)
        kwargs["host"] = ",".join(names)
        if comma_ports := ",".join(ports):  # "," for two hosts without ports, as SQLAlchemy
            kwargs["port"] = comma_ports
    kwargs.update(
        connect_timeout=max(1, int(timeout)),
        options=f"-c lock_timeout={int(lock_timeout * 1000)} -c TimeZone=UTC",
        application_name="cronjobs",
    )
    shown = redact_url("postgresql+psycopg" + url[len(parts.scheme) :])
    return Target("postgresql", shown, kwargs)


def _host_port(value: str) -> tuple[str, str]:
    if value.startswith("["):
        host, _, after = value[1:].partition("]")
        return host, after.lstrip(":")
    host, colon, port = value.rpartition(":")
    return (host, port) if colon and port.isdigit() else (value, "")


def _sqlite(url: str) -> Target:
    rest = url.split("://", 1)[1]
    path, _, query = rest[1:].partition("?") if rest.startswith("/") else (rest, "", "")
    params = dict(p.partition("=")[::2] for p in query.split("&") if p)
    uri = params.get("uri", "").lower() in ("true", "1") or path.startswith("file:")
    if uri and not path.startswith("file:"):
        path = f"file:{path}"
    if uri and (others := {k: v for k, v in params.items() if k != "uri"}):
        path += "?" + "&".join(f"{k}={v}" for k, v in others.items())
    return Target("sqlite", redact_url(url), path=path or ":memory:", uri=uri)


def require_existing(url: str) -> None:
    """A job never creates a database: a SQLite file that is not there is a configuration error
    (only `cronjobs init-db` creates one)."""
    target = parse(url)
    path = target.path
    if target.dialect != "sqlite" or target.uri or path == ":memory:":
        return  # a SQLite URI names its own mode (mode=rw refuses to create)
    if not os.path.exists(path):
        folder = os.path.dirname(os.path.abspath(path))
        missing = "" if os.path.isdir(folder) else f" (nor does its folder {folder})"
        raise ConfigError(
            f"DATABASE_URL names the SQLite file {path}, which does not exist{missing}: check the "
            "path, or create a development database with `cronjobs init-db`"
        )


def connect_driver(target: Target, lock_timeout: float = 5.0, autocommit: bool = True) -> Any:
    """A new DB-API connection to `target`, in autocommit by default (`Db.transaction` begins
    and ends each transaction itself). SQLite enforces foreign keys, as the app's engine does."""
    if target.dialect == "postgresql":
        import psycopg

        return psycopg.connect(autocommit=autocommit, **target.kwargs)
    import sqlite3

    conn = sqlite3.connect(target.path, timeout=lock_timeout, uri=target.uri, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


# A quoted identifier or string literal (kept as it is), a `::` cast, a `:name` parameter, or a
# literal `%`: psycopg takes `%(name)s`, and a literal % is then %%.
_TOKEN = re.compile(r""""(?:[^"]|"")*"|'(?:[^']|'')*'|::|(?<![\w:]):([A-Za-z_]\w*)|%""")


def _pyformat_token(m: re.Match[str]) -> str:
    if m.group(1):
        return f"%({m.group(1)})s"
    return m.group(0).replace("%", "%%")  # psycopg reads a % anywhere, quoted or not


@lru_cache(maxsize=256)
def pyformat(sql: str) -> str:
    """`sql` with `:name` parameters written as psycopg's `%(name)s` (not inside a quoted name
    or a string literal, where a `%` is doubled all the same)."""
    return _TOKEN.sub(_pyformat_token, sql)


def sqlite_value(value: Any) -> Any:
    """A parameter as SQLite's columns hold it (SQLAlchemy's storage formats)."""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S.%f}"
    if isinstance(value, date):
        return value.isoformat()
    return value


class Db:
    """One connection for a run: `execute` in autocommit, or within `transaction()`."""

    def __init__(self, target: Target, lock_timeout: float = 5.0) -> None:
        self.target = target
        self.dialect = target.dialect
        self.where = target.where
        self.lock_timeout = lock_timeout
        self._conn: Any = None
        self._lock_fd: int | None = None
        self._locked: tuple[Any, int] | None = None  # (connection, key) of the advisory lock
        self._in_tx = False

    @property
    def connected(self) -> bool:
        return self._conn is not None

    @property
    def connection(self) -> Any:
        """The DB-API connection, opened on first use."""
        if self._conn is None:
            self._conn = connect_driver(self.target, self.lock_timeout)
        return self._conn

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """Run one statement; its cursor (rows, rowcount)."""
        conn = self.connection
        if self.dialect == "postgresql":
            return conn.execute(pyformat(sql) if params else sql, params or None)
        values = {k: sqlite_value(v) for k, v in (params or {}).items()}
        return conn.execute(sql, values)

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return list(self.execute(sql, params).fetchall())

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        row = self.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def scalars(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        return [row[0] for row in self.execute(sql, params).fetchall()]

    @contextmanager
    def transaction(self, *setup: str) -> Iterator[Db]:
        """A transaction, its `setup` statements sent first (`SET TRANSACTION ...`, `SET LOCAL
        ...`): committed when the block ends, rolled back if it raises. On SQLite it begins
        IMMEDIATE, so the rows it reads cannot change before it writes."""
        if self._in_tx:
            raise RuntimeError("a transaction is already open on this connection")
        conn = self.connection
        self._in_tx = True
        try:
            if self.dialect == "postgresql":
                with conn.transaction():
                    for sql in setup:
                        self.execute(sql)
                    yield self
            else:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for sql in setup:
                        self.execute(sql)
                    yield self
                except BaseException:
                    if conn.in_transaction:  # SQLite may have rolled back already (disk full,
                        conn.execute("ROLLBACK")  # ON CONFLICT ROLLBACK): its error stands
                    raise
                conn.execute("COMMIT")
        finally:
            self._in_tx = False

    def lock(self, job_id: str) -> None:
        """Take the job's lock for as long as this connection lives, or raise Skipped.

        PostgreSQL: a session-level advisory lock on this connection (a killed pod's lock goes
        with its connection). SQLite: an flock on a file beside the database (same host only;
        an in-memory database needs no lock)."""
        if self.dialect == "postgresql":
            key = lock_key(job_id)
            if not self.scalar("SELECT pg_try_advisory_lock(:k)", {"k": key}):
                raise Skipped(
                    f"another run of {job_id} is in progress (advisory lock held); skipped"
                )
            self._locked = (self.connection, key)
            return
        database = self.target.path
        if self.target.uri:  # file:PATH?mode=...: the file is PATH
            database, _, query = database.removeprefix("file:").partition("?")
            if "mode=memory" in query:
                return
        if database in ("", ":memory:"):
            return
        path = f"{database}.{job_id}.lock"
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise Skipped(
                f"another run of {job_id} is in progress ({path} is locked); skipped"
            ) from None
        self._lock_fd = fd

    def hand_over(self) -> Any:
        """Give this connection (and the lock it holds) to its new owner, out of autocommit:
        SQLAlchemy's pool, for `ctx.engine`. This Db opens a new connection if used again."""
        conn, self._conn = self.connection, None
        if self.dialect == "postgresql":
            conn.autocommit = False
        return conn

    def release(self) -> None:
        """Release the job's lock now: a file lock, or an advisory lock wherever its connection
        went (`hand_over`) if that connection is still open and idle (closing it would release
        it too, but the server does so only once the session has ended, a moment after)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        locked, self._locked = self._locked, None
        if locked is None:
            return
        conn, key = locked
        try:
            if conn.closed or conn.info.transaction_status != 0:  # not IDLE: its close releases it
                return
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            if not conn.autocommit:
                conn.commit()
        except Exception:
            log.debug("releasing the advisory lock failed", exc_info=True)

    def close(self) -> None:
        """Release the lock and close the connection."""
        self.release()
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("closing the database connection failed", exc_info=True)


def lock_key(job_id: str) -> int:
    """A stable 64-bit advisory lock key per job."""
    digest = hashlib.sha256(f"cronjobs:{job_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def quote(name: str) -> str:
    """An identifier (a table, schema or column name) quoted for SQL, on either dialect."""
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str | None, name: str) -> str:
    """A table quoted, in `schema` if given: `"schema"."name"` or `"name"`."""
    return (f"{quote(schema)}." if schema else "") + quote(name)
