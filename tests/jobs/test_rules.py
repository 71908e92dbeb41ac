"""Retention rules as data: the file, its errors, and its check against a live database
(SQLite and PostgreSQL) with a schema of other names and shapes, hostile names included."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from cronjobs.errors import ConfigError
from cronjobs.retention.rules import DEFAULTS, Age, load
from cronjobs.retention.schema_check import check, require_valid

OTHER_SCHEMA = [
    'CREATE TABLE "Conversations" (conv_id INTEGER PRIMARY KEY, "last seen" TIMESTAMP, '
    "opened TIMESTAMP NOT NULL, label TEXT)",
    'CREATE TABLE "select" (id INTEGER PRIMARY KEY, conv INTEGER REFERENCES "Conversations" '
    "(conv_id), body TEXT)",
    'CREATE INDEX ix_select_conv ON "select" (conv)',
    "CREATE TABLE events (id INTEGER PRIMARY KEY, at TIMESTAMP NOT NULL, kind TEXT, who TEXT)",
    "CREATE INDEX ix_events_at ON events (at)",
    "CREATE TABLE per_day (d DATE NOT NULL, kind TEXT NOT NULL, n BIGINT, users BIGINT, "
    "stamped TIMESTAMP, PRIMARY KEY (d, kind))",
]

RULES = """
[[cleanup-old-sessions]]
table = "Conversations"
primary_key = "conv_id"
age = { latest_of = ["last seen", "opened"] }
days = 30
children = [{ table = "select", foreign_key = "conv" }]

[cleanup-old-analytics]
table = "events"
age = "at"
days = 400
whole_days = true

