"""Real servers for the jobs' tests: PostgreSQL 15 and Redis, started by the suite itself
(pytest-postgresql, pytest-redis), SQLite files, and Qdrant's
embedded local mode. Helpers are in helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_postgresql import factories
from sqlalchemy import Engine

from cronjobs.dbapi import Db
from cronjobs.retention.models import metadata
from tests.jobs.helpers import job_db, pg_url

PG_CTL = Path(__file__).resolve().parent.parent / "pg_ctl"

postgresql_proc = factories.postgresql_proc(executable=str(PG_CTL))
postgresql = factories.postgresql("postgresql_proc")


@pytest.fixture
def pg_db_url(postgresql: Any, postgresql_proc: Any) -> str:
    """An empty PostgreSQL database, as the URL a user would give in DATABASE_URL."""
    return pg_url(postgresql_proc, postgresql.info.dbname)


@pytest.fixture
def pg_engine(pg_db_url: str) -> Iterator[Engine]:
    """An engine on `pg_db_url` with the app's schema created."""
    yield from _engine_with_schema(pg_db_url)


@pytest.fixture
def pg_run_db(pg_engine: Engine) -> Iterator[Db]:
    """The run's own connection (cronjobs.dbapi.Db) to `pg_engine`'s database."""
    with job_db(pg_engine) as db:
        yield db


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind, as the URL a user would give in DATABASE_URL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return str(request.getfixturevalue("pg_db_url"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on `db_url` with the app's schema created."""
    yield from _engine_with_schema(db_url)


@pytest.fixture
def run_db(engine: Engine) -> Iterator[Db]:
    """The run's own connection (cronjobs.dbapi.Db) to `engine`'s database."""
    with job_db(engine) as db:
        yield db


def _engine_with_schema(url: str) -> Iterator[Engine]:
    from cronjobs.database import connect
    from cronjobs.settings import parse_database_url

    eng = connect(parse_database_url(url))
    metadata.create_all(eng)
    yield eng
    eng.dispose()
