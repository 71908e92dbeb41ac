"""`cronjobs demo`: the README's first command, on the embedded default."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, func, select

from cronjobs.retention.models import analytics_events, chat_sessions, daily_analytics
from tests.jobs.helpers import cronjobs

STEPS = (
    "seed",
    "aggregate-daily-analytics",
    "cleanup-old-sessions",
    "cleanup-old-analytics",
    "cleanup-redis-cache",
    "health-check",
)
"""The demo's steps, in order."""


def test_demo_runs_every_job_and_reports(tmp_path: Path) -> None:
    result = cronjobs(
        "demo",
        "--dir",
        str(tmp_path / "demo"),
        "--sessions",
        "300",
        "--events",
        "4000",
        "-o",
        "json",
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    steps = {s["command"]: s for s in outcome["steps"]}
    assert list(steps) == list(STEPS)
    assert steps["cleanup-redis-cache"]["status"] == "skipped"
    assert all(s["status"] == "ok" for c, s in steps.items() if c != "cleanup-redis-cache")
    assert "qdrant    ok" in "\n".join(steps["health-check"]["lines"])

    engine = create_engine(f"sqlite:///{tmp_path / 'demo' / 'demo.db'}")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(chat_sessions)) > 0
        assert conn.scalar(select(func.count()).select_from(daily_analytics)) > 0
        oldest = conn.scalar(select(func.min(analytics_events.c.occurred_at)))
        newest = conn.scalar(select(func.max(analytics_events.c.occurred_at)))
    assert (newest - oldest).days <= 366, "events older than a year were deleted"
    engine.dispose()


def test_demo_text_output_names_each_job(tmp_path: Path) -> None:
    result = cronjobs(
        "demo", "--dir", str(tmp_path), "--sessions", "50", "--events", "500", timeout=120
    )
    assert result.returncode == 0, result.stderr
    for command in (
        "aggregate-daily-analytics",
        "cleanup-old-sessions",
        "cleanup-old-analytics",
        "cleanup-redis-cache: skipped",
        "health-check: ok",
    ):
        assert f"== {command}" in result.stdout


def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "qdrant").mkdir()
    (tmp_path / "qdrant" / "precious").write_text("real data")
    result = cronjobs("demo", "--dir", str(tmp_path))
    assert result.returncode == 2
    assert "is not empty and was not made by `cronjobs demo`" in result.stderr
    assert (tmp_path / "qdrant" / "precious").read_text() == "real data"


def test_demo_shows_a_line_per_step_and_keeps_the_logs_in_a_file(tmp_path: Path) -> None:
    args = ("demo", "--dir", str(tmp_path), "--sessions", "50", "--events", "500")
    result = cronjobs("--log-format", "text", *args, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [f"running {step} ..." for step in STEPS]
    logged = [json.loads(line) for line in (tmp_path / "demo.log").read_text().splitlines()]
    assert {e["job"] for e in logged if e["message"] == "finished"} >= {"cleanup-old-sessions"}
    assert f"logs:     {tmp_path / 'demo.log'}" in result.stdout
    verbose = cronjobs("--log-format", "text", "-v", *args, timeout=120)
    assert verbose.returncode == 0 and "INFO" in verbose.stderr
