"""Each run's one-line JSON summary in the termination message file, as cronctl reads it back."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cronjobs.cronctl.results import parse_summary
from tests.jobs.helpers import cronjobs
from tests.jobs.test_health import closed_port


def _summary(path: Path) -> dict[str, object]:
    lines = path.read_text().splitlines()
    assert len(lines) == 1, lines
    parsed, rest = parse_summary(lines[0])
    assert parsed is not None and rest is None, "cronctl would not read it as a summary"
    return parsed


def test_a_healthy_run_writes_its_outcome_and_counts(tmp_path: Path) -> None:
    from qdrant_client import QdrantClient

    QdrantClient(path=str(tmp_path / "q")).close()
    log = tmp_path / "termination-log"
    result = cronjobs(
        "health-check",
        env={"QDRANT_PATH": str(tmp_path / "q"), "CRONJOBS_TERMINATION_LOG": str(log)},
    )
    assert result.returncode == 0, result.stderr
    summary = _summary(log)
    assert summary["job"] == "health-check" and summary["outcome"] == "ok"
    assert summary["exit_code"] == 0 and re.fullmatch(r"[0-9a-f]{12}", str(summary["run_id"]))
    assert summary["counts"] == {"ok": 1, "failed": 0, "skipped": 2}
    started = json.loads(result.stderr.splitlines()[0])
    assert started["run_id"] == summary["run_id"], "the summary names the run its logs carry"


@pytest.mark.parametrize(
    ("env", "code", "outcome"),
    [
        ({"DATABASE_URL": "postgresql://app:Hunter2pw@127.0.0.1:{port}/app"}, 1, "failed"),
        (
            {"DATABASE_URL": "postgresql://app:Hunter2pw@@127.0.0.1:{port}/app"},
            2,
            "configuration error",
        ),
    ],
)
def test_a_failed_run_writes_its_exit_code_and_the_scrubbed_error(
    tmp_path: Path, env: dict[str, str], code: int, outcome: str
) -> None:
    log = tmp_path / "termination-log"
    filled = {k: v.format(port=closed_port()) for k, v in env.items()}
    result = cronjobs(
        "cleanup-old-sessions",
        env={**filled, "CRONJOBS_TIMEOUT": "1", "CRONJOBS_TERMINATION_LOG": str(log)},
    )
    assert result.returncode == code, result.stderr
    summary = _summary(log)
    assert (summary["exit_code"], summary["outcome"]) == (code, outcome)
    assert summary["job"] == "cleanup-old-sessions" and summary["error"]
    assert "Hunter2pw" not in log.read_text()


def test_the_default_file_is_written_only_where_the_kubelet_made_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off a pod there is no /dev/termination-log: nothing is created (run as root, a write
    would otherwise leave a file in /dev)."""
    from cronjobs import summary

    default = tmp_path / "termination-log"
    monkeypatch.setattr(summary, "DEFAULT_PATH", str(default))
    assert summary.write('{"job": "x"}', environ={}) is False
    assert not default.exists()
    default.touch()  # what the kubelet does in a container
    assert summary.write('{"job": "x"}', environ={}) is True
    assert default.read_text() == '{"job": "x"}\n'


def test_the_cleanups_summaries_carry_what_they_deleted(tmp_path: Path) -> None:
    """The built-in database jobs' summaries count their work (cronctl history shows them)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import create_engine, insert

    from cronjobs.retention.models import analytics_events, metadata
    from tests.jobs.helpers import insert_sessions

    db = tmp_path / "app.db"
    engine = create_engine(f"sqlite:///{db}")
    metadata.create_all(engine)
    now = datetime.now(UTC)
    old = now - timedelta(days=400)
    insert_sessions(engine, [(1, old, None), (2, now, None)], messages_per_session=2)
    with engine.begin() as conn:
        conn.execute(
            insert(analytics_events), [{"event_type": "view", "user_id": "u", "occurred_at": old}]
        )
    engine.dispose()
    log = tmp_path / "termination-log"
    env = {"DATABASE_URL": f"sqlite:///{db}", "CRONJOBS_TERMINATION_LOG": str(log)}
    sessions = cronjobs("cleanup-old-sessions", env=env)
    assert sessions.returncode == 0, sessions.stderr
    counts = _summary(log)["counts"]
    assert counts == {"deleted": 2, "child_rows": 2, "in_use": 0}  # a chat and a peptide session
    analytics = cronjobs("cleanup-old-analytics", env=env)
    assert analytics.returncode == 0, analytics.stderr
    assert _summary(log)["counts"] == {
        "deleted": 1,
        "in_use": 0,
        "kept": 0,
        "partitions_dropped": 0,
        "partition_events": 0,
    }
