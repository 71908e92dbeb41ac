"""Helpers for the jobs' tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, func, insert, select

from cronjobs.dbapi import Db, parse
from cronjobs.retention.models import chat_messages, chat_sessions, peptide_info_sessions

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC)
_OURS = ("DATABASE_", "REDIS_", "QDRANT_", "CRONJOBS_")


def pg_url(proc: Any, dbname: str, password: str | None = None) -> str:
    auth = proc.user if password is None else f"{proc.user}:{password}"
    return f"postgresql://{auth}@{proc.host}:{proc.port}/{dbname}"


def cronjobs(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real `cronjobs` entrypoint in a subprocess, as a pod would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    full_env.update({"CRONJOBS_LOG_FORMAT": "json", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "cronjobs", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    """Run `cronjobs` in-process with click's runner; returns exit_code, stdout, stderr."""
    from click.testing import CliRunner

    from cronjobs.cli import cli

    clean: dict[str, str | None] = {k: None for k in os.environ if k.startswith(_OURS)}
    return CliRunner().invoke(cli, ["--log-format", "json", *args], env={**clean, **(env or {})})


def insert_sessions(
    engine: Engine, rows: list[tuple[int, datetime, datetime | None]], messages_per_session: int = 0
) -> None:
    """Insert chat sessions and peptide info sessions with the same ids and timestamps."""
    sessions = [{"id": i, "user_id": f"u{i}", "created_at": c, "updated_at": u} for i, c, u in rows]
    with engine.begin() as conn:
        conn.execute(insert(chat_sessions), sessions)
        conn.execute(insert(peptide_info_sessions), [{**s, "peptide": "BPC-157"} for s in sessions])
        messages = [
            {"session_id": i, "role": "user", "content": "hi", "created_at": c}
            for i, c, _ in rows
            for _ in range(messages_per_session)
        ]
        if messages:
            conn.execute(insert(chat_messages), messages)


def count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)


__all__ = ["NOW", "REPO", "count", "cronjobs", "insert_sessions", "invoke", "pg_url", "timedelta"]


@contextmanager
def job_db(engine: Engine) -> Iterator[Db]:
    """The run's own connection (`ctx.db`, a cronjobs.dbapi.Db) to `engine`'s database: what a
    run hands the built-in jobs' code, rather than an engine."""
    db = Db(parse(engine.url.render_as_string(hide_password=False)))
    try:
        yield db
    finally:
        db.close()


def modules_loaded_by(args: list[str], url: str) -> set[str]:
    """Every module `cronjobs ARGS` imported, run to its end in a fresh process."""
    code = (
        "import sys; from cronjobs.entry import main; sys.argv = ['cronjobs', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "print('EXIT', code, 'LOADED', ' '.join(sorted(sys.modules)))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env = {k: v for k, v in env.items() if not k.startswith(("QDRANT_", "CRONJOBS_"))}
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**env, "DATABASE_URL": url},
        check=True,
    ).stdout
    exit_code, loaded = out.rsplit("EXIT", 1)[1].split("LOADED")
    assert exit_code.strip() == "0", out
    return set(loaded.split())
