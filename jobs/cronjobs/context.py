"""What a registered job function receives, and how its return value becomes a run's result.

`JobContext` carries the run's settings, a database engine and a session factory (connected
before the run when the job needs the database, else on first use), a Redis client (on first
use), the stop event SIGTERM sets, `dry_run`, the job's own typed options (`ctx.options`), the
extra arguments, and a logger whose lines carry the job and run id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cronjobs.exitcodes import ExitCode
from cronjobs.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from cronjobs.dbapi import Db


@dataclass
class JobContext:
    job: str
    """The job's subcommand name."""
    settings: Settings
    stop: threading.Event
    """Set by SIGTERM (a node drain, activeDeadlineSeconds): a sync job checks it between
    steps; an async job is cancelled at its next await instead."""
    dry_run: bool = False
    args: tuple[str, ...] = ()
    """Extra command-line arguments after the job's options."""
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("cronjobs.app"))
    options: Mapping[str, Any] = field(default_factory=dict)
    """The values of the job's own flags (`@job(options=[...])`) by parameter name, converted
    by their click types (`--older-than-days 30` is `ctx.options["older_than_days"] == 30`);
    a flag not given has its default."""
    fixed_now: datetime | None = None
    """The instant `now` stands for, when a caller fixes it (the demo, a test)."""
    _engine: Engine | None = field(default=None, repr=False)
    _db: Db | None = field(default=None, repr=False)
    _redis: Any = field(default=None, repr=False)

    @property
    def now(self) -> datetime:
        """The current time, UTC (or `fixed_now`): what the run measures ages from."""
        return self.fixed_now or datetime.now(UTC)

    @property
    def scheduled_at(self) -> datetime:
        """The scheduled time this run belongs to, UTC: the controller's tick for a scheduled
        run (however late it started), what cronctl set for a manual or backfill run, else
        the run's start (jobs/cronjobs/tick.py). Work on the tick's window, not the wall clock's."""
        from cronjobs import tick

        return tick.this_run().at

    @property
    def db(self) -> Db:
        """The run's own connection to DATABASE_URL (psycopg 3 or sqlite3, no SQLAlchemy;
        UTC, bounded connect and lock waits): `ctx.db.rows("SELECT ... WHERE x < :cutoff",
        {"cutoff": ...})`, `with ctx.db.transaction() as tx: ...`. The built-in jobs use it; a
        job started by `cronjobs` holds its lock on it."""
        if self._db is None:
            from cronjobs.dbapi import Db, parse, require_existing

            url = self.settings.require_database()
            require_existing(url)
            s = self.settings
            self._db = Db(parse(url, s.timeout, s.lock_timeout), s.lock_timeout)
        return self._db

    @property
    def engine(self) -> Engine:
        """A SQLAlchemy engine on DATABASE_URL (UTC, bounded connect and lock waits); on
        PostgreSQL its first connection is the run's own (`db`), which holds the job's lock."""
        if self._engine is None:
            from cronjobs.database import connect

            url = self.settings.require_database()
            first = self.db
            self._engine = connect(url, self.settings.timeout, self.settings.lock_timeout, first)
        return self._engine

    @property
    def session(self) -> sessionmaker[Session]:
        """A session factory on `engine`: `with ctx.session() as s, s.begin(): ...`."""
        from sqlalchemy.orm import sessionmaker

        return sessionmaker(self.engine)

    @property
    def redis(self) -> Any:
        """A redis-py client on REDIS_URL."""
        if self._redis is None:
            from cronjobs.redis_client import connect

            self._redis = connect(self.settings.require_redis(), self.settings.timeout)
        return self._redis

    def close(self) -> None:
        if self._db is not None:
            self._db.release()  # on the engine's pooled connection, if it went there
        if self._engine is not None:
            self._engine.dispose()
        if self._db is not None:
            self._db.close()
        if self._redis is not None:
            self._redis.close()


def is_report(value: Any) -> bool:
    """Whether a job's return value is a result of its own: an `exit_code` cronjobs uses (0-4)
    and `lines()`, as the built-ins return. It is then printed as it is (text and JSON) and
    gives the exit code, interruption included."""
    return callable(getattr(value, "lines", None)) and getattr(value, "exit_code", None) in (
        ExitCode.OK,
        ExitCode.FAILED,
        ExitCode.USAGE,
        ExitCode.SKIPPED,
        ExitCode.INTERRUPTED,
    )


@dataclass
class JobResult:
    """A registered job's outcome: what it returned, as lines and counts."""

    job: str
    returned: Any = None
    dry_run: bool = False
    interrupted: bool = False

    @property
    def report(self) -> Any:
        """What `-o json` prints: the returned object when it is a result of its own
        (`is_report`), else this."""
        return self.returned if is_report(self.returned) else self

    @property
    def exit_code(self) -> ExitCode:
        """The returned object's `exit_code` when it is one `cronjobs` uses (0-4), else 1."""
        if is_report(self.returned):
            return ExitCode(self.returned.exit_code)
        if self.interrupted:
            return ExitCode.INTERRUPTED
        code = getattr(self.returned, "exit_code", ExitCode.OK)
        ours = (
            ExitCode.OK,
            ExitCode.FAILED,
            ExitCode.USAGE,
            ExitCode.SKIPPED,
            ExitCode.INTERRUPTED,
        )
        return ExitCode(code) if code in ours else ExitCode.FAILED

    def counts(self) -> dict[str, int]:
        """The whole numbers the job returned (a dict's, or its result's `counts()`)."""
        from cronjobs.summary import counts_of, whole_numbers

        if isinstance(self.returned, dict):
            return whole_numbers(self.returned)
        return counts_of(self.returned)

    def lines(self) -> list[str]:
        value = self.returned
        if is_report(value):
            return list(value.lines())
        if hasattr(value, "lines"):
            out = list(value.lines())
        elif isinstance(value, dict):
            out = [f"{k}: {v}" for k, v in value.items()]
        elif value is None:
            out = ["dry run: nothing changed" if self.dry_run else "done"]
        else:
            out = [str(value)]
        if self.interrupted:
            from cronjobs.signals import received

            by = received()  # the signal that stopped it: SIGTERM, or SIGINT (Ctrl-C)
            out.append(
                f"interrupted by {by.name if by else 'a stop request'}: work committed before "
                "stays; the next run goes on"
            )
        return out
