"""cleanup-old-sessions as SQL text on the run's own connection (issue 27 item 3): a run with
the default rules imports no SQLAlchemy, on PostgreSQL and SQLite; the plain names of the
built-in tables are those of their SQLAlchemy binding; a rules file's hostile names are names."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from cronjobs.retention.models import chat_messages, chat_sessions
from tests.jobs.helpers import NOW, count, insert_sessions, invoke, modules_loaded_by


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry run"])
@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_run_with_the_default_rules_imports_no_sqlalchemy(
    backend: str, dry_run: bool, pg_engine: Engine, pg_db_url: str, tmp_path: Path
) -> None:
    url = pg_db_url
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/app.db"
        assert invoke("init-db", "--database-url", url).exit_code == 0
    args = ["cleanup-old-sessions", *(["--dry-run"] if dry_run else [])]
    loaded = modules_loaded_by(args, url)
    assert not {m for m in loaded if m.split(".")[0] == "sqlalchemy"}
    assert ("psycopg" in loaded) == (backend == "postgresql")


def test_the_built_in_names_are_those_of_the_built_in_tables() -> None:
    """DEFAULT_SESSIONS (no models.py) names what tables.SESSIONS binds to models.py."""
    from cronjobs.retention.rule_names import DEFAULT_SESSIONS, names_of
    from cronjobs.retention.tables import SESSIONS

    assert tuple(names_of(rule) for rule in SESSIONS) == DEFAULT_SESSIONS
    chat = DEFAULT_SESSIONS[0]
    assert (chat.table, chat.primary_key, chat.age, chat.mode, chat.stamp) == (
        "chat_sessions",
        "id",
        ("updated_at", "created_at"),
        "first_of",
        "timestamptz",
    )
    assert [(c.table, c.foreign_key) for c in chat.children] == [("chat_messages", "session_id")]


def test_a_rules_file_with_hostile_names_deletes_by_those_names(
    tmp_path: Path, db_url: str, engine: Engine
) -> None:
    """A table, key, age column and child named with quotes, spaces and SQL: each is quoted in
    the SQL text, the rows go (children too), and nothing else is touched."""
    table, key, age = 'we"ird; DROP TABLE keep; --', "the key", 'la"st'
    child, fk = "child's rows", 'p"arent'
    q = lambda n: '"' + n.replace('"', '""') + '"'  # noqa: E731
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE keep (id INTEGER PRIMARY KEY)"))
        conn.execute(
            text(f"CREATE TABLE {q(table)} ({q(key)} INTEGER PRIMARY KEY, {q(age)} TIMESTAMP)")
        )
        conn.execute(
            text(
                f"CREATE TABLE {q(child)} (id INTEGER PRIMARY KEY, {q(fk)} INTEGER NOT NULL "
                f"REFERENCES {q(table)} ({q(key)}))"
            )
        )
        conn.execute(text(f"CREATE INDEX ix_child ON {q(child)} ({q(fk)})"))
        conn.execute(text(f"CREATE INDEX ix_age ON {q(table)} ({q(age)})"))
        now = datetime.now(UTC)
        old, recent = now - timedelta(days=400), now - timedelta(days=1)
        for i, at in ((1, old), (2, old), (3, recent)):
            conn.execute(
                text(f"INSERT INTO {q(table)} ({q(key)}, {q(age)}) VALUES (:i, :at)"),
                {"i": i, "at": at.replace(tzinfo=None)},
            )
            conn.execute(text(f"INSERT INTO {q(child)} (id, {q(fk)}) VALUES (:i, :i)"), {"i": i})
    rules = tmp_path / "rules.toml"
    rules.write_text(
        "[[cleanup-old-sessions]]\n"
        f"table = {json.dumps(table)}\nprimary_key = {json.dumps(key)}\n"
        f"age = {json.dumps(age)}\ndays = 90\n"
        f"children = [{{ table = {json.dumps(child)}, foreign_key = {json.dumps(fk)} }}]\n"
    )
    env = {"DATABASE_URL": db_url, "CRONJOBS_RULES": str(rules)}
    dry = invoke("cleanup-old-sessions", "--dry-run", "-o", "json", env=env)
    assert dry.exit_code == 0, dry.stderr
    shown = json.loads(dry.stdout)["tables"][0]
    assert (shown["table"], shown["deleted"], shown["children_deleted"]) == (table, 2, 2)
    run = invoke("cleanup-old-sessions", "--batch-size", "1", "-o", "json", env=env)
    assert run.exit_code == 0, run.stderr
    done = json.loads(run.stdout)["tables"][0]
    assert (done["deleted"], done["children_deleted"], done["batches"]) == (2, 2, 2)
    with engine.connect() as conn:
        assert conn.scalar(text(f"SELECT {q(key)} FROM {q(table)}")) == 3
        assert conn.scalar(text(f"SELECT {q(fk)} FROM {q(child)}")) == 3
        assert conn.scalar(text("SELECT count(*) FROM keep")) == 0  # still there


def test_a_hidden_cascade_stops_a_run_with_the_default_rules(engine: Engine, db_url: str) -> None:
    """The built-in rules' check runs on the run's own connection: a table the rules do not
    name, deleted by ON DELETE CASCADE with an old session's messages, is exit 2 and nothing
    is deleted."""
    insert_sessions(engine, [(1, NOW - timedelta(days=400), None)], messages_per_session=1)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE message_votes (id INTEGER PRIMARY KEY, message_id INTEGER "
                "REFERENCES chat_messages (id) ON DELETE CASCADE)"
            )
        )
    run = invoke("cleanup-old-sessions", env={"DATABASE_URL": db_url})
    assert run.exit_code == 2, run.stderr
    assert "message_votes" in run.stderr and "ON DELETE CASCADE" in run.stderr
    assert "nothing was touched" in run.stderr
    assert count(engine, chat_sessions) == 1 and count(engine, chat_messages) == 1


def test_a_date_age_is_compared_as_its_midnight(tmp_path: Path, engine: Engine) -> None:
    """A rules file whose age column is a DATE: a day is old once its midnight is before the
    cutoff (so the cutoff's own day goes, the next one stays), as SQLAlchemy's binding of the
    cutoff compared it before the SQL text."""
    from cronjobs.builtin.sessions import cleanup
    from cronjobs.retention import rule_tables
    from cronjobs.retention.rule_names import names_of
    from cronjobs.retention.rules import load

    cutoff_day = (NOW - timedelta(days=90)).date()  # NOW is 12:00 UTC: the cutoff is midday
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE visits (id INTEGER PRIMARY KEY, seen DATE)"))
        days = (cutoff_day - timedelta(days=1), cutoff_day, cutoff_day + timedelta(days=1), None)
        for i, day in enumerate(days, start=1):
            conn.execute(text("INSERT INTO visits VALUES (:i, :d)"), {"i": i, "d": day})
    rules = tmp_path / "rules.toml"
    rules.write_text('[[cleanup-old-sessions]]\ntable = "visits"\nage = "seen"\ndays = 90\n')
    names = tuple(names_of(r) for r in rule_tables.sessions(engine, load(str(rules))))
    assert [n.stamp for n in names] == ["timestamp"]
    result = cleanup(engine, now=NOW, rules=names)
    assert result.tables[0].deleted == 2
    with engine.connect() as conn:
        assert sorted(conn.scalars(text("SELECT id FROM visits"))) == [3, 4]
