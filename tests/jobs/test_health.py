"""health-check against real PostgreSQL and Redis servers and Qdrant's local mode."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

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


class _SlowQdrant(BaseHTTPRequestHandler):
    """A stand-in for a Qdrant server (none can run here) that answers correctly, but late."""

    delay = 0.0

    def do_GET(self) -> None:
        if self.path.startswith("/collections"):
            time.sleep(self.delay)
        body = json.dumps({"result": {"collections": []}, "status": "ok", "time": 0}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def slow_qdrant() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowQdrant)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_dependency_that_answers_after_the_timeout_fails(slow_qdrant: str) -> None:
    _SlowQdrant.delay = 1.5
    result = invoke(
        "health-check", "-o", "json", env={"QDRANT_URL": slow_qdrant, "CRONJOBS_TIMEOUT": "0.5"}
    )
    assert result.exit_code == 1, result.stderr
    qdrant = json.loads(result.stdout)["checks"][2]
    assert qdrant["status"] == "failed"
    assert qdrant["detail"] == "no answer within the timeout of 0.5 s"
    _SlowQdrant.delay = 0.0
    prompt = invoke(
        "health-check", "-o", "json", env={"QDRANT_URL": slow_qdrant, "CRONJOBS_TIMEOUT": "2"}
    )
    assert prompt.exit_code == 0, prompt.stderr


def test_latency_is_the_round_trip_not_the_library_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow import (qdrant-client takes ~0.7 s cold) is neither latency nor held against the
    timeout: here preparing the client takes 1.5 s and the timeout is 1 s."""
    from qdrant_client import QdrantClient

    from cronjobs.builtin import health

    QdrantClient(path=str(tmp_path / "q")).close()
    prepare = health._qdrant

    def slow_prepare(settings: Any) -> Any:
        time.sleep(1.5)
        return prepare(settings)

    monkeypatch.setattr(health, "_qdrant", slow_prepare)
    result = invoke(
        "health-check",
        "-o",
        "json",
        env={"QDRANT_PATH": str(tmp_path / "q"), "CRONJOBS_TIMEOUT": "1"},
    )
    assert result.exit_code == 0, result.stdout
    qdrant = json.loads(result.stdout)["checks"][2]
    assert qdrant["status"] == "ok" and qdrant["latency_ms"] < 1000
