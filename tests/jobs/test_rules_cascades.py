"""Issue 23 item 4: nothing is deleted that the rules do not name (SQLite files and the suite's
real PostgreSQL). The rules check follows the foreign keys that point *at* a rule's tables: an
ON DELETE CASCADE the rules do not declare is an error naming it (declared as a child, its rows
are deleted in the batch and counted; listed in `cascades`, the database deletes them), a
self-referencing cascade is refused (it takes recent rows with their old parents), and a key
without a cascade that holds an old row is named, at the check and when a run stops at it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.jobs.helpers import invoke

OLD = datetime.now(UTC) - timedelta(days=60)
NEW = datetime.now(UTC) - timedelta(days=1)

SHOP = [
    "CREATE TABLE users (id INTEGER PRIMARY KEY, created_at TIMESTAMP NOT NULL)",
    "CREATE INDEX users_created ON users (created_at)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, "
    "user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE {orders})",
    "CREATE INDEX orders_user ON orders (user_id)",
    "CREATE TABLE invoices (id INTEGER PRIMARY KEY, "
    "order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE)",
]
USERS = '[[cleanup-old-sessions]]\ntable = "users"\nage = "created_at"\ndays = 30\n'
ORDERS = 'children = [{ table = "orders", foreign_key = "user_id" }]\n'
INVOICES = 'cascades = [{ table = "invoices", foreign_key = "order_id" }]\n'


def _shop(engine: Engine, orders: str = "CASCADE") -> None:
    """100 old users and 10 recent ones, each with 2 orders of 1 invoice each."""
    with engine.begin() as conn:
        for ddl in SHOP:
            conn.execute(text(ddl.format(orders=orders)))
        users = [{"i": i, "c": OLD if i <= 100 else NEW} for i in range(1, 111)]
        conn.execute(text("INSERT INTO users VALUES (:i, :c)"), users)
        orders_rows = [{"i": 2 * u + k, "u": u} for u in range(1, 111) for k in (0, 1)]
        conn.execute(text("INSERT INTO orders VALUES (:i, :u)"), orders_rows)
        conn.execute(text("INSERT INTO invoices VALUES (:i, :i)"), orders_rows)


def _counts(engine: Engine, *tables: str) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.scalar(text(f"SELECT count(*) FROM {t}")) or 0 for t in tables}


def _env(tmp_path: Path, db_url: str, body: str) -> dict[str, str]:
    path = tmp_path / "rules.toml"
    path.write_text(body)
    return {"DATABASE_URL": db_url, "CRONJOBS_RULES": str(path)}


def test_an_undeclared_cascade_is_exit_2_naming_it_and_nothing_is_deleted(
    tmp_path: Path, engine: Engine, db_url: str
) -> None:
    """The issue's case: before, exit 0, "users: deleted 100 rows", and 400 more rows gone."""
    _shop(engine)
    before = _counts(engine, "users", "orders", "invoices")
    env = _env(tmp_path, db_url, USERS)
    for args in (("cleanup-old-sessions",), ("cleanup-old-sessions", "--dry-run")):
        result = invoke(*args, env=env)
        assert result.exit_code == 2, result.stderr
        assert (
            "rule for table 'users': orders.user_id: refers to users ON DELETE CASCADE: deleting "
            "an old users row would delete its orders rows too, uncounted" in result.stderr
        ), result.stderr
        assert 'children = [{ table = "orders", foreign_key = "user_id" }]' in result.stderr
        assert "nothing was touched" in result.stderr
    assert _counts(engine, "users", "orders", "invoices") == before
    shown = invoke("retention", "show", env=env)
    assert shown.exit_code == 2
    assert "error: cleanup-old-sessions rule for table 'users': orders.user_id: refers to " in (
        shown.stdout
    )


