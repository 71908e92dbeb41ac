"""health-check against real PostgreSQL and Redis servers and Qdrant's local mode."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from tests.jobs.helpers import invoke


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_all_dependencies_healthy(pg_db_url: str, redis_proc: Any, tmp_path: Path) -> None:
    from qdrant_client import QdrantClient

    QdrantClient(path=str(tmp_path / "q")).close()
    env = {
        "DATABASE_URL": pg_db_url,
        "REDIS_URL": f"redis://{redis_proc.host}:{redis_proc.port}/0",
        "QDRANT_PATH": str(tmp_path / "q"),
    }
    result = invoke("health-check", "-o", "json", env=env)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["healthy"] is True
    assert [(c["name"], c["status"]) for c in report["checks"]] == [
        ("database", "ok"),
        ("redis", "ok"),
        ("qdrant", "ok"),
    ]
    assert all(c["latency_ms"] >= 0 for c in report["checks"])


def test_database_down_fails_and_unconfigured_is_skipped() -> None:
    env = {
        "DATABASE_URL": f"postgresql://app:s3cr3tpw@127.0.0.1:{closed_port()}/app",
        "CRONJOBS_TIMEOUT": "1",
    }
    result = invoke("health-check", env=env)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("database  failed")
    assert lines[1] == "redis     skipped (not configured)"
    assert lines[2] == "qdrant    skipped (not configured)"
    assert lines[-1] == "UNHEALTHY"
    assert "s3cr3tpw" not in result.stdout + result.stderr


def test_nothing_configured_is_a_configuration_error() -> None:
    result = invoke("health-check")
    assert result.exit_code == 2
    assert "Error: nothing to check: set at least one of DATABASE_URL" in result.stderr
