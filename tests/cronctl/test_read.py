"""cronctl list / describe / history / logs against the emulator, through the real CLI parser."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from cronjobs.cronctl import api
from tests.cronctl.conftest import Cluster, ts


def test_list_table_shows_schedule_in_words_results_and_next_run(cluster: Cluster) -> None:
    now = datetime.now(UTC)
    cj = cluster.add_cronjob(
        "web-cronjobs-health-check",
        "*/30 * * * *",
        time_zone="Europe/Berlin",
        status={"lastScheduleTime": ts(now - timedelta(minutes=20))},
    )
    cluster.add_job(
        cj, "web-cronjobs-health-check-1", "Succeeded", started=now - timedelta(hours=2)
    )
    cluster.add_job(
        cj, "web-cronjobs-health-check-2", "Failed", started=now - timedelta(minutes=20)
    )
    cluster.add_cronjob("web-cronjobs-cleanup-old-sessions", suspend=True)
    cluster.add_cronjob("someone-elses", labels={"app": "other"})

    result = cluster.run("list")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPENDED",
        "ACTIVE",
        "LAST",
        "SCHEDULE",
        "LAST",
        "SUCCESS",
        "LAST",
        "RESULT",
        "LAST",
        "FAILURE",
        "STREAK",
        "MISSED",
        "NEXT",
        "RUN",
    ]
    assert len(lines) == 3  # the other app's CronJob does not match the chart's selector
    cleanup, health = lines[1], lines[2]
    assert "0 2 * * * (At 02:00)" in cleanup and "UTC (default)" in cleanup
    assert "yes" in cleanup and "- (suspended)" in cleanup
    assert "*/30 * * * * (Every 30 minutes)" in health and "Europe/Berlin" in health
    assert "20m ago" in health and "Failed" in health and " in " in health
    assert result.stderr == ""


def test_list_json_has_a_stable_shape(cluster: Cluster) -> None:
    cj = cluster.add_cronjob("web-cronjobs-health-check", "*/30 * * * *")
    cluster.add_job(cj, "web-cronjobs-health-check-1", "Succeeded")
    cluster.add_job(cj, "web-cronjobs-health-check-m", "Running", manual=True)

    result = cluster.run("list", "-o", "json")

    assert result.exit_code == 0, result.stderr
    [item] = json.loads(result.stdout)
    assert list(item) == [
        "name",
        "namespace",
        "schedule",
        "schedule_description",
        "time_zone",
        "suspended",
        "active",
        "last_schedule",
        "last_success",
        "last_result",
        "last_job",
        "next_run",
        "concurrency_policy",
        "starting_deadline_seconds",
        "helm_release",
        "component",
        "suspended_by",
        "suspended_at",
        "suspend_reason",
        "suspended_for_seconds",
        "last_trigger",
        "last_failure",
        "streak",
        "missed",
        "suspended_until",
        "suspend_expired",
        "maintenance",
        "changes",
        "never_runs",
        "problems",
        "ledger",
    ]
    assert item["ledger"] == "none"  # no keeper here: the Jobs alone
    assert item["active"] == 1  # the manual run counts, though status.active ignores it
    assert item["last_result"] == "Succeeded" and item["last_job"] == "web-cronjobs-health-check-1"
    assert item["next_run"].endswith(":00:00Z") or item["next_run"].endswith(":30:00Z")
    assert item["helm_release"] == "web" and item["component"] == "health-check"
    assert yaml.safe_load(cluster.run("list", "-o", "yaml").stdout) == [item]


def test_list_all_namespaces_and_selector(cluster: Cluster) -> None:
    other = f"{cluster.namespace}-b"
    cluster.add_cronjob("web-cronjobs-health-check")
    cluster.add_cronjob("web-cronjobs-health-check", namespace=other)
    cluster.add_cronjob("tool", labels={"app.kubernetes.io/name": "cronjobs", "tier": "ops"})

    everywhere = cluster.run("list", "-A", "-o", "wide")
    assert everywhere.exit_code == 0, everywhere.stderr
    assert everywhere.stdout.splitlines()[0].startswith("NAMESPACE")
    assert f"{other} " in everywhere.stdout and f"{cluster.namespace} " in everywhere.stdout
    assert "Forbid" in everywhere.stdout  # wide adds the concurrency policy

    ops = cluster.run(
        "list", "-l", "app.kubernetes.io/name=cronjobs,tier in (ops,dev)", "-o", "json"
    )
    assert ops.exit_code == 0, ops.stderr
    assert [i["name"] for i in json.loads(ops.stdout)] == ["tool"]


def test_list_nothing_found_says_so_on_stderr(cluster: Cluster) -> None:
    result = cluster.run("list")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert (
        f'No CronJobs match "app.kubernetes.io/name=cronjobs" in namespace "{cluster.namespace}"'
        in result.stderr
    )


def test_list_makes_three_api_calls_whatever_the_number_of_cronjobs(cluster: Cluster) -> None:
    for i in range(40):
        cj = cluster.add_cronjob(f"web-cronjobs-job-{i}")
        for j in range(2):
            cluster.add_job(cj, f"web-cronjobs-job-{i}-{j}", "Succeeded")
    other = cluster.add_cronjob("other", labels={"app": "other"})
    cluster.add_job(other, "other-1")
    calls = cluster.emulator.calls
    before = len(calls)

    result = cluster.run("list", "-o", "json")

    assert result.exit_code == 0, result.stderr
    items = json.loads(result.stdout)
    assert len(items) == 40 and all(i["last_result"] == "Succeeded" for i in items)
    made = calls[before:]
    selector = "labelSelector=app.kubernetes.io/name%3Dcronjobs&limit=500"
    ledgers = "labelSelector=cronjobs.dev/ledger-of&limit=500"
    assert made == [
        ("GET", f"/apis/batch/v1/namespaces/{cluster.namespace}/cronjobs?{selector}"),
        ("GET", f"/apis/batch/v1/namespaces/{cluster.namespace}/jobs?{selector}"),
        # The keeper's ledgers (none here), by their label: cronjobs.cronctl.runs.
        ("GET", f"/api/v1/namespaces/{cluster.namespace}/configmaps?{ledgers}"),
    ]


def test_list_pages_through_large_results(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests grow with pages of items, not with CronJobs; an expired continue token (410
    Gone) starts the listing over once."""
    monkeypatch.setattr(api, "PAGE_SIZE", 7)
    for i in range(40):
        cj = cluster.add_cronjob(f"web-cronjobs-job-{i:02}")
        for j in range(2):
            started = datetime.now(UTC) - timedelta(hours=2 - j)  # the newest run failed
            result = "Failed" if j else "Succeeded"
            cluster.add_job(cj, f"web-cronjobs-job-{i:02}-{j}", result, started=started)
    calls = cluster.emulator.calls
    before = len(calls)

    result = cluster.run("list", "-o", "json")

    assert result.exit_code == 0, result.stderr
    items = json.loads(result.stdout)
    assert [i["name"] for i in items] == [f"web-cronjobs-job-{i:02}" for i in range(40)]
    assert all(i["last_result"] == "Failed" for i in items)  # every Job page was joined
    made = [path for _, path in calls[before:]]
    assert len(made) == 6 + 12 + 1  # ceil(40 / 7) pages of CronJobs, ceil(80 / 7) of Jobs, ledgers
    assert sum("continue=" in path for path in made) == 5 + 11

    cluster.emulator.expire_continue = 1
    before = len(calls)
    again = cluster.run("list", "-o", "json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout) == items
    assert len(calls) - before == 6 + 12 + 1 + 2  # the 410, and the first page again

    cluster.emulator.expire_continue = 2
    gone = cluster.run("list", "-o", "json")
    assert gone.exit_code == 1
    assert "Error: the list of CronJobs changed too much while cronctl paged" in gone.stderr
    assert "run the command again" in gone.stderr
    cluster.emulator.expire_continue = 0


def test_describe_shows_recent_runs_scheduled_and_manual(cluster: Cluster) -> None:
    now = datetime.now(UTC)
    cj = cluster.add_cronjob(
        "web-cronjobs-aggregate-daily-analytics",
        "0 1 * * *",
        time_zone="America/New_York",
        deadline=None,
    )
    cluster.add_job(
        cj,
        "web-cronjobs-aggregate-daily-analytics-1",
        "Succeeded",
        started=now - timedelta(days=1),
        seconds=95,
    )
    cluster.add_job(
        cj,
        "web-cronjobs-aggregate-daily-analytics-manual-1",
        "Failed",
        manual=True,
        started=now - timedelta(hours=3),
    )

    result = cluster.run("describe", "web-cronjobs-aggregate-daily-analytics")

    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Schedule:           0 1 * * * (At 01:00)" in out
    assert "Time zone:          America/New_York" in out
    assert "Starting deadline:  none" in out
    assert "Last result:        Failed (web-cronjobs-aggregate-daily-analytics-manual-1)" in out
    runs = out.split("Recent runs (2 of 2):\n")[1].splitlines()
    assert runs[0].split() == ["JOB", "TRIGGER", "STARTED", "DURATION", "RESULT"]
    assert runs[1].split()[:2] == ["web-cronjobs-aggregate-daily-analytics-manual-1", "manual"]
    assert runs[1].split()[-1] == "Failed"
    assert runs[2].split()[1] == "scheduled" and "1m35s" in runs[2]

    as_json = json.loads(
        cluster.run("describe", "web-cronjobs-aggregate-daily-analytics", "-o", "json").stdout
    )
    assert [r["trigger"] for r in as_json["runs"]] == ["manual", "scheduled"]
    assert as_json["runs"][0]["message"] == "Job has reached the specified backoff limit"


def test_history_lists_runs_newest_first(cluster: Cluster) -> None:
    now = datetime.now(UTC)
    cj = cluster.add_cronjob("web-cronjobs-health-check")
    for i in range(3):
        cluster.add_job(cj, f"web-cronjobs-health-check-{i}", started=now - timedelta(hours=3 - i))

    result = cluster.run("history", "web-cronjobs-health-check", "-o", "wide")

    assert result.exit_code == 0, result.stderr
    rows = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert rows == [f"web-cronjobs-health-check-{i}" for i in (2, 1, 0)]

    empty = cluster.add_cronjob("web-cronjobs-cleanup-redis-cache")
    none = cluster.run("history", empty["metadata"]["name"])
    assert none.exit_code == 0 and none.stdout == ""
    assert "has no runs" in none.stderr


def test_logs_of_the_newest_run_or_a_given_job(cluster: Cluster) -> None:
    now = datetime.now(UTC)
    cj = cluster.add_cronjob("web-cronjobs-health-check")
    cluster.add_job(cj, "web-cronjobs-health-check-old", started=now - timedelta(hours=2))
    cluster.add_job(cj, "web-cronjobs-health-check-new", started=now - timedelta(hours=1))
    cluster.add_pod("web-cronjobs-health-check-old", "old-abcde", "database ok\n")
    cluster.add_pod("web-cronjobs-health-check-new", "new-abcde", "database ok\nredis ok\n")

    calls = cluster.emulator.calls
    before = len(calls)
    newest = cluster.run("logs", "web-cronjobs-health-check")
    assert newest.exit_code == 0, newest.stderr
    made = [path.split("?")[0].rsplit("/", 1)[-1] for _, path in calls[before:]]
    assert made == ["web-cronjobs-health-check", "jobs", "pods", "log"]  # the Job resolved once
    assert newest.stdout == "database ok\nredis ok\n"
    assert "Logs of Job web-cronjobs-health-check-new" in newest.stderr

    given = cluster.run(
        "logs", "web-cronjobs-health-check", "--job", "web-cronjobs-health-check-old"
    )
    assert given.exit_code == 0 and given.stdout == "database ok\n"

    wrong = cluster.run("logs", "web-cronjobs-health-check", "--job", "nope")
    assert wrong.exit_code == 1
    assert 'Error: Job "nope" is not a run of CronJob web-cronjobs-health-check' in wrong.stderr


def test_logs_without_runs_or_pods_explains(cluster: Cluster) -> None:
    cj = cluster.add_cronjob("web-cronjobs-health-check")
    result = cluster.run("logs", "web-cronjobs-health-check")
    assert result.exit_code == 1
    assert (
        "has no runs" in result.stderr
        and "cronctl trigger web-cronjobs-health-check" in result.stderr
    )
    cluster.add_job(cj, "web-cronjobs-health-check-1")
    gone = cluster.run("logs", "web-cronjobs-health-check")
    assert gone.exit_code == 1
    assert "Error: Job web-cronjobs-health-check-1 has no pods left" in gone.stderr