def test_a_cascade_two_levels_down_is_named_until_the_rules_list_it(
    tmp_path: Path, engine: Engine, db_url: str
) -> None:
    """orders declared as a child: invoices (orders' own cascade) would still go uncounted, so
    it is named; listed in `cascades`, the run deletes the 100 old users and their 200 orders
    (counted), and the database their 200 invoices; the recent users keep everything."""
    _shop(engine)
    result = invoke("cleanup-old-sessions", env=_env(tmp_path, db_url, USERS + ORDERS))
    assert result.exit_code == 2, result.stderr
    assert (
        "invoices.order_id: refers to orders ON DELETE CASCADE: deleting a orders row (deleted "
        "with an old users row) would delete its invoices rows too" in result.stderr
    ), result.stderr
    assert 'cascades = [{ table = "invoices", foreign_key = "order_id" }]' in result.stderr
    assert _counts(engine, "users", "orders", "invoices") == {
        "users": 110, "orders": 220, "invoices": 220,
    }  # fmt: skip

    env = _env(tmp_path, db_url, USERS + ORDERS + INVOICES)
    result = invoke("cleanup-old-sessions", "-o", "json", env=env)
    assert result.exit_code == 0, result.stderr
    (table,) = json.loads(result.stdout)["tables"]
    assert (table["deleted"], table["children_deleted"]) == (100, 200)
    assert _counts(engine, "users", "orders", "invoices") == {
        "users": 10, "orders": 20, "invoices": 20,
    }  # fmt: skip


def test_a_cascades_entry_that_reaches_nothing_is_an_error(
    tmp_path: Path, engine: Engine, db_url: str
) -> None:
    _shop(engine)
    body = USERS + ORDERS + INVOICES.replace("order_id", "id")
    result = invoke("cleanup-old-sessions", env=_env(tmp_path, db_url, body))
    assert result.exit_code == 2, result.stderr
    assert "invoices.id: is listed in `cascades`, but no ON DELETE CASCADE key" in result.stderr


TREE = [
    "CREATE TABLE nodes (id INTEGER PRIMARY KEY, created_at TIMESTAMP NOT NULL, "
    "parent_id INTEGER REFERENCES nodes (id) ON DELETE {action})",
    "CREATE INDEX nodes_created ON nodes (created_at)",
    "CREATE INDEX nodes_parent ON nodes (parent_id)",
]
NODES = '[[cleanup-old-sessions]]\ntable = "nodes"\nage = "created_at"\ndays = 30\n'


def _tree(engine: Engine, action: str) -> None:
    """10 old roots, each with one recent child."""
    with engine.begin() as conn:
        for ddl in TREE:
            conn.execute(text(ddl.format(action=action)))
        roots = [{"i": i, "c": OLD, "p": None} for i in range(1, 11)]
        children = [{"i": 100 + i, "c": NEW, "p": i} for i in range(1, 11)]
        conn.execute(text("INSERT INTO nodes VALUES (:i, :c, :p)"), roots + children)


def test_a_self_referencing_cascade_that_would_take_recent_rows_is_refused(
    tmp_path: Path, engine: Engine, db_url: str
) -> None:
    """Before, the 10 recent children went with their old parents. Also as a declared child
    (one level counted, the rest of the tree by cascade)."""
    _tree(engine, "CASCADE")
    for body in (NODES, NODES + 'children = [{ table = "nodes", foreign_key = "parent_id" }]\n'):
        result = invoke("cleanup-old-sessions", env=_env(tmp_path, db_url, body))
        assert result.exit_code == 2, result.stderr
        assert "nodes.parent_id: refers to nodes ON DELETE CASCADE: deleting " in result.stderr
        assert "however recent" in result.stderr and "ON DELETE SET NULL" in result.stderr
    assert _counts(engine, "nodes") == {"nodes": 20}
    opted = NODES + 'cascades = [{ table = "nodes", foreign_key = "parent_id" }]\n'
    result = invoke("cleanup-old-sessions", env=_env(tmp_path, db_url, opted))
    assert result.exit_code == 0, result.stderr  # the explicit opt-in
    assert _counts(engine, "nodes") == {"nodes": 0}


def test_set_null_is_a_warning_and_the_recent_rows_stay(
    tmp_path: Path, engine: Engine, db_url: str
) -> None:
    _tree(engine, "SET NULL")
    env = _env(tmp_path, db_url, NODES)
    result = invoke("cleanup-old-sessions", env=env)
    assert result.exit_code == 0, result.stderr
    assert "nodes.parent_id: refers to nodes ON DELETE SET NULL" in result.stderr
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT id, parent_id FROM nodes ORDER BY id")).all()
    assert [tuple(r) for r in kept] == [(100 + i, None) for i in range(1, 11)]


