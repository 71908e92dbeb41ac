"""Settings the drivers refuse are configuration errors (exit 2, one line, nothing touched),
not failures Kubernetes would retry; checks never write where they look."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.jobs.helpers import insert_sessions, invoke


def _error_line(result: object) -> str:
    lines = [x for x in result.stderr.splitlines() if x.startswith("Error: ")]  # type: ignore[attr-defined]
    assert len(lines) == 1, result.stderr  # type: ignore[attr-defined]
    return lines[0]


@pytest.mark.parametrize("option", ["foo=bar", "protocol=9"])
def test_a_redis_url_option_redis_py_refuses_is_exit_2(option: str) -> None:
    result = invoke("cleanup-redis-cache", env={"REDIS_URL": f"redis://:pw@127.0.0.1:1/0?{option}"})
    assert result.exit_code == 2, result.stderr
    assert "REDIS_URL has an option redis-py does not accept" in _error_line(result)
    assert ":pw@" not in result.stderr


@pytest.mark.parametrize(
    "option", ["sslmode=bogus", "target_session_attrs=bogus", "nope=1", "keepalives=abc"]
)
def test_a_database_url_option_libpq_refuses_is_exit_2(option: str) -> None:
    url = f"postgresql://u:pw@127.0.0.1:1/db?{option}"
    result = invoke("cleanup-old-sessions", env={"DATABASE_URL": url})
    assert result.exit_code == 2, result.stderr
    assert "DATABASE_URL has an option the PostgreSQL driver refuses" in _error_line(result)


def test_a_file_that_is_not_sqlite_is_exit_2_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    path.write_text("root:x:0:0:root:/root:/bin/bash\n" * 40)
    before = path.read_bytes()
    result = invoke("cleanup-old-sessions", "--dry-run", env={"DATABASE_URL": f"sqlite:///{path}"})
    assert result.exit_code == 2, result.stderr
    assert "which is not a SQLite database file" in _error_line(result)
    assert "[SQL:" not in result.stderr and path.read_bytes() == before


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite:///:memory:"])
def test_init_db_refuses_an_in_memory_database(url: str) -> None:
    result = invoke("init-db", env={"DATABASE_URL": url})
    assert result.exit_code == 2
    assert "in-memory SQLite database" in _error_line(result)


def test_init_db_dry_run_creates_no_file(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    result = invoke("init-db", "--dry-run", env={"DATABASE_URL": f"sqlite:///{path}"})
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("would create: ") and "chat_sessions" in result.stdout
    assert not path.exists()


def test_health_check_leaves_a_folder_that_is_no_qdrant_store_alone(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("not a store")
    result = invoke("health-check", "--qdrant-path", str(tmp_path), "-o", "json")
    assert result.exit_code == 1
    qdrant = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "qdrant")
    assert "no Qdrant local store" in qdrant["detail"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["readme.txt"]


def test_an_api_key_over_http_is_a_log_line_not_a_raw_warning() -> None:
    env = {"QDRANT_URL": "http://127.0.0.1:1", "QDRANT_API_KEY": "Qk3y-Qk3y-Qk3y"}
    result = invoke("health-check", "--timeout", "0.5", env=env)
    logged = [json.loads(x) for x in result.stderr.splitlines() if x.startswith("{")]
    rest = [x for x in result.stderr.splitlines() if not x.startswith(("{", "Error: "))]
    assert rest == [], result.stderr
    assert any("plain http" in x["message"] for x in logged)


def test_a_ttl_redis_cannot_store_is_refused_before_the_run() -> None:
    result = invoke(
        "cleanup-redis-cache",
        "--fix-missing-ttl",
        "99999999999999999",
        env={"REDIS_URL": "redis://127.0.0.1:1/0"},
    )
    assert result.exit_code == 2 and "--fix-missing-ttl" in result.stderr


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", ""])
def test_a_connect_timeout_that_is_not_whole_seconds_is_exit_2_and_nothing_is_touched(
    pg_engine: Engine, pg_db_url: str, value: str
) -> None:
    """Issue 23: `?connect_timeout=abc` reached a live server (the jobs' own connect timeout
    replaced it) and the run deleted as if nothing were wrong: exit 0."""
    old = datetime.now(UTC) - timedelta(days=400)
    insert_sessions(pg_engine, [(1, old, old)])
    result = invoke(
        "cleanup-old-sessions", env={"DATABASE_URL": f"{pg_db_url}?connect_timeout={value}"}
    )
    assert result.exit_code == 2, result.stderr
    assert f"DATABASE_URL has connect_timeout={value!r}: it is a whole number of seconds" in (
        _error_line(result)
    )
    with pg_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM chat_sessions")) == 1
