"""cleanup-old-sessions while the app holds rows, on a real PostgreSQL 15 (issue 9, item 2).

The app is a second connection with a transaction left open, holding a row lock the way the
app would: `SELECT ... FOR UPDATE`, an uncommitted UPDATE, a locked message, or a message being
inserted (which holds a key-share lock on its session). Before SKIP LOCKED, the job's batch
waited on that lock until its lock timeout and failed, and meanwhile an app write to another
row of the same batch waited behind the job.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Table, exc, select, text

from cronjobs.builtin.sessions import cleanup as cleanup_old_sessions
from cronjobs.database import connect
from cronjobs.retention.models import chat_messages, chat_sessions, peptide_info_sessions
from tests.jobs.helpers import NOW, count, insert_sessions, invoke

OLD = NOW - timedelta(days=200)
HELD = 5
HOLDERS = {
    "session locked": "SELECT id FROM chat_sessions WHERE id = :id FOR UPDATE",
    "session updated, not committed": "UPDATE chat_sessions SET title = 'typing' WHERE id = :id",
    "message locked": "SELECT id FROM chat_messages WHERE session_id = :id LIMIT 1 FOR UPDATE",
    "message being inserted": (
        "INSERT INTO chat_messages (session_id, role, content, created_at) "
        "VALUES (:id, 'user', 'typing', now())"
    ),
}


@contextmanager
def app_holding(engine: Engine, statement: str, **params: Any) -> Iterator[Connection]:
    """An app transaction that ran `statement` and stays open (rolled back on exit)."""
    with engine.connect() as conn:
        conn.execute(text(statement), params)
        try:
            yield conn
        finally:
            conn.rollback()


def ids(engine: Engine, table: Table) -> set[int]:
    with engine.connect() as conn:
        return set(conn.scalars(select(table.c.id)))


def drop_cascade(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("ALTER TABLE chat_messages DROP CONSTRAINT chat_messages_session_id_fkey")
        )
        conn.execute(
            text(
                "ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_session_id_fkey "
                "FOREIGN KEY (session_id) REFERENCES chat_sessions (id)"
            )
        )


@pytest.mark.parametrize("cascade", [True, False], ids=["on delete cascade", "no action"])
@pytest.mark.parametrize("holder", list(HOLDERS))
def test_a_row_the_app_holds_is_skipped_counted_and_left_for_the_next_run(
    pg_engine: Engine, pg_db_url: str, holder: str, cascade: bool
) -> None:
    if not cascade:
        drop_cascade(pg_engine)
    insert_sessions(pg_engine, [(i, OLD, None) for i in range(1, 11)], messages_per_session=3)
    env = {"DATABASE_URL": pg_db_url, "CRONJOBS_LOCK_TIMEOUT": "2"}
    with app_holding(pg_engine, HOLDERS[holder], id=HELD):
        run = invoke("cleanup-old-sessions", "--batch-size", "4", "-o", "json", env=env)
        # Checked while the app still holds the row: the job did not wait for it.
        assert run.exit_code == 0, run.stderr
        assert ids(pg_engine, chat_sessions) == {HELD}
        assert ids(pg_engine, peptide_info_sessions) == set()
    chat, peptide = json.loads(run.stdout)["tables"]
    assert (chat["deleted"], chat["children_deleted"], chat["in_use"]) == (9, 27, 1)
    assert (peptide["deleted"], peptide["in_use"]) == (10, 0)
    assert count(pg_engine, chat_messages) == 3, "the held session kept every message"

    again = invoke("cleanup-old-sessions", env=env)
    assert again.exit_code == 0, again.stderr
    assert "chat_sessions: deleted 1 row and 3 child rows in 1 batch\n" in again.stdout
    assert count(pg_engine, chat_sessions) == 0 and count(pg_engine, chat_messages) == 0


def test_the_summary_says_how_many_rows_were_in_use(pg_engine: Engine, pg_db_url: str) -> None:
    insert_sessions(pg_engine, [(i, OLD, None) for i in range(1, 6)], messages_per_session=1)
    with app_holding(pg_engine, HOLDERS["session locked"], id=HELD):
        run = invoke("cleanup-old-sessions", env={"DATABASE_URL": pg_db_url})
    assert run.exit_code == 0, run.stderr
    assert (
        "chat_sessions: deleted 4 rows and 4 child rows in 1 batch; "
        "1 row in use, left for the next run\n"
    ) in run.stdout
    assert "peptide_info_sessions: deleted 5 rows in 1 batch\n" in run.stdout
    lines = [json.loads(line) for line in run.stderr.splitlines()]
    assert [b["in_use"] for b in lines if b["message"] == "batch committed"] == [1, 0]


def test_app_writes_do_not_wait_behind_a_batch_stalled_on_a_held_row(
    pg_engine: Engine, pg_db_url: str
) -> None:
    """The app updates the oldest session still there, again and again, while the job runs:
    that row is usually in the job's current batch. Each update may wait for that batch to
    commit, never for a lock the batch itself waits on. So the app side's lock_timeout (1 s,
    against batches of 20 rows that take milliseconds) is never hit; before the fix, the job's
    second batch waited 3 s (its lock timeout) on the held row while holding rows 21..39."""
    n, held = 2000, 40  # the held row is in the second batch of 20
    insert_sessions(pg_engine, [(i, OLD, None) for i in range(1, n + 1)], messages_per_session=1)
    job_engine = connect(pg_db_url, lock_timeout=3)
    outcome: dict[str, Any] = {}

    def job() -> None:
        try:
            outcome["result"] = cleanup_old_sessions(job_engine, batch_size=20, now=NOW)
        except Exception as e:  # reported by the assertions below
            outcome["error"] = e

    app_errors: list[str] = []
    app_updates = 0
    update = text(
        "UPDATE chat_sessions SET title = 'app' WHERE id = (SELECT min(id) FROM chat_sessions "
        "WHERE id <> :held AND title IS NULL)"
    )
    with app_holding(pg_engine, HOLDERS["session locked"], id=held), pg_engine.connect() as app:
        app = app.execution_options(isolation_level="AUTOCOMMIT")
        app.execute(text("SET lock_timeout = '1s'"))
        thread = threading.Thread(target=job)
        thread.start()
        while thread.is_alive():
            try:
                app.execute(update, {"held": held})
                app_updates += 1
            except exc.OperationalError as e:
                app_errors.append(str(e.orig).splitlines()[0])
                break
        thread.join()
    job_engine.dispose()

    assert app_errors == [], "an app write waited behind the job"
    assert "error" not in outcome, outcome.get("error")
    assert app_updates > 0
    chat = outcome["result"].tables[0]
    left = ids(pg_engine, chat_sessions)
    assert held in left
    # Every session left is one the job found in use (the held one, or one the app was
    # updating at that instant); all the others were deleted.
    assert chat.in_use == len(left) and chat.deleted == n - len(left)
