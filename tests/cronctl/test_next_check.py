"""`cronctl next` (with DST marks) and `cronctl check` (exit 0 healthy, 1 with one line per
problem), through the real CLI against the emulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cronjobs.cronctl.model import SUSPENDED_AT, SUSPENDED_BY
from tests.cronctl.conftest import Cluster, ts

NAME = "web-cronjobs-cleanup-old-sessions"


def test_next_marks_the_run_spring_forward_skips(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, "30 2 * * *", time_zone="America/New_York")

    result = cluster.run("next", NAME, "--count", "2", "--from", "2025-03-08T12:00Z")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"CronJob {NAME}: 30 2 * * * (At 02:30) in America/New_York",
        "LOCAL (America/New_York)   UTC                    NOTE",
        "2025-03-09 02:30           -                      skipped: this time does not exist "
        "that day (clocks spring forward)",
        "2025-03-10 02:30 -0400     2025-03-10 06:30 UTC",
        "2025-03-11 02:30 -0400     2025-03-11 06:30 UTC",
    ]


def test_next_json_marks_the_doubled_run_of_fall_back(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, "30 1 * * *", time_zone="America/New_York")

    result = cluster.run("next", NAME, "--count", "3", "--from", "2025-11-01T12:00Z", "-o", "json")

    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == [
        "name", "namespace", "schedule", "time_zone", "suspended", "never_runs", "runs"
    ]  # fmt: skip
    assert data["runs"] == [
        {
            "at": "2025-11-02T05:30:00Z",
            "local": "2025-11-02T01:30",
            "utc_offset": "-0400",
            "dst": "repeated",
        },
        {
            "at": "2025-11-02T06:30:00Z",
            "local": "2025-11-02T01:30",
            "utc_offset": "-0500",
            "dst": "repeated",
        },
        {
            "at": "2025-11-03T06:30:00Z",
            "local": "2025-11-03T01:30",
            "utc_offset": "-0500",
            "dst": None,
        },
    ]


def test_next_of_a_suspended_or_every_cronjob(cluster: Cluster) -> None:
    cluster.add_cronjob(
        NAME,
        "@every 2h",
        suspend=True,
        deadline=None,
        status={"lastScheduleTime": "2025-06-01T10:07:00Z"},
    )
    result = cluster.run("next", NAME, "--count", "2", "--from", "2025-06-01T11:00Z")
    assert result.exit_code == 0, result.stderr
    assert "is suspended: these runs happen only once it is resumed" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"CronJob {NAME}: @every 2h (Every 2h from the last run) in UTC"
    assert [line.split()[3:5] for line in lines[2:]] == [
        ["2025-06-01", "12:07"],
        ["2025-06-01", "14:07"],
    ]
    bad = cluster.run("next", NAME, "--from", "tomorrow")
    assert bad.exit_code == 2 and "'tomorrow' is not an ISO time" in bad.stderr


def test_check_healthy_exits_0(cluster: Cluster) -> None:
    now = datetime.now(UTC)
    for name in (NAME, "web-cronjobs-health-check"):
        cj = cluster.add_cronjob(name, "0 * * * *", created=now - timedelta(days=3))
        cluster.add_job(cj, f"{name}-1", "Succeeded", started=now - timedelta(minutes=50))

    result = cluster.run("check", "--all")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "OK: 2 CronJob(s) healthy\n"


def test_check_reports_each_problem_and_exits_1(cluster: Cluster) -> None:
    now = datetime.now(UTC)
    stale = cluster.add_cronjob(NAME, "0 2 * * *", created=now - timedelta(days=10))
    cluster.add_job(stale, f"{NAME}-1", "Succeeded", started=now - timedelta(days=3))
    failing = cluster.add_cronjob("web-cronjobs-health-check", "*/30 * * * *")
    for i in range(3):
        cluster.add_job(
            failing,
            f"web-cronjobs-health-check-{i}",
            "Failed",
            started=now - timedelta(minutes=40 - 10 * i),
        )
    cluster.add_cronjob(
        "web-cronjobs-cleanup-redis-cache",
        "0 */6 * * *",
        suspend=True,
        annotations={SUSPENDED_BY: "bob", SUSPENDED_AT: ts(now - timedelta(days=2))},
    )

    result = cluster.run("check", "--all")

    ns = cluster.namespace
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{ns}/web-cronjobs-cleanup-old-sessions: no successful run within 2d0h (last success "
        "2d23h ago)",
        f"{ns}/web-cronjobs-cleanup-redis-cache: suspended for 2d0h, over 12h00m",
        f"{ns}/web-cronjobs-health-check: the last 3 runs failed",
    ]

    tolerant = cluster.run("check", "web-cronjobs-health-check", "--max-failures", "3")
    assert tolerant.exit_code == 0, tolerant.stdout

    as_json = cluster.run(
        "check",
        NAME,
        "web-cronjobs-cleanup-redis-cache",
        "--max-age",
        "4d",
        "--max-suspended",
        "1d",
        "-o",
        "json",
    )
    assert as_json.exit_code == 1
    data = json.loads(as_json.stdout)
    assert data["ok"] is False
    assert [(c["name"], c["ok"], c["window_seconds"]) for c in data["checked"]] == [
        (NAME, True, 4 * 86400.0),
        ("web-cronjobs-cleanup-redis-cache", False, 4 * 86400.0),
    ]
    assert list(data["checked"][0]) == ["name", "namespace", "ok", "window_seconds", "problems"]


def test_check_usage_errors_exit_2(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    bare = cluster.run("check")
    assert bare.exit_code == 2 and "name the CronJobs, or pass -l SELECTOR, or --all" in bare.stderr
    bad = cluster.run("check", NAME, "--max-age", "soon")
    assert bad.exit_code == 2 and "'soon' is not a duration: use e.g. 90m, 36h, 7d" in bad.stderr
    both = cluster.run("check", NAME, "--all")
    assert both.exit_code == 2 and "not both" in both.stderr


def test_check_costs_three_requests_whatever_the_number_of_cronjobs(cluster: Cluster) -> None:
    for i in range(30):
        cluster.add_cronjob(f"web-cronjobs-job-{i}")
    calls = cluster.emulator.calls
    before = len(calls)
    result = cluster.run("check", "--all", "-o", "json")
    assert len(json.loads(result.stdout)["checked"]) == 30
    paths = [p.split("?")[0].rsplit("/", 1)[-1] for _, p in calls[before:]]
    assert paths == ["cronjobs", "jobs", "configmaps"]  # the last: the keeper's ledgers
