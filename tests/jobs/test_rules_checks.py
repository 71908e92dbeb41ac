"""What the rules check refuses before a job touches a row (SQLite files and PostgreSQL): a
child whose `foreign_key` no constraint declares (it would delete other parents' children), and
a rules file that gives one column two roles."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from cronjobs.errors import ConfigError
from cronjobs.retention.rules import load
from cronjobs.retention.schema_check import check
from tests.jobs.helpers import invoke

CHILD_BY = """
[[cleanup-old-sessions]]
table = "chat_sessions"
age = "created_at"
days = 30
children = [{{ table = "chat_messages", foreign_key = "{fk}" }}]
"""


def write(tmp_path: Path, body: str) -> str:
    path = tmp_path / "rules.toml"
    path.write_text(body)
    return str(path)


def _seed(engine: Engine) -> None:
    """Session 1 is old, session 2 recent; message 1 belongs to the kept session 2."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO chat_sessions (id, user_id, created_at) VALUES (:i, 'u', :c)"),
            [{"i": 1, "c": now - timedelta(days=60)}, {"i": 2, "c": now - timedelta(days=1)}],
        )
        conn.execute(
            text(
                "INSERT INTO chat_messages (id, session_id, role, content, created_at) "
                "VALUES (1, 2, 'user', 'hi', :c)"
            ),
            {"c": now},
        )


def _rows(engine: Engine) -> tuple[list[int], list[tuple[int, int]]]:
    with engine.connect() as conn:
        sessions = conn.scalars(text("SELECT id FROM chat_sessions ORDER BY id")).all()
        messages = conn.execute(text("SELECT id, session_id FROM chat_messages ORDER BY id"))
        return list(sessions), [(i, s) for i, s in messages]


def test_a_child_column_no_foreign_key_declares_is_exit_2_and_nothing_is_deleted(
    tmp_path: Path, engine: Engine, db_url: str
) -> None:
    """`foreign_key = "id"`: chat_messages.id holds message ids, not session ids. Deleting old
    session 1 would take message 1 of the kept session 2 with it: the check refuses the rule."""
    _seed(engine)
    before = _rows(engine)
    env = {"DATABASE_URL": db_url, "CRONJOBS_RULES": write(tmp_path, CHILD_BY.format(fk="id"))}
    for args in (("cleanup-old-sessions",), ("cleanup-old-sessions", "--dry-run")):
        result = invoke(*args, env=env)
        assert result.exit_code == 2, result.stderr
        assert (
            "chat_messages.id: the database declares no foreign key constraint from "
            "chat_messages.id to chat_sessions.id" in result.stderr
        ), result.stderr
        assert "declare the foreign key" in result.stderr and "fix `foreign_key`" in result.stderr
        assert "nothing was touched" in result.stderr
    assert _rows(engine) == before == ([1, 2], [(1, 2)])

    shown = invoke("retention", "show", env=env)
    assert shown.exit_code == 2, shown.stdout
    assert "error: cleanup-old-sessions rule for table 'chat_sessions': chat_messages.id: " in (
        shown.stdout
    )
    assert "would touch now" not in shown.stdout
    assert _rows(engine) == before


def test_a_declared_foreign_key_still_takes_the_children(
    tmp_path: Path, engine: Engine, db_url: str
) -> None:
    _seed(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO chat_messages (id, session_id, role, content, created_at) "
                "VALUES (2, 1, 'user', 'old', :c)"
            ),
            {"c": datetime.now(UTC)},
        )
    body = CHILD_BY.format(fk="session_id")
    env = {"DATABASE_URL": db_url, "CRONJOBS_RULES": write(tmp_path, body)}
    result = invoke("cleanup-old-sessions", "-o", "json", env=env)
    assert result.exit_code == 0, result.stderr
    (table,) = json.loads(result.stdout)["tables"]
    assert (table["deleted"], table["children_deleted"]) == (1, 1)
    assert _rows(engine) == ([2], [(1, 2)])
    shown = invoke("retention", "show", env=env)
    assert shown.exit_code == 0, shown.stdout
    assert "error:" not in shown.stdout


def _sqlite(tmp_path: Path, *ddl: str) -> Engine:
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    with engine.begin() as conn:
        for statement in ddl:
            conn.execute(text(statement))
    return engine


def _errors(engine: Engine, tmp_path: Path, body: str) -> list[str]:
    rules = load(write(tmp_path, body))
    return [str(f) for f in check(engine, rules, "cleanup-old-sessions") if f.level == "error"]


