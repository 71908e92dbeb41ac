"""Two runs of the same job at once never both work: the second reports it skipped (exit 3)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text

from cronjobs.database import lock_key
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


def test_the_lock_is_released_when_the_run_ends(pg_engine: Engine, pg_db_url: str) -> None:
    from cronjobs.database import connect, exclusive
    from cronjobs.settings import parse_database_url

    observer = connect(parse_database_url(pg_db_url))
    key = {"k": lock_key("health_check_job")}
    with observer.connect() as conn:
        with exclusive(pg_engine, "health_check_job"):
            assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), key).scalar() is False
        # The run's pooled connection is still open, yet the lock is free again.
        assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), key).scalar() is True
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), key)
    observer.dispose()


def test_the_lock_is_taken_on_the_connection_the_work_then_uses(pg_db_url: str) -> None:
    """One connection per run (issue 15): the work's transactions run on the connection that
    holds the lock, so a run pays for one connect, not a second one just for the lock."""
    from cronjobs.database import connect, exclusive
    from cronjobs.settings import parse_database_url

    engine = connect(parse_database_url(pg_db_url))
    connects: list[object] = []
    event.listen(engine.pool, "connect", lambda dbapi_conn, _record: connects.append(dbapi_conn))
    try:
        with exclusive(engine, "aggregate_daily_analytics"), engine.begin() as work:
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


def test_the_lock_is_held_while_its_connection_waits_in_the_pool(
    pg_engine: Engine, pg_db_url: str
) -> None:
    """Between the work's transactions the lock's connection sits idle in the pool: the lock
    stays held there for the whole run, and a second run still exits 3."""
    from cronjobs.database import exclusive

    with exclusive(pg_engine, "cleanup_old_sessions"):
        for _ in range(3):
            with pg_engine.begin() as conn:
                conn.execute(text("SELECT 1"))
        assert pg_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        second = invoke("cleanup-old-sessions", env={"DATABASE_URL": pg_db_url})
        assert second.exit_code == 3
        assert "another run of cleanup_old_sessions is in progress" in second.stderr
    after = invoke("cleanup-old-sessions", env={"DATABASE_URL": pg_db_url})
    assert after.exit_code == 0, after.stderr


def test_a_lock_lost_with_its_connection_is_reported(
    pg_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """If the pool closes the connection holding the lock mid-run (here engine.dispose()), the
    server has released the lock: the run says so instead of pretending to hold it."""
    from cronjobs.database import connect, exclusive
    from cronjobs.settings import parse_database_url

    engine = connect(parse_database_url(pg_db_url))
    observer = connect(parse_database_url(pg_db_url))
    key = {"k": lock_key("cleanup_old_analytics")}
    try:
        with exclusive(engine, "cleanup_old_analytics"):
            engine.dispose()
            with observer.connect() as conn:
                assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), key).scalar()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), key)
        assert "the connection holding the lock of cleanup_old_analytics closed" in caplog.text
    finally:
        engine.dispose()
        observer.dispose()


def test_an_engine_not_made_by_connect_gets_a_lock_connection_of_its_own(
    pg_db_url: str,
) -> None:
    """An engine whose pool may close returned connections (here NullPool, which closes every
    one) keeps the lock on a connection held for the whole block, as before issue 15."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from cronjobs.database import connect, exclusive
    from cronjobs.settings import parse_database_url

    url = parse_database_url(pg_db_url)
    engine = create_engine(url, poolclass=NullPool)
    observer = connect(url)
    key = {"k": lock_key("cleanup_old_analytics")}
    try:
        with observer.connect() as conn:
            with exclusive(engine, "cleanup_old_analytics"):
                with engine.begin() as work:
                    work.execute(text("SELECT 1"))  # a connection opened and closed
                held = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), key).scalar()
                assert held is False, "still held after the work's connection closed"
            assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), key).scalar() is True
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), key)
    finally:
        engine.dispose()
        observer.dispose()