[rollup]
source = "events"
timestamp = "at"
group_by = "kind"
distinct = "who"
target = "per_day"
columns = { day = "d", group = "kind", count = "n", distinct = "users", updated_at = "stamped" }
"""


def write(tmp_path: Path, body: str) -> str:
    path = tmp_path / "rules.toml"
    path.write_text(body)
    return str(path)


@pytest.fixture
def other_schema(db_url: str) -> Engine:
    from cronjobs.database import connect
    from cronjobs.settings import parse_database_url

    engine = connect(parse_database_url(db_url))
    with engine.begin() as conn:
        for statement in OTHER_SCHEMA:
            conn.execute(text(statement))
    return engine


def test_no_file_means_todays_tables() -> None:
    rules = load(environ={})
    assert rules is DEFAULTS
    assert [r.table for r in rules.sessions] == ["chat_sessions", "peptide_info_sessions"]
    assert rules.sessions[0].age == Age(("updated_at", "created_at"), "first_of")
    assert rules.analytics.days == 365 and rules.rollup.target == "daily_analytics"


def test_a_file_of_other_names_is_read_as_names(tmp_path: Path) -> None:
    rules = load(environ={"CRONJOBS_RULES": write(tmp_path, RULES)})
    session = rules.sessions[0]
    assert (session.table, session.primary_key, session.days) == ("Conversations", "conv_id", 30)
    assert session.age == Age(("last seen", "opened"), "latest_of")
    assert session.children[0].table == "select"
    assert rules.rollup.columns["count"] == "n" and rules.source.endswith("rules.toml")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[[cleanup-old-sessions]]\ntable = 't'\ndays = 3", "rule for table 't': `age` is missing"),
        (
            "[[cleanup-old-sessions]]\ntable = 't'\nage = 'a'\ndays = 0",
            "days must be a whole number",
        ),
        (
            "[[cleanup-old-sessions]]\ntable = 't'\nage = 'a'\ndays = 3\ncolour = 1",
            "unknown key(s) ['colour']",
        ),
        (
            "[[cleanup-old-sessions]]\ntable = ''\nage = 'a'\ndays = 3",
            "table must be a non-empty name",
        ),
        (
            "[[cleanup-old-sessions]]\ntable = 't'\nage = { newest = ['a'] }\ndays = 3",
            "age is a column name",
        ),
        (
            "[cleanup-old-sessions]\ntable = 't'",
            "must be a list of tables: [[cleanup-old-sessions]]",
        ),
        ("[vacuum]\nx = 1", "unknown section(s) ['vacuum']"),
        ('[rollup]\ntarget = "x\\ty"', "holds a control character"),
        ("[rollup]\ntarget = '" + "t" * 64 + "'", "longer than 63 bytes"),
        ("table = [", "is not valid TOML"),
    ],
)
def test_a_bad_file_is_a_configuration_error_naming_the_entry(
    tmp_path: Path, body: str, message: str
) -> None:
    with pytest.raises(ConfigError) as e:
        load(write(tmp_path, body))
    assert message in str(e.value) and "rules.toml" in str(e.value)


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"the rules file .* \(--rules or CRONJOBS_RULES\) does not exist"
    ):
        load(str(tmp_path / "nope.toml"))


def test_the_rules_match_a_schema_of_other_names(tmp_path: Path, other_schema: Engine) -> None:
    rules = load(write(tmp_path, RULES))
    findings = require_valid(other_schema, rules)
    assert [f.level for f in findings] == ["warning"]
    assert "no index on the age" in findings[0].message
    assert 'CREATE INDEX ON "Conversations" ((' in findings[0].message
    assert '"last seen", opened' in findings[0].message, "names quoted as the database needs"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('"last seen", "opened"', '"last seen", "closed"'),
            "Conversations.closed: no such column (age)",
        ),
        (('age = "at"', 'age = "kind"'), "events.kind: is TEXT, not a timestamp"),
        (
            ('primary_key = "conv_id"', 'primary_key = "label"'),
            "Conversations.label: is TEXT, not an integer",
        ),
        (('table = "events"\nage', 'table = "evts"\nage'), "evts: no such table"),
        (
            ('table = "Conversations"', 'table = "conversations"'),
            "conversations: no such table (did you mean 'Conversations'? names are exact)",
        ),
        (
            ('foreign_key = "conv"', 'foreign_key = "convo"'),
            "select.convo: no such column (child foreign_key)",
        ),
        (
            ('group = "kind", count = "n"', 'group = "n", count = "kind"'),
            "no primary key or unique constraint on exactly (d, n)",
        ),
        (
            ('table = "select"', 'table = "events"'),
            "events.conv: no such column (child foreign_key)",
        ),
    ],
)
def test_each_mismatch_is_exit_2_naming_rule_table_and_column(
    tmp_path: Path, other_schema: Engine, change: tuple[str, str], expected: str
) -> None:
    body = RULES.replace(*change)
    assert body != RULES
    rules = load(write(tmp_path, body))
    with pytest.raises(ConfigError) as e:
        require_valid(other_schema, rules)
    assert expected in str(e.value), str(e.value)
    assert "nothing was touched" in str(e.value)


def test_a_foreign_key_that_points_elsewhere_is_an_error(
    tmp_path: Path, other_schema: Engine
) -> None:
    with other_schema.begin() as conn:
        conn.execute(
            text("CREATE TABLE notes (id INTEGER PRIMARY KEY, ev INTEGER REFERENCES events (id))")
        )
        conn.execute(text("CREATE INDEX ix_notes_ev ON notes (ev)"))
    body = RULES.replace('children = [{ table = "select", foreign_key = "conv" }]',
                         'children = [{ table = "notes", foreign_key = "ev" }]')  # fmt: skip
    errors = [f for f in check(other_schema, load(write(tmp_path, body))) if f.level == "error"]
    assert [str(f) for f in errors] == [
        "cleanup-old-sessions rule for table 'Conversations': notes.ev: points at events.id, "
        "not Conversations.conv_id"
    ]


def test_the_default_rules_match_the_default_schema(engine: Engine) -> None:
    findings = require_valid(engine, DEFAULTS)
    assert all(f.level == "warning" for f in findings)


def _seed_other_schema(engine: Engine, now: datetime) -> None:
    old, new = now - timedelta(days=45), now - timedelta(days=5)
    with engine.begin() as conn:
        conn.execute(
            text('INSERT INTO "Conversations" (conv_id, "last seen", opened) VALUES (:i, :s, :o)'),
            [
                {"i": 1, "s": None, "o": old},  # old by opened, never seen again
                {"i": 2, "s": new, "o": old},  # opened long ago, seen lately: the latest counts
                {"i": 3, "s": old, "o": old},
                {"i": 4, "s": None, "o": new},
            ],
        )
        conn.execute(
            text('INSERT INTO "select" (id, conv, body) VALUES (:i, :c, :b)'),
            [{"i": i, "c": c, "b": "x"} for i, c in enumerate([1, 1, 2, 3, 4], start=1)],
        )
        day = datetime(2020, 1, 2, 12, tzinfo=UTC)
        conn.execute(
            text("INSERT INTO events (id, at, kind, who) VALUES (:i, :a, :k, :w)"),
            [
                {
                    "i": i,
                    "a": day if i <= 6 else now - timedelta(days=1),
                    "k": "view" if i % 2 else "buy",
                    "w": f"u{i % 3}",
                }
                for i in range(1, 10)
            ],
        )


def test_every_job_runs_on_a_schema_of_other_names(
    tmp_path: Path, other_schema: Engine, db_url: str
) -> None:
    """cleanup-old-sessions, cleanup-old-analytics and aggregate-daily-analytics on the app's
    own tables, names quoted (mixed case, a space, a reserved word), then idempotent."""
    from tests.jobs.helpers import invoke

    now = datetime.now(UTC)
    _seed_other_schema(other_schema, now)
    env = {"DATABASE_URL": db_url, "CRONJOBS_RULES": write(tmp_path, RULES)}
    sessions = invoke("cleanup-old-sessions", "-o", "json", env=env)
    assert sessions.exit_code == 0, sessions.stderr
    (table,) = json.loads(sessions.stdout)["tables"]
    assert (table["table"], table["deleted"], table["children_deleted"]) == ("Conversations", 2, 3)
    with other_schema.connect() as conn:
        left = conn.execute(text('SELECT conv_id FROM "Conversations" ORDER BY 1')).scalars().all()
        kids = conn.execute(text('SELECT conv FROM "select" ORDER BY 1')).scalars().all()
    assert (left, kids) == ([2, 4], [2, 4])
    again = invoke("cleanup-old-sessions", "-o", "json", env=env)
    assert json.loads(again.stdout)["tables"][0]["deleted"] == 0

    analytics = invoke("cleanup-old-analytics", "-o", "json", env=env)
    assert analytics.exit_code == 0, analytics.stderr
    assert json.loads(analytics.stdout)["purge"]["deleted"] == 6
    yesterday = (now - timedelta(days=1)).date().isoformat()
    aggregated = invoke("aggregate-daily-analytics", "--date", yesterday, env=env)
    assert aggregated.exit_code == 0, aggregated.stderr
    with other_schema.connect() as conn:
        rows = conn.execute(text("SELECT d, kind, n, users FROM per_day ORDER BY d, kind")).all()
        raw_left = conn.scalar(text("SELECT count(*) FROM events"))
    by_day = {(str(d)[:10], k): (n, u) for d, k, n, u in rows}
    assert by_day[("2020-01-02", "view")] == (3, 3) and by_day[("2020-01-02", "buy")] == (3, 3)
    assert by_day[(yesterday, "view")][0] + by_day[(yesterday, "buy")][0] == 3
    assert raw_left == 3


def test_a_mismatch_stops_the_job_before_it_touches_a_row(
    tmp_path: Path, other_schema: Engine, db_url: str
) -> None:
    from tests.jobs.helpers import invoke

    now = datetime.now(UTC)
    _seed_other_schema(other_schema, now)
    body = RULES.replace('"last seen", "opened"', '"last seen", "closed"')
    env = {"DATABASE_URL": db_url, "CRONJOBS_RULES": write(tmp_path, body)}
    result = invoke("cleanup-old-sessions", env=env)
    assert result.exit_code == 2, result.stderr
    assert "Conversations.closed: no such column (age)" in result.stderr
    with other_schema.connect() as conn:
        assert conn.scalar(text('SELECT count(*) FROM "Conversations"')) == 4


def test_hostile_names_are_names(tmp_path: Path, db_url: str) -> None:
    """A table called `x"; DROP TABLE keep; --` is looked up as that name: it does not exist,
    so the check says so, and nothing is dropped."""
    from cronjobs.database import connect
    from cronjobs.settings import parse_database_url
    from tests.jobs.helpers import invoke

    engine = connect(parse_database_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE keep (id INTEGER PRIMARY KEY)"))
    hostile = 'x"; DROP TABLE keep; --'
    body = f"[[cleanup-old-sessions]]\ntable = '{hostile}'\nage = \"select\"\ndays = 3\n"
    env = {"DATABASE_URL": db_url, "CRONJOBS_RULES": write(tmp_path, body)}
    result = invoke("cleanup-old-sessions", env=env)
    assert result.exit_code == 2
    assert f"{hostile}: no such table" in result.stderr
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM keep")) == 0  # still there
    engine.dispose()


def test_retention_show_gives_rules_counts_and_sql(
    tmp_path: Path, other_schema: Engine, db_url: str
) -> None:
    from tests.jobs.helpers import invoke

    now = datetime.now(UTC)
    _seed_other_schema(other_schema, now)
    env = {"CRONJOBS_RULES": write(tmp_path, RULES)}
    offline = invoke("retention", "show", env=env)
    assert offline.exit_code == 0, offline.stderr
    assert (
        "cleanup-old-sessions: Conversations (key conv_id): older than 30 days by the latest of "
        "last seen, opened; with select.conv" in offline.stdout
    )
    shown = invoke("retention", "show", "-o", "json", env={**env, "DATABASE_URL": db_url})
    assert shown.exit_code == 0, shown.stderr
    report = json.loads(shown.stdout)
    sessions, analytics = report["rules"]
    dry = json.loads(
        invoke(
            "cleanup-old-sessions", "--dry-run", "-o", "json", env={**env, "DATABASE_URL": db_url}
        ).stdout
    )["tables"][0]
    assert (
        (sessions["rows"], sessions["child_rows"])
        == (dry["deleted"], dry["children_deleted"])
        == (2, 3)
    )
    assert analytics["rows"] == 6
    assert any('DELETE FROM "select"' in s for s in sessions["sql"]), "names are quoted"
    assert 'FROM "Conversations"' in sessions["sql"][0]
    assert 'INSERT INTO "per_day"' in report["rollup_sql"][0]
    assert report["findings"][0].startswith("warning: ")
    broken = write(tmp_path, RULES.replace('age = "at"', 'age = "kind"'))
    bad = invoke("retention", "show", env={"CRONJOBS_RULES": broken, "DATABASE_URL": db_url})
    assert bad.exit_code == 2 and "error: rollup" not in bad.stdout
    assert "events.kind: is TEXT, not a timestamp" in bad.stdout


def test_a_file_for_one_job_is_checked_for_that_job_only(tmp_path: Path, db_url: str) -> None:
    """A rules file of sessions only, on a database without the analytics tables: the sessions
    job runs (the other sections keep their defaults, checked only by their own jobs)."""
    from cronjobs.database import connect
    from cronjobs.settings import parse_database_url
    from tests.jobs.helpers import invoke

    engine = connect(parse_database_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE tokens (id INTEGER PRIMARY KEY, seen TIMESTAMP)"))
        conn.execute(text("CREATE INDEX ix_tokens_seen ON tokens (seen)"))
        conn.execute(
            text("INSERT INTO tokens (id, seen) VALUES (1, :old), (2, :new)"),
            {"old": datetime.now(UTC) - timedelta(days=40), "new": datetime.now(UTC)},
        )
    engine.dispose()
    body = '[[cleanup-old-sessions]]\ntable = "tokens"\nage = { first_of = ["seen"] }\ndays = 30\n'
    env = {"DATABASE_URL": db_url, "CRONJOBS_RULES": write(tmp_path, body)}
    result = invoke("cleanup-old-sessions", "-o", "json", env=env)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["tables"][0]["deleted"] == 1
    other = invoke("cleanup-old-analytics", env=env)
    assert other.exit_code == 2 and "analytics_events: no such table" in other.stderr


def test_sqlite_epoch_numbers_in_a_timestamp_column_are_refused(tmp_path: Path) -> None:
    """A TIMESTAMP column of integers would compare with the text cutoff by type: every row,
    even one a year ahead, would look old. The check refuses it before anything is deleted."""
    from sqlalchemy import create_engine

    from tests.jobs.helpers import invoke

    db = tmp_path / "app.db"
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE tokens (id INTEGER PRIMARY KEY, created_at TIMESTAMP)"))
        conn.execute(text("INSERT INTO tokens VALUES (1, 1900000000)"))  # 2030, as a number
    engine.dispose()
    body = '[[cleanup-old-sessions]]\ntable = "tokens"\nage = "created_at"\ndays = 30\n'
    env = {"DATABASE_URL": f"sqlite:///{db}", "CRONJOBS_RULES": write(tmp_path, body)}
    result = invoke("cleanup-old-sessions", env=env)
    assert result.exit_code == 2, result.stderr
    assert "tokens.created_at: holds values that are not text" in result.stderr


def test_a_hostile_name_that_exists_is_used_as_a_name(tmp_path: Path, db_url: str) -> None:
    """The table `x"; DROP TABLE keep; --` exists (created quoted): the job checks it, counts
    and deletes its old rows as that table's, and `keep` is untouched."""
    from cronjobs.database import connect
    from cronjobs.settings import parse_database_url
    from tests.jobs.helpers import invoke

    hostile, column = 'x"; DROP TABLE keep; --', "When's it from"
    engine = connect(parse_database_url(db_url))
    q = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE keep (id INTEGER PRIMARY KEY)"))
        conn.execute(
            text(f"CREATE TABLE {q(hostile)} (id INTEGER PRIMARY KEY, {q(column)} TIMESTAMP)")
        )
        conn.execute(text(f"CREATE INDEX ix_h ON {q(hostile)} ({q(column)})"))
        conn.execute(
            text(f"INSERT INTO {q(hostile)} (id, {q(column)}) VALUES (1, :old), (2, :new)"),
            {"old": datetime.now(UTC) - timedelta(days=10), "new": datetime.now(UTC)},
        )
    rules = {"cleanup-old-sessions": [{"table": hostile, "age": column, "days": 3}]}
    import tomllib

    body = (
        "[[cleanup-old-sessions]]\n"
        f"table = {json.dumps(hostile)}\nage = {json.dumps(column)}\ndays = 3\n"
    )
    assert tomllib.loads(body) == rules
    env = {"DATABASE_URL": db_url, "CRONJOBS_RULES": write(tmp_path, body)}
    result = invoke("cleanup-old-sessions", "-o", "json", env=env)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["tables"][0]["deleted"] == 1
    with engine.connect() as conn:
        assert conn.scalar(text(f"SELECT count(*) FROM {q(hostile)}")) == 1
        assert conn.scalar(text("SELECT count(*) FROM keep")) == 0  # the table is still there
    engine.dispose()