PARENT = "CREATE TABLE p (id INTEGER PRIMARY KEY, grp INTEGER, at TIMESTAMP)"
RULE = '[[cleanup-old-sessions]]\ntable = "p"\nage = "at"\ndays = 3\n'


def test_sqlite_names_a_foreign_key_refers_to_in_any_case(tmp_path: Path) -> None:
    """SQLite's names are case-insensitive: `REFERENCES P (ID)` is p(id)."""
    engine = _sqlite(
        tmp_path, PARENT, "CREATE TABLE c (id INTEGER PRIMARY KEY, pid REFERENCES P (ID))"
    )
    body = RULE + 'children = [{ table = "c", foreign_key = "pid" }]\n'
    assert _errors(engine, tmp_path, body) == []


def test_a_foreign_key_to_a_column_that_is_not_the_parents_key_is_an_error(tmp_path: Path) -> None:
    """SQLite lets a foreign key refer to any column: to p.grp, which many rows share, the
    children of a kept p row of the same grp would go too."""
    engine = _sqlite(
        tmp_path, PARENT, "CREATE TABLE c (id INTEGER PRIMARY KEY, g REFERENCES p (grp))"
    )
    body = RULE + 'primary_key = "grp"\nchildren = [{ table = "c", foreign_key = "g" }]\n'
    assert _errors(engine, tmp_path, body) == [
        "cleanup-old-sessions rule for table 'p': p.grp: is not the primary key (nor a unique key) "
        "of p: the children of a kept row with the same grp would be deleted too; make "
        "`primary_key` the table's primary key"
    ]


def test_postgresql_a_foreign_key_to_the_same_name_in_another_schema_is_an_error(
    tmp_path: Path, pg_engine: Engine
) -> None:
    """chat_messages refers to other.chat_sessions, not to the chat_sessions the rule cleans
    (public; then, with `schema = "app"`, app's, while the child refers to public's)."""
    with pg_engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA other"))
        conn.execute(text("CREATE TABLE other.chat_sessions (id BIGINT PRIMARY KEY)"))
        conn.execute(
            text("ALTER TABLE chat_messages DROP CONSTRAINT chat_messages_session_id_fkey")
        )
        conn.execute(
            text(
                "ALTER TABLE chat_messages ADD FOREIGN KEY (session_id) "
                "REFERENCES other.chat_sessions (id)"
            )
        )
    assert _errors(pg_engine, tmp_path, CHILD_BY.format(fk="session_id")) == [
        "cleanup-old-sessions rule for table 'chat_sessions': chat_messages.session_id: points "
        "at other.chat_sessions.id, not chat_sessions.id"
    ]
    with pg_engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA app"))
        conn.execute(
            text("CREATE TABLE app.chat_sessions (id BIGINT PRIMARY KEY, created_at TIMESTAMPTZ)")
        )
        conn.execute(
            text(
                "CREATE TABLE app.chat_messages (id BIGINT PRIMARY KEY, "
                "session_id BIGINT REFERENCES public.chat_sessions (id))"
            )
        )
        conn.execute(text("CREATE INDEX ON app.chat_sessions (created_at)"))
        conn.execute(text("CREATE INDEX ON app.chat_messages (session_id)"))
    body = 'schema = "app"\n' + CHILD_BY.format(fk="session_id")
    assert _errors(pg_engine, tmp_path, body) == [
        "cleanup-old-sessions rule for table 'chat_sessions': chat_messages.session_id: points "
        "at chat_sessions.id in another schema on the search_path, not chat_sessions.id"
    ]
    with pg_engine.begin() as conn:
        conn.execute(
            text("ALTER TABLE app.chat_messages DROP CONSTRAINT chat_messages_session_id_fkey")
        )
        conn.execute(
            text(
                "ALTER TABLE app.chat_messages ADD FOREIGN KEY (session_id) "
                "REFERENCES app.chat_sessions (id)"
            )
        )
    assert _errors(pg_engine, tmp_path, body) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[rollup]\ncolumns = { count = "event_count", distinct = "event_count" }',
            "rollup: columns.count and columns.distinct both name the column 'event_count'",
        ),
        (
            '[rollup]\ncolumns = { day = "updated_at" }',
            "rollup: columns.day and columns.updated_at both name the column 'updated_at'",
        ),
        (
            '[rollup]\ngroup_by = "user_id"',
            "rollup: group_by and distinct both name the column 'user_id'",
        ),
        (
            '[rollup]\ntimestamp = "id"',
            "cleanup-old-analytics primary_key and rollup timestamp both name the column 'id'",
        ),
        (
            '[[cleanup-old-sessions]]\ntable = "t"\nprimary_key = "at"\nage = "at"\ndays = 3',
            "rule for table 't': primary_key and age 'at' both name the column 'at'",
        ),
        (
            '[cleanup-old-analytics]\ntable = "analytics_events"\nage = "occurred_at"\ndays = 9\n'
            'children = [{ table = "notes", foreign_key = "event_id" }]',
            "cleanup-old-analytics deletes whole days of events and no child rows: drop `children`",
        ),
    ],
)
def test_one_column_in_two_roles_is_a_configuration_error(
    tmp_path: Path, body: str, message: str
) -> None:
    with pytest.raises(ConfigError) as e:
        load(write(tmp_path, body))
    assert message in str(e.value) and "rules.toml" in str(e.value), str(e.value)


