"""SIGTERM mid-run (what Kubernetes sends at activeDeadlineSeconds or on node drain)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from sqlalchemy import Engine, text

from tests.jobs.helpers import REPO, cronjobs

SESSIONS = 40_000


def test_sigterm_finishes_the_batch_in_hand_and_the_next_run_completes(
    pg_engine: Engine, pg_db_url: str
) -> None:
    url, engine = pg_db_url, pg_engine
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO chat_sessions (id, user_id, created_at) "
                "SELECT g, 'u', now() - interval '200 days' FROM generate_series(1, :n) g"
            ),
            {"n": SESSIONS},
        )
        conn.execute(
            text(
                "INSERT INTO chat_messages (session_id, role, content, created_at) "
                "SELECT g, 'user', 'hi', now() FROM generate_series(1, :n) g"
            ),
            {"n": SESSIONS},
        )

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CRONJOBS_"))}
    env.update(DATABASE_URL=url, CRONJOBS_LOG_FORMAT="json")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cronjobs",
            "cleanup-old-sessions",
            "--batch-size",
            "10",
            "--batch-time",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.stderr is not None
    log = []
    for line in proc.stderr:
        log.append(json.loads(line))
        if log[-1]["message"] == "batch committed":
            proc.send_signal(signal.SIGTERM)
            break
    stdout, rest = proc.communicate(timeout=60)
    log += [json.loads(line) for line in rest.splitlines()]

    assert proc.returncode == 4, rest
    assert "interrupted: committed batches stay; the next run completes the work" in stdout
    assert any(entry["message"].startswith("received SIGTERM") for entry in log)
    assert log[-1]["message"] == "finished" and log[-1]["exit_code"] == 4
    with engine.connect() as conn:
        sessions = conn.scalar(text("SELECT count(*) FROM chat_sessions"))
        orphans = conn.scalar(
            text(
                "SELECT count(*) FROM chat_messages m LEFT JOIN chat_sessions s ON s.id = m.session_id "
                "WHERE s.id IS NULL"
            )
        )
        messages = conn.scalar(text("SELECT count(*) FROM chat_messages"))
    assert 0 < sessions < SESSIONS, "stopped part-way, with the committed batches kept"
    assert sessions % 10 == 0, "whole batches only"
    assert orphans == 0 and messages == sessions, "each batch took its children with it"

    again = cronjobs("cleanup-old-sessions", env={"DATABASE_URL": url})
    assert again.returncode == 0, again.stderr
    assert f"chat_sessions: deleted {sessions} rows and {sessions} child rows" in again.stdout
