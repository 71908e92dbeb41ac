"""The example app's own tests of its jobs: no cluster, no `cronjobs` process. `cronjobs.testing`
runs a job as `cronjobs` runs it (lock, async loop, errors, result) on a SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from app.models import Base, SearchDocument, UserSession
from app.services.cron_jobs import purge_expired_tokens, refresh_search_index, send_weekly_digest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from cronjobs.testing import context, run


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/app.db"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    now = datetime.now(UTC)
    with Session(engine) as s, s.begin():
        s.add_all([UserSession(id=1, last_seen_at=now - timedelta(days=31))])
        s.add_all([UserSession(id=2, last_seen_at=now - timedelta(days=1))])
        s.add(SearchDocument(id=1, title="a peptide"))
    engine.dispose()
    return url


def test_purge_deletes_old_sessions_only(database: str) -> None:
    assert run(purge_expired_tokens, database_url=database, dry_run=True).returned == {
        "would_delete": 1
    }
    result = run(purge_expired_tokens, database_url=database)
    assert result.returned == {"deleted": 1} and result.exit_code == 0
    engine = create_engine(database)
    with engine.connect() as conn:
        assert conn.scalars(select(UserSession.id)).all() == [2]
    engine.dispose()
    assert run(purge_expired_tokens, database_url=database).returned == {"deleted": 0}


def test_refresh_indexes_what_is_not_indexed(database: str) -> None:
    assert run(refresh_search_index, database_url=database).returned == {"indexed": 1}
    assert run(refresh_search_index, database_url=database).lines() == ["indexed: 0"]


def test_an_unregistered_function_runs_as_cronjobs_run_runs_it() -> None:
    assert run(send_weekly_digest).lines() == ["done"]


def test_a_context_to_call_the_function_directly(database: str) -> None:
    import asyncio

    ctx = context(database_url=database, dry_run=True)
    try:
        assert asyncio.run(purge_expired_tokens(ctx)) == {"would_delete": 1}
    finally:
        ctx.close()