def test_a_schema_key_puts_every_table_in_that_postgresql_schema(
    tmp_path: Path, pg_engine: Engine, pg_db_url: str
) -> None:
    """`schema = "App Data"`: the built-in tables' names, in another schema than the
    connection's search_path; the same tables in `public` (the default) are never touched."""
    from cronjobs.retention.models import metadata
    from tests.jobs.helpers import invoke

    schema = "App Data"
    with pg_engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        metadata.create_all(conn.execution_options(schema_translate_map={None: schema}))
    now = datetime.now(UTC)
    old, day = now - timedelta(days=200), datetime(2020, 1, 2, 12, tzinfo=UTC)
    for where in (f'"{schema}".', ""):  # the same rows in both schemas
        with pg_engine.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO {where}chat_sessions (id, user_id, created_at) VALUES (1, 'u', :o)"
                ),
                {"o": old},
            )
            conn.execute(
                text(
                    f"INSERT INTO {where}chat_messages (session_id, role, content, created_at) "
                    "VALUES (1, 'user', 'hi', :o)"
                ),
                {"o": old},
            )
            conn.execute(
                text(
                    f"INSERT INTO {where}analytics_events (event_type, user_id, occurred_at) "
                    "VALUES ('view', 'u', :d), ('buy', 'v', :d)"
                ),
                {"d": day},
            )
    env = {"DATABASE_URL": pg_db_url, "CRONJOBS_RULES": write(tmp_path, f'schema = "{schema}"\n')}
    sessions = invoke("cleanup-old-sessions", "-o", "json", env=env)
    assert sessions.exit_code == 0, sessions.stderr
    chat = json.loads(sessions.stdout)["tables"][0]
    assert (chat["table"], chat["deleted"], chat["children_deleted"]) == (
        f"{schema}.chat_sessions",
        1,
        1,
    )
    analytics = invoke("cleanup-old-analytics", "-o", "json", env=env)
    assert analytics.exit_code == 0, analytics.stderr
    assert json.loads(analytics.stdout)["purge"]["deleted"] == 2
    with pg_engine.connect() as conn:

        def rows(table: str) -> tuple[int, int]:
            app = conn.scalar(text(f'SELECT count(*) FROM "{schema}".{table}'))
            public = conn.scalar(text(f"SELECT count(*) FROM public.{table}"))
            return int(app or 0), int(public or 0)

        assert rows("chat_sessions") == (0, 1) and rows("chat_messages") == (0, 1)
        assert rows("analytics_events") == (0, 2)
        assert rows("daily_analytics") == (2, 0)  # aggregated in the deleting transaction
    shown = invoke("retention", "show", "-o", "json", env=env)
    assert shown.exit_code == 0, shown.stderr
    sql = [s for rule in json.loads(shown.stdout)["rules"] for s in rule["sql"]]
    assert any(f'"{schema}"."chat_sessions"' in s for s in sql), sql  # names quoted
    assert json.loads(shown.stdout)["schema"] == schema
    offline = invoke("retention", "show", env={k: v for k, v in env.items() if k != "DATABASE_URL"})
    assert f"schema: {schema}" in offline.stdout.splitlines()[1], offline.stdout


