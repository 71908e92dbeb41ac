"""Every run knows its tick, end to end: a run the CronJob controller started for 23:30 on Dec 1
(its Job name says so) aggregates Nov 30, the day before its tick, whenever it actually runs (the
wall clock here is days later), and logs and summarises the tick; `--scheduled-at` does the same
for a local run; a malformed time is exit 2 before anything runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.jobs.helpers import REPO

TICK = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
CRONJOB = "maint-cronjobs-aggregate-daily-analytics"


def cronjobs(*args: str, env: dict[str, str], tmp: Path) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CRONJOBS_"))}
    full.update({"PYTHONPATH": str(REPO), "CRONJOBS_LOG_FORMAT": "json", **env})
    full["CRONJOBS_TERMINATION_LOG"] = str(tmp / "termination-log")
    return subprocess.run(
        [sys.executable, "-m", "cronjobs", *args], capture_output=True, text=True, env=full,
        timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/app.db"
    done = cronjobs("init-db", "--database-url", url, env={}, tmp=tmp_path)
    assert done.returncode == 0, done.stderr
    engine = create_engine(url)
    with engine.begin() as conn:
        for day, n in ((date(2026, 11, 30), 3), (date(2026, 12, 1), 5)):
            for i in range(n):
                conn.execute(
                    text("INSERT INTO analytics_events (event_type, user_id, occurred_at) VALUES ('view', :u, :t)"),
                    {"u": f"u{i}", "t": datetime.combine(day, datetime.min.time()) + timedelta(hours=1)},
                )  # fmt: skip
    engine.dispose()
    return url


def aggregated(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        days = conn.execute(text("SELECT DISTINCT day FROM daily_analytics ORDER BY day")).scalars()
        found = [str(d)[:10] for d in days]
    engine.dispose()
    return found


def test_a_late_scheduled_run_aggregates_the_day_before_its_tick(
    database: str, tmp_path: Path
) -> None:
    minutes = int(TICK.timestamp()) // 60  # the controller's getJobName
    env = {"CRONJOBS_CRONJOB": CRONJOB, "CRONJOBS_JOB_NAME": f"{CRONJOB}-{minutes}"}
    done = cronjobs("aggregate-daily-analytics", "--database-url", database, env=env, tmp=tmp_path)
    assert done.returncode == 0, done.stderr
    assert aggregated(database) == ["2026-11-30"]  # not the wall clock's yesterday
    started = next(json.loads(line) for line in done.stderr.splitlines() if '"started"' in line)
    assert started["scheduled_at"] == "2026-12-01T23:30:00Z" and started["tick_from"] == "job-name"
    summary = json.loads((tmp_path / "termination-log").read_text())
    assert summary["scheduled_at"] == "2026-12-01T23:30:00Z"


def test_scheduled_at_gives_a_local_run_its_tick(database: str, tmp_path: Path) -> None:
    done = cronjobs(
        "aggregate-daily-analytics", "--database-url", database,
        "--scheduled-at", "2026-12-02T01:00:00+01:00", env={}, tmp=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert aggregated(database) == ["2026-12-01"]  # the tick is 00:00 UTC on Dec 2


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00Z"])
def test_a_malformed_tick_is_exit_2_and_nothing_runs(
    database: str, tmp_path: Path, value: str
) -> None:
    by_flag = cronjobs(
        "aggregate-daily-analytics", "--database-url", database, "--scheduled-at", value,
        env={}, tmp=tmp_path,
    )  # fmt: skip
    assert by_flag.returncode == 2 and "--scheduled-at" in by_flag.stderr
    assert "is not a time: give ISO 8601" in by_flag.stderr
    by_env = cronjobs(
        "aggregate-daily-analytics", "--database-url", database,
        env={"CRONJOBS_SCHEDULED_AT": value}, tmp=tmp_path,
    )  # fmt: skip
    assert by_env.returncode == 2 and "CRONJOBS_SCHEDULED_AT" in by_env.stderr
    assert aggregated(database) == []


def test_each_run_in_one_process_resolves_its_own_tick(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--scheduled-at belongs to its run: a second invocation in the same process (CliRunner,
    or the Python API after the CLI) resolves its own tick, and the variable the app's code
    reads is set only while the run holds it. It used to be written to os.environ for good."""
    from click.testing import CliRunner

    from cronjobs.cli import cli

    monkeypatch.delenv("CRONJOBS_SCHEDULED_AT", raising=False)
    args = ["aggregate-daily-analytics", "--dry-run"]
    env = {"DATABASE_URL": database}
    first = CliRunner().invoke(cli, [*args, "--scheduled-at", "2020-06-02T00:30:00Z"], env=env)
    assert first.exit_code == 0, first.output
    assert "2020-06-01: 0 events" in first.stdout  # the day before the tick
    assert "CRONJOBS_SCHEDULED_AT" not in os.environ
    second = CliRunner().invoke(cli, args, env=env)
    assert second.exit_code == 0, second.output
    assert "2020-06-01" not in second.stdout  # the wall clock's yesterday, not the first tick
    from cronjobs.builtin.aggregate_daily_analytics import aggregate_daily_analytics
    from cronjobs.testing import run

    third = run(aggregate_daily_analytics, database_url=database, dry_run=True)
    assert third.exit_code == 0 and "2020-06-01" not in "\n".join(third.lines())
