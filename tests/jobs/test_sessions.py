"""cleanup-old-sessions on SQLite and a real PostgreSQL 15."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from jobs.models import ChatMessage, ChatSession, PeptideInfoSession
from jobs.sessions import cleanup_old_sessions
from tests.jobs.helpers import NOW, count, insert_sessions, invoke

CUTOFF = NOW - timedelta(days=90)
SECOND = timedelta(seconds=1)


def remaining_ids(engine: Engine, model: type) -> set[int]:
    with engine.connect() as conn:
        return set(conn.scalars(select(model.id)))


def test_boundary_last_activity_and_null_updated_at(engine: Engine) -> None:
    insert_sessions(
        engine,
        [
            # id, created_at, updated_at
            (1, CUTOFF - SECOND, None),  # old by creation, never updated: deleted
            (2, CUTOFF, None),  # exactly at the cutoff: not older, kept
            (3, CUTOFF + SECOND, None),  # newer: kept
            (
                4,
                CUTOFF - timedelta(days=300),
                CUTOFF - SECOND,
            ),  # last active before cutoff: deleted
            (
                5,
                CUTOFF - timedelta(days=300),
                CUTOFF + SECOND,
            ),  # created long ago, active since: kept
            (6, CUTOFF - timedelta(days=300), CUTOFF),  # last activity exactly at cutoff: kept
        ],
        messages_per_session=3,
    )
    result = cleanup_old_sessions(engine, now=NOW)
    assert remaining_ids(engine, ChatSession) == {2, 3, 5, 6}
    assert remaining_ids(engine, PeptideInfoSession) == {2, 3, 5, 6}
    chat, peptide = result.tables
    assert (chat.table, chat.deleted, chat.children_deleted) == ("chat_sessions", 2, 6)
    assert (peptide.table, peptide.deleted) == ("peptide_info_sessions", 2)
    # Child rows went with their parents, and only theirs.
    with engine.connect() as conn:
        assert set(conn.scalars(select(ChatMessage.session_id).distinct())) == {2, 3, 5, 6}


def test_batches_idempotence_and_dry_run(engine: Engine) -> None:
    rows = [(i, CUTOFF - timedelta(days=i), None) for i in range(1, 12)]
    rows += [(i, CUTOFF + timedelta(days=1), None) for i in range(12, 15)]
    insert_sessions(engine, rows, messages_per_session=2)

    dry = cleanup_old_sessions(engine, now=NOW, dry_run=True)
    assert [t.deleted for t in dry.tables] == [11, 11]
    assert dry.tables[0].children_deleted == 22
    assert count(engine, ChatSession) == 14 and count(engine, ChatMessage) == 28

    first = cleanup_old_sessions(engine, now=NOW, batch_size=4)
    assert first.tables[0].batches == 3  # 4 + 4 + 3
    assert [t.deleted for t in first.tables] == [11, 11]
    second = cleanup_old_sessions(engine, now=NOW, batch_size=4)
    assert [t.deleted for t in second.tables] == [0, 0]
    assert remaining_ids(engine, ChatSession) == {12, 13, 14}
    assert count(engine, ChatMessage) == 6


def test_cli_runs_the_job_and_reports_json(engine: Engine, db_url: str) -> None:
    now = datetime.now(UTC)
    insert_sessions(engine, [(1, now - timedelta(days=400), None), (2, now, None)])
    result = invoke(
        "cleanup-old-sessions", "--batch-size", "1", "-o", "json", env={"DATABASE_URL": db_url}
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["exit_code"] == 0 and data["interrupted"] is False
    assert [(t["table"], t["deleted"]) for t in data["tables"]] == [
        ("chat_sessions", 1),
        ("peptide_info_sessions", 1),
    ]
    assert remaining_ids(engine, ChatSession) == {2}
    # Every log line is JSON on stderr with the job and run id.
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert {line["job"] for line in lines} == {"cleanup-old-sessions"}
    assert len({line["run_id"] for line in lines}) == 1
    assert any(line["message"] == "batch committed" for line in lines)


def test_cli_dry_run_changes_nothing(engine: Engine, db_url: str) -> None:
    insert_sessions(engine, [(1, NOW - timedelta(days=400), None)], messages_per_session=2)
    result = invoke("cleanup-old-sessions", "--dry-run", env={"DATABASE_URL": db_url})
    assert result.exit_code == 0, result.stderr
    assert "chat_sessions: would delete 1 rows and 2 child rows" in result.stdout
    assert count(engine, ChatSession) == 1 and count(engine, ChatMessage) == 2


def test_seed_snake_case_name_still_works(engine: Engine, db_url: str) -> None:
    result = invoke("cleanup_old_sessions", "--dry-run", env={"DATABASE_URL": db_url})
    assert result.exit_code == 0, result.stderr
    assert "chat_sessions: would delete 0 rows" in result.stdout