def test_a_rollup_column_in_two_roles_is_exit_2_before_the_database(
    tmp_path: Path, engine: Engine, db_url: str
) -> None:
    body = '[rollup]\ncolumns = { count = "event_count", distinct = "event_count" }\n'
    env = {"DATABASE_URL": db_url, "CRONJOBS_RULES": write(tmp_path, body)}
    for job in ("aggregate-daily-analytics", "cleanup-old-analytics"):
        result = invoke(job, env=env)
        assert result.exit_code == 2, result.stderr
        assert "columns.count and columns.distinct both name the column 'event_count'" in (
            result.stderr
        )
        assert "database error" not in result.stderr


def test_undeclared_true_lets_a_schema_without_constraints_run_with_a_warning(
    tmp_path: Path,
) -> None:
    """An app whose migrations declare no foreign keys: the rules file vouches for the column
    (`undeclared = true`), so the check warns and the job deletes the children with their
    parent; without it, the same schema is refused."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    engine = _sqlite(
        tmp_path,
        "CREATE TABLE conv (id INTEGER PRIMARY KEY, at TIMESTAMP)",
        "CREATE TABLE msg (id INTEGER PRIMARY KEY, conv INTEGER)",  # no REFERENCES
    )
    old = (datetime.now(UTC) - timedelta(days=10)).strftime("%Y-%m-%d %H:%M:%S")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO conv VALUES (1, :o), (2, CURRENT_TIMESTAMP)"), {"o": old})
        conn.execute(text("INSERT INTO msg VALUES (10, 1), (11, 2)"))
    rule = '[[cleanup-old-sessions]]\ntable = "conv"\nage = "at"\ndays = 3\n'
    refused = rule + 'children = [{ table = "msg", foreign_key = "conv" }]\n'
    env = {"DATABASE_URL": url, "CRONJOBS_RULES": write(tmp_path, refused)}
    result = invoke("cleanup-old-sessions", env=env)
    assert result.exit_code == 2 and "add `undeclared = true` to this child" in result.stderr
    vouched = rule + 'children = [{ table = "msg", foreign_key = "conv", undeclared = true }]\n'
    env["CRONJOBS_RULES"] = write(tmp_path, vouched)
    result = invoke("cleanup-old-sessions", "-o", "json", env=env)
    assert result.exit_code == 0, result.stderr
    assert "no foreign key constraint declares that it refers to conv.id" in result.stderr
    with engine.connect() as conn:
        assert conn.scalars(text("SELECT id FROM msg")).all() == [11]
    typo = rule + 'children = [{ table = "msg", foreign_key = "conv", undeclard = true }]\n'
    with pytest.raises(ConfigError, match="children entries take foreign_key, table, undeclared"):
        load(write(tmp_path, typo))


def test_a_rules_file_nested_too_deep_or_not_a_file_is_exit_2(tmp_path: Path) -> None:
    """Issue 23: a rules file of deeply nested arrays crashed the TOML parser (RecursionError,
    exit 1), and a FIFO hung (run as a subprocess, so the old hang shows as a failure)."""
    import os

    from tests.jobs.helpers import cronjobs

    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    result = invoke("retention", "show", "--rules", str(deep))
    assert result.exit_code == 2, result.stderr
    assert f"Error: the rules file {deep} nests arrays or tables too deeply to read" in (
        result.stderr
    )
    fifo = tmp_path / "rules.toml"
    os.mkfifo(fifo)
    for path, kind in ((str(fifo), "a FIFO"), ("/dev/zero", "a device")):
        ran = cronjobs("retention", "show", "--rules", path, timeout=30)
        assert ran.returncode == 2, ran.stderr
        assert f"Error: the rules file {path}: not a regular file ({kind}" in ran.stderr
