"""Run results: the list's new columns (LAST FAILURE, STREAK, MISSED, suspended-for, TRIGGER),
exit codes and termination-message summaries read from pods, and `trigger --wait` exiting with
the job's own code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from cronjobs.cronctl.model import SUSPENDED_AT, SUSPENDED_BY
from tests.cronctl.conftest import Cluster, ts
from tests.cronctl.emulator import Outcome, simulate_controller

NAME = "web-cronjobs-cleanup-old-sessions"
SUMMARY = {
    "job": "cleanup-old-sessions",
    "run_id": "9c1e",
    "exit_code": 0,
    "outcome": "ok",
    "counts": {"deleted": 12},
    "duration_seconds": 1.93,
}


def test_list_shows_last_failure_streak_missed_suspended_for_and_trigger(
    cluster: Cluster,
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    failing = cluster.add_cronjob("web-cronjobs-health-check", "*/30 * * * *")
    for i in range(4):
        result = "Succeeded" if i == 0 else "Failed"
        started = now - timedelta(minutes=100 - 30 * i)
        cluster.add_job(failing, f"web-cronjobs-health-check-{i}", result, started=started)
    cluster.add_job(
        failing,
        "web-cronjobs-health-check-m",
        "Failed",
        manual=True,
        started=now - timedelta(minutes=5),
    )
    base = now.replace(minute=now.minute - now.minute % 10)  # ticks of */10 fall on it
    paused = cluster.add_cronjob(
        NAME,
        "*/10 * * * *",
        suspend=True,
        deadline=None,
        created=base - timedelta(hours=3),
        keep=(100, 100),
        annotations={SUSPENDED_BY: "bob", SUSPENDED_AT: ts(base - timedelta(hours=2))},
    )
    # Down for the ticks -2h50, -2h40, -2h30; back at -2h20 it starts only that one; runs
    # -2h10; suspended from -2h.
    history = simulate_controller(
        paused,
        base,
        down=[(base - timedelta(hours=2, minutes=55), base - timedelta(hours=2, minutes=20))],
        suspended=[(base - timedelta(hours=2), None)],
    )
    cluster.add_history(paused, history)

    table = cluster.run("list", "-o", "wide")

    assert table.exit_code == 0, table.stderr
    header, cleanup, health = table.stdout.splitlines()
    columns = ["LAST FAILURE", "STREAK", "MISSED", "NEXT RUN", "TRIGGER"]
    assert all(c in header for c in columns)
    assert "yes (2h" in cleanup
    health_cells = health.split("   ")
    assert "manual" in health_cells  # the newest run was triggered by hand
    assert "4 failed" in health  # the manual run and the three scheduled before it
    data = {i["name"]: i for i in json.loads(cluster.run("list", "-o", "json").stdout)}
    assert data[NAME]["suspended_for_seconds"] == pytest.approx(7200, abs=700)
    assert data[NAME]["missed"] == 3  # the outage's ticks in the last 24h, suspension aside
    assert len(history.jobs) == 2
    assert data[NAME]["streak"] == {"result": "Succeeded", "count": 2}
    assert data["web-cronjobs-health-check"]["streak"] == {"result": "Failed", "count": 4}
    assert data["web-cronjobs-health-check"]["last_trigger"] == "manual"
    assert data["web-cronjobs-health-check"]["last_failure"] is not None
    assert data[NAME]["last_failure"] is None


def test_describe_and_history_show_exit_codes_and_summaries_without_logs(
    cluster: Cluster,
) -> None:
    now = datetime.now(UTC)
    cj = cluster.add_cronjob(NAME)
    cluster.add_job(cj, f"{NAME}-1", "Succeeded", started=now - timedelta(hours=2))
    cluster.add_job(cj, f"{NAME}-2", "Failed", started=now - timedelta(hours=1))
    cluster.add_pod(
        f"{NAME}-1", f"{NAME}-1-aaaaa", "", cronjob=cj, exit_code=0, message=json.dumps(SUMMARY)
    )
    cluster.add_pod(
        f"{NAME}-2",
        f"{NAME}-2-bbbbb",
        "",
        "Failed",
        cronjob=cj,
        exit_code=1,
        message="Error: cannot reach the database at db:5432\n",  # FallbackToLogsOnError
    )
    calls = cluster.emulator.calls
    before = len(calls)

    described = cluster.run("describe", NAME)

    assert described.exit_code == 0, described.stderr
    assert "log" not in [p.split("?")[0].rsplit("/", 1)[-1] for _, p in calls[before:]]
    out = described.stdout
    assert (
        "Last failure:       " in out and f"{NAME}-2: BackoffLimitExceeded, exit 1 (FAILED:" in out
    )
    assert "Streak:             1 failed" in out
    assert (
        f"Run results (from the termination message):\n  {NAME}-1: deleted=12 in 1.9s (run 9c1e)"
        in out
    )

    history = cluster.run("history", NAME, "-o", "wide")
    rows = history.stdout.splitlines()
    assert rows[0].split()[:7] == [
        "JOB",
        "TRIGGER",
        "STARTED",
        "DURATION",
        "RESULT",
        "EXIT",
        "SUMMARY",
    ]
    assert rows[1].split()[:2] == [f"{NAME}-2", "scheduled"] and " 1 " in rows[1]
    assert "deleted=12 in 1.9s (run 9c1e)" in rows[2]
    runs = json.loads(cluster.run("history", NAME, "-o", "json").stdout)
    assert runs[1]["summary"] == SUMMARY and runs[1]["exit_code"] == 0
    assert runs[0]["termination_message"] == "Error: cannot reach the database at db:5432"
    assert runs[0]["reason"] == "BackoffLimitExceeded"


@pytest.mark.parametrize(
    ("code", "exit_code"),
    [(2, 2), (3, 3), (4, 4), (1, 1), (137, 1), (5, 1)],
)
def test_trigger_wait_exits_with_the_jobs_own_code(
    cluster: Cluster, code: int, exit_code: int
) -> None:
    """2 configuration, 3 skipped, 4 interrupted pass through; any other failure is 1 (a 5
    from the job is not cronctl's timeout)."""
    cluster.add_cronjob(NAME)
    message = json.dumps(
        {**SUMMARY, "exit_code": code, "outcome": "failed", "error": "REDIS_URL is not set"}
    )
    cluster.emulator.job_outcomes[cluster.namespace] = Outcome(
        "Failed", exit_code=code, message=message
    )

    result = cluster.run("trigger", NAME, "--wait")

    assert result.exit_code == exit_code, result.stderr
    assert f"exit code {code} (" in result.stderr
    history = cluster.run("history", NAME, "-o", "wide").stdout
    assert "error: REDIS_URL is not set" in history


def test_trigger_wait_json_carries_the_summary(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    cluster.emulator.job_outcomes[cluster.namespace] = Outcome(
        "Succeeded", exit_code=0, message=json.dumps(SUMMARY)
    )
    result = cluster.run("trigger", NAME, "--wait", "-o", "json")
    assert result.exit_code == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["exit_code"] == 0 and run["summary"] == SUMMARY