@pytest.mark.parametrize("action", ["NO ACTION", "RESTRICT"])
def test_an_old_row_held_by_a_key_without_cascade_is_named(
    tmp_path: Path, engine: Engine, db_url: str, action: str
) -> None:
    """The check warns of the key; the run that stops at the held row says which key holds it
    and what to do (before: a generic "database error", every run)."""
    _shop(engine, orders=action)
    env = _env(tmp_path, db_url, USERS)
    shown = invoke("retention", "show", env=env)
    assert f"warning: cleanup-old-sessions rule for table 'users': orders.user_id: refers to " \
        f"users ON DELETE {action}: an old users row that orders rows still refer to cannot " \
        "be deleted" in shown.stdout, shown.stdout  # fmt: skip
    assert 'add `children = [{ table = "orders", foreign_key = "user_id" }]`' in shown.stdout
    result = invoke("cleanup-old-sessions", env=env)
    assert result.exit_code == 1, result.stderr
    assert "cannot delete a row that rows of another table still refer to" in result.stderr
    assert "Add that table to the rule's `children`" in result.stderr
    assert "database error" not in result.stderr
    if "postgresql" in db_url:
        assert 'violates foreign key constraint "orders_user_id_fkey"' in result.stderr
        assert 'is still referenced from table "orders"' in result.stderr
    assert _counts(engine, "users") == {"users": 110}
    result = invoke("cleanup-old-sessions", env=_env(tmp_path, db_url, USERS + ORDERS + INVOICES))
    assert result.exit_code == 0, result.stderr
    assert _counts(engine, "users", "orders", "invoices") == {
        "users": 10, "orders": 20, "invoices": 20,
    }  # fmt: skip


def test_the_built_in_rules_refuse_a_cascade_of_the_apps_own(engine: Engine, db_url: str) -> None:
    """No rules file: the built-in tables, with an app table of its own that cascades from
    chat_sessions. Deleting old sessions would take its rows too: exit 2, nothing deleted."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE feedback (id INTEGER PRIMARY KEY, "
                "session_id INTEGER REFERENCES chat_sessions (id) ON DELETE CASCADE)"
            )
        )
        conn.execute(
            text("INSERT INTO chat_sessions (id, user_id, created_at) VALUES (1, 'u', :c)"),
            {"c": OLD - timedelta(days=90)},
        )
        conn.execute(text("INSERT INTO feedback VALUES (1, 1)"))
    result = invoke("cleanup-old-sessions", env={"DATABASE_URL": db_url})
    assert result.exit_code == 2, result.stderr
    assert "rule for table 'chat_sessions': feedback.session_id: refers to chat_sessions ON " \
        "DELETE CASCADE" in result.stderr  # fmt: skip
    assert _counts(engine, "chat_sessions", "feedback") == {"chat_sessions": 1, "feedback": 1}
    assert invoke("aggregate-daily-analytics", env={"DATABASE_URL": db_url}).exit_code == 0


def test_retention_show_says_which_rows_go_by_cascade(tmp_path: Path) -> None:
    body = USERS + ORDERS + INVOICES
    shown = invoke("retention", "show", env=_env(tmp_path, "", body) | {"DATABASE_URL": ""})
    assert shown.exit_code == 0, shown.stderr
    assert (
        "users (key id): older than 30 days by created_at; with orders.user_id; "
        "invoices.order_id by its ON DELETE CASCADE (uncounted)" in shown.stdout
    ), shown.stdout


def test_postgresql_a_partitioned_table_s_cascade_is_named_once(
    tmp_path: Path, pg_engine: Engine
) -> None:
    """Each partition of a partitioned table carries a copy of its foreign key: one finding."""
    from cronjobs.retention.rules import load
    from cronjobs.retention.schema_check import check

    with pg_engine.begin() as conn:
        conn.execute(text(SHOP[0]))
        conn.execute(text(SHOP[1]))
        conn.execute(
            text(
                "CREATE TABLE visits (id INTEGER, at DATE, user_id INTEGER REFERENCES users (id) "
                "ON DELETE CASCADE) PARTITION BY RANGE (at)"
            )
        )
        for year in (2025, 2026):
            conn.execute(
                text(
                    f"CREATE TABLE visits_{year} PARTITION OF visits "
                    f"FOR VALUES FROM ('{year}-01-01') TO ('{year + 1}-01-01')"
                )
            )
    path = tmp_path / "rules.toml"
    path.write_text(USERS)
    errors = [str(f) for f in check(pg_engine, load(str(path))) if f.level == "error"]
    assert [e.split(": refers")[0] for e in errors] == [
        "cleanup-old-sessions rule for table 'users': visits.user_id"
    ], errors
