"""Two runs of the same job at once never both work: the second reports it skipped (exit 3)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text

from cronjobs.dbapi import Db, lock_key, parse
from cronjobs.retention.models import metadata
from tests.jobs.helpers import invoke


def test_postgres_advisory_lock_makes_the_second_run_skip(
    pg_engine: Engine, pg_db_url: str
) -> None:
    url = pg_db_url
    with pg_engine.connect() as other_run:
        other_run.execute(
            text("SELECT pg_advisory_lock(:k)"), {"k": lock_key("cleanup_old_sessions")}
        )
        result = invoke("cleanup-old-sessions", env={"DATABASE_URL": url})
        assert result.exit_code == 3
        assert "another run of cleanup_old_sessions is in progress" in result.stderr
        # A different job is not blocked by it.
        other = invoke("cleanup-old-analytics", env={"DATABASE_URL": url})
        assert other.exit_code == 0, other.stderr
        other_run.execute(text("SELECT pg_advisory_unlock_all()"))
    again = invoke("cleanup-old-sessions", env={"DATABASE_URL": url})
    assert again.exit_code == 0, again.stderr


def test_sqlite_file_lock_makes_the_second_run_skip(tmp_path: Path) -> None:
    from cronjobs.database import connect

    db = tmp_path / "app.db"
    metadata.create_all(connect(f"sqlite:///{db}"))
    fd = os.open(f"{db}.cleanup_old_sessions.lock", os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        result = invoke("cleanup-old-sessions", env={"DATABASE_URL": f"sqlite:///{db}"})
        assert result.exit_code == 3
        assert "is locked); skipped" in result.stderr
        dry = invoke("cleanup-old-sessions", "--dry-run", env={"DATABASE_URL": f"sqlite:///{db}"})
        assert dry.exit_code == 0, "a dry run reads only and needs no lock"
    finally:
        os.close(fd)


def _run_db(url: str) -> Db:
    from cronjobs.settings import parse_database_url

    return Db(parse(parse_database_url(url)))


def test_the_lock_is_released_when_the_runs_connection_closes(
    pg_engine: Engine, pg_db_url: str
) -> None:
    key = {"k": lock_key("health_check_job")}
    run = _run_db(pg_db_url)
    with pg_engine.connect() as conn:
        run.lock("health_check_job")
        assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), key).scalar() is False
        run.close()
        assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), key).scalar() is True
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), key)


def test_an_engine_works_on_the_connection_that_holds_the_lock(pg_db_url: str) -> None:
    """One connection per run (issue 15): an app job's engine gets the run's own connection
    first, so its transactions run where the lock is held and the run pays for one connect."""
    from cronjobs.database import connect
    from cronjobs.settings import parse_database_url

    run = _run_db(pg_db_url)
    run.lock("aggregate_daily_analytics")
    engine = connect(parse_database_url(pg_db_url), first=run)
    connects: list[object] = []
    event.listen(engine.pool, "connect", lambda dbapi_conn, _record: connects.append(dbapi_conn))
    try:
        with engine.begin() as work:
            mine = work.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND pid = pg_backend_pid()"
                )
            ).scalar()
        assert mine == 1, "the work's own connection holds the job's advisory lock"
        assert len(connects) == 1, "the lock and the work share one connection"
    finally:
        engine.dispose()
        run.close()


def test_the_lock_is_held_while_its_connection_waits_in_the_pool(
    pg_engine: Engine, pg_db_url: str
) -> None:
    """Between the work's transactions the lock's connection sits idle in the engine's pool:
    the lock stays held there for the whole run, and a second run still exits 3."""
    from cronjobs.database import connect
    from cronjobs.settings import parse_database_url

    run = _run_db(pg_db_url)
    run.lock("cleanup_old_sessions")
    engine = connect(parse_database_url(pg_db_url), first=run)
    try:
        for _ in range(3):
            with engine.begin() as conn:
                conn.execute(text("SELECT 1"))
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        second = invoke("cleanup-old-sessions", env={"DATABASE_URL": pg_db_url})
        assert second.exit_code == 3
        assert "another run of cleanup_old_sessions is in progress" in second.stderr
    finally:
        engine.dispose()
        run.close()
    after = invoke("cleanup-old-sessions", env={"DATABASE_URL": pg_db_url})
    assert after.exit_code == 0, after.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_lock_is_released_before_the_runs_summary_and_ping(
    backend: str, tmp_path: Path, pg_engine: Engine, pg_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow dead-man's-switch ping must not hold the lock: the next run may start as soon as
    the work is done (as when the lock was a block around the work)."""
    from cronjobs import pings
    from cronjobs.database import connect

    url = pg_db_url
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/app.db"
        metadata.create_all(connect(url))
    seen: list[str] = []

    def lock_is_free() -> bool:
        if backend == "sqlite":
            fd = os.open(f"{tmp_path}/app.db.cleanup_old_sessions.lock", os.O_CREAT | os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False
            finally:
                os.close(fd)
        with pg_engine.connect() as conn:
            key = {"k": lock_key("cleanup_old_sessions")}
            free = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), key).scalar())
            if free:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), key)
            return free

    def notify(_url: str, event: str, *_: object, **__: object) -> bool:
        seen.append(f"{event}: {'free' if lock_is_free() else 'held'}")
        return True

    monkeypatch.setattr(pings, "notify", notify)
    env = {"DATABASE_URL": url, "CRONJOBS_PING_URL": "https://hc-ping.com/abc-123"}
    result = invoke("cleanup-old-sessions", env=env)
    assert result.exit_code == 0, result.stderr
    assert seen == ["start: free", "success: free"]