@pytest.mark.parametrize(
    ("url_fixture", "message"),
    [
        ("pg_db_url", "the rules file names schema 'Nope', which this database does not have"),
        ("sqlite_url", "schemas are for PostgreSQL"),
    ],
)
def test_a_schema_that_cannot_be_used_is_exit_2(
    tmp_path: Path, request: pytest.FixtureRequest, url_fixture: str, message: str
) -> None:
    from tests.jobs.helpers import invoke

    if url_fixture == "sqlite_url":
        from cronjobs.dev.schema import create_missing
        from cronjobs.settings import Settings

        url = f"sqlite:///{tmp_path / 'app.db'}"
        create_missing(Settings(database_url=url))
    else:
        url = request.getfixturevalue("pg_engine") and request.getfixturevalue(url_fixture)
    env = {"DATABASE_URL": url, "CRONJOBS_RULES": write(tmp_path, 'schema = "Nope"\n')}
    result = invoke("cleanup-old-sessions", env=env)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr


def test_a_rules_file_is_checked_on_connections_of_its_own(
    tmp_path: Path, other_schema: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The schema is checked and reflected on an engine closed before the work starts: the
    run's own connection keeps the job's lock and does the work, rather than sitting idle in a
    pool holding the lock while a second connection works."""
    from cronjobs.dbapi import Db
    from tests.jobs.helpers import invoke

    if db_url.startswith("sqlite"):
        pytest.skip("on SQLite the lock is a file: an engine never takes the run's connection")
    handed: list[Db] = []
    hand_over = Db.hand_over

    def spy(self: Db) -> object:
        handed.append(self)
        return hand_over(self)

    monkeypatch.setattr(Db, "hand_over", spy)
    _seed_other_schema(other_schema, datetime.now(UTC))
    env = {"DATABASE_URL": db_url, "CRONJOBS_RULES": write(tmp_path, RULES)}
    for job in ("cleanup-old-sessions", "cleanup-old-analytics", "aggregate-daily-analytics"):
        result = invoke(job, env=env)
        assert result.exit_code == 0, result.stderr
    assert handed == []
