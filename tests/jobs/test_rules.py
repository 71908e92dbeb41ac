"""Retention rules as data: the file, its errors, and its check against a live database
(SQLite and PostgreSQL) with a schema of other names and shapes, hostile names included."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from jobs.errors import ConfigError
from jobs.rules import DEFAULTS, Age, load
from jobs.schema_check import check, require_valid

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
    from jobs.database import connect
    from jobs.settings import parse_database_url

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
    with pytest.raises(ConfigError, match=r"CRONJOBS_RULES names .* which does not exist"):
        load(str(tmp_path / "nope.toml"))


def test_the_rules_match_a_schema_of_other_names(tmp_path: Path, other_schema: Engine) -> None:
    rules = load(write(tmp_path, RULES))
    findings = require_valid(other_schema, rules)
    assert [f.level for f in findings] == ["warning"]
    assert "no index on the age" in findings[0].message
    assert "CREATE INDEX ON Conversations ((greatest(last seen, opened)))" in findings[0].message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('"last seen", "opened"', '"last seen", "closed"'),
            "Conversations.closed: no such column (age)",
        ),
        (('age = "at"', 'age = "kind"'), "events.kind: is TEXT, not a timestamp"),
        (('table = "events"\nage', 'table = "evts"\nage'), "evts: no such table"),
        (
            ('foreign_key = "conv"', 'foreign_key = "convo"'),
            "select.convo: no such column (child foreign_key)",
        ),
        (
            ('group = "kind"', 'group = "n"'),
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
