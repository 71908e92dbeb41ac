"""cleanup-old-sessions on SQLite and a real PostgreSQL 15."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, Table, select, text

from cronjobs.builtin.sessions import cleanup as cleanup_old_sessions
from cronjobs.dbapi import Db
from cronjobs.retention.models import chat_messages, chat_sessions, peptide_info_sessions
from tests.jobs.helpers import NOW, count, insert_sessions, invoke

CUTOFF = NOW - timedelta(days=90)
SECOND = timedelta(seconds=1)


def remaining_ids(engine: Engine, table: Table) -> set[int]:
    with engine.connect() as conn:
        return set(conn.scalars(select(table.c.id)))


def test_boundary_last_activity_and_null_updated_at(engine: Engine, run_db: Db) -> None:
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
    result = cleanup_old_sessions(run_db, now=NOW)
    assert remaining_ids(engine, chat_sessions) == {2, 3, 5, 6}
    assert remaining_ids(engine, peptide_info_sessions) == {2, 3, 5, 6}
    chat, peptide = result.tables
    assert (chat.table, chat.deleted, chat.children_deleted) == ("chat_sessions", 2, 6)
    assert (peptide.table, peptide.deleted) == ("peptide_info_sessions", 2)
    # Child rows went with their parents, and only theirs.
    with engine.connect() as conn:
        assert set(conn.scalars(select(chat_messages.c.session_id).distinct())) == {2, 3, 5, 6}


def test_batches_idempotence_and_dry_run(engine: Engine, run_db: Db) -> None:
    rows = [(i, CUTOFF - timedelta(days=i), None) for i in range(1, 12)]
    rows += [(i, CUTOFF + timedelta(days=1), None) for i in range(12, 15)]
    insert_sessions(engine, rows, messages_per_session=2)

    dry = cleanup_old_sessions(run_db, now=NOW, dry_run=True)
    assert [t.deleted for t in dry.tables] == [11, 11]
    assert dry.tables[0].children_deleted == 22
    assert count(engine, chat_sessions) == 14 and count(engine, chat_messages) == 28

    first = cleanup_old_sessions(run_db, now=NOW, batch_size=4, batch_time=0)
    assert first.tables[0].batches == 3  # 4 + 4 + 3
    assert [t.deleted for t in first.tables] == [11, 11]
    second = cleanup_old_sessions(run_db, now=NOW, batch_size=4, batch_time=0)
    assert [t.deleted for t in second.tables] == [0, 0]
    assert remaining_ids(engine, chat_sessions) == {12, 13, 14}
    assert count(engine, chat_messages) == 6


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
    assert remaining_ids(engine, chat_sessions) == {2}
    # Every log line is JSON on stderr with the job and run id.
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert {line["job"] for line in lines} == {"cleanup-old-sessions"}
    assert len({line["run_id"] for line in lines}) == 1
    assert any(line["message"] == "batch committed" for line in lines)


def test_cli_dry_run_changes_nothing(engine: Engine, db_url: str) -> None:
    insert_sessions(engine, [(1, NOW - timedelta(days=400), None)], messages_per_session=2)
    result = invoke("cleanup-old-sessions", "--dry-run", env={"DATABASE_URL": db_url})
    assert result.exit_code == 0, result.stderr
    assert "chat_sessions: would delete 1 row and 2 child rows\n" in result.stdout
    assert count(engine, chat_sessions) == 1 and count(engine, chat_messages) == 2


def test_seed_snake_case_name_still_works(engine: Engine, db_url: str) -> None:
    result = invoke("cleanup_old_sessions", "--dry-run", env={"DATABASE_URL": db_url})
    assert result.exit_code == 0, result.stderr
    assert "chat_sessions: would delete 0 rows\n" in result.stdout


def test_children_go_with_parents_without_on_delete_cascade(engine: Engine, run_db: Db) -> None:
    """The jobs delete child rows themselves: a schema whose foreign key has no ON DELETE
    CASCADE (NO ACTION) must work too. (The models declare CASCADE, so drop it here.)"""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text("ALTER TABLE chat_messages DROP CONSTRAINT chat_messages_session_id_fkey")
            )
            conn.execute(
                text(
                    "ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_session_id_fkey "
                    "FOREIGN KEY (session_id) REFERENCES chat_sessions (id)"
                )
            )
        else:  # SQLite: rebuild the table with a plain foreign key, enforced (PRAGMA is on)
            conn.execute(text("DROP TABLE chat_messages"))
            conn.execute(
                text(
                    "CREATE TABLE chat_messages (id INTEGER PRIMARY KEY, session_id INTEGER "
                    "NOT NULL REFERENCES chat_sessions (id), role VARCHAR(16), "
                    "content TEXT, created_at DATETIME)"
                )
            )
    insert_sessions(
        engine, [(1, CUTOFF - SECOND, None), (2, CUTOFF + SECOND, None)], messages_per_session=4
    )
    result = cleanup_old_sessions(run_db, now=NOW)
    assert (result.tables[0].deleted, result.tables[0].children_deleted) == (1, 4)
    assert remaining_ids(engine, chat_sessions) == {2} and count(engine, chat_messages) == 4


def test_a_session_touched_after_the_select_is_kept_with_its_messages(engine: Engine) -> None:
    """The delete re-checks the age: ids selected as old, but active by delete time, stay."""
    from cronjobs.retention.purge import _delete_batch
    from cronjobs.retention.rule_names import DEFAULT_SESSIONS

    insert_sessions(
        engine,
        [(1, CUTOFF - SECOND, None), (2, CUTOFF - SECOND, CUTOFF + SECOND)],
        messages_per_session=2,
    )
    with engine.begin() as conn:
        deleted, children = _delete_batch(conn, DEFAULT_SESSIONS[0], [1, 2], CUTOFF)
    assert (deleted, children) == (1, 2)
    assert remaining_ids(engine, chat_sessions) == {2} and count(engine, chat_messages) == 2
