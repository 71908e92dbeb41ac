"""Two runs of the same job at once never both work: the second reports it skipped (exit 3)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy import Engine, text

from jobs.database import lock_key
from jobs.models import Base
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
    from jobs.database import connect

    db = tmp_path / "app.db"
    Base.metadata.create_all(connect(f"sqlite:///{db}"))
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
    from jobs.database import connect, exclusive
    from jobs.settings import parse_database_url

    observer = connect(parse_database_url(pg_db_url))
    key = {"k": lock_key("health_check_job")}
    with observer.connect() as conn:
        with exclusive(pg_engine, "health_check_job"):
            assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), key).scalar() is False
        # The run's pooled connection is still open, yet the lock is free again.
        assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), key).scalar() is True
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), key)
    observer.dispose()
