"""Item 3 of issue 13: resume with a catch-up choice and a preview of what the controller does.

The controller's rule (see jobs/cronjobs/cronctl/catchup.py): on resume it starts one Job for the newest
unmet tick after status.lastScheduleTime, and only within startingDeadlineSeconds when set. An
every-minute schedule makes the cases independent of the wall clock: without a deadline there
is always a newest missed tick; with the minimum deadline (10 s, the controller's resync period)
it is always too late by the time the controller looks.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cronjobs.cronctl.model import SUSPENDED_AT, SUSPENDED_BY
from tests.cronctl.conftest import Cluster, ts

NAME = "web-cronjobs-health-check"
NOW = datetime(2026, 12, 1, 17, 50, 30, tzinfo=UTC)


def _suspended(cluster: Cluster, deadline: int | None, now: datetime) -> None:
    since = (now - timedelta(hours=3)).replace(second=0)
    cluster.add_cronjob(
        NAME,
        "* * * * *",
        suspend=True,
        deadline=deadline,
        created=now - timedelta(days=1),
        status={"lastScheduleTime": ts(since)},
        annotations={SUSPENDED_BY: "bob", SUSPENDED_AT: ts(since)},
    )


def test_the_preview_counts_the_missed_ticks_and_says_what_the_controller_does(
    cluster: Cluster,
) -> None:
    _suspended(cluster, None, NOW)
    controller = cluster.controller(clock=lambda: NOW)

    [change] = controller.resume((NAME,), dry_run=True)

    assert change.catch_up is not None
    assert change.catch_up.lines() == [
        "missed 180 ticks (the last at 2026-12-01T17:50:00Z)",
        "the controller starts one late run at once, for the tick of 2026-12-01T17:50:00Z (no "
        "startingDeadlineSeconds: the newest missed tick, however old); under Forbid, only once "
        "no other run of it is active",
    ]
    assert cluster.cronjob(NAME)["spec"]["suspend"] is True  # a dry run

    cluster.add_cronjob(
        "web-cronjobs-cleanup-old-sessions",
        "0 2 * * *",
        suspend=True,
        deadline=300,
        created=NOW - timedelta(days=3),
        status={"lastScheduleTime": ts(NOW - timedelta(days=2, hours=15, minutes=50, seconds=30))},
    )
    [daily] = controller.resume(
        ("web-cronjobs-cleanup-old-sessions",), catch_up="once", dry_run=True
    )
    assert daily.catch_up is not None
    assert daily.catch_up.to_dict() == {
        "missed": 2,
        "last_missed": "2026-12-01T02:00:00Z",
        "controller_starts": None,
        "controller": "starts none: every missed tick is older than startingDeadlineSeconds=300",
        "choice": "once",
        "action": "cronctl triggers one run now",
        "job": None,
    }


def test_catch_up_none_stops_the_late_run_the_controller_would_start(cluster: Cluster) -> None:
    _suspended(cluster, None, datetime.now(UTC))

    result = cluster.run("resume", NAME, "--catch-up", "none", "-o", "json")

    assert result.exit_code == 0, result.stderr
    [change] = json.loads(result.stdout)
    tick = change["catch_up"]["controller_starts"]
    assert change["action"] == "resumed" and tick is not None
    assert change["catch_up"]["action"] == (
        f"cronctl records the tick of {tick} as handled (status.lastScheduleTime) before "
        "resuming, so the controller starts none"
    )
    cj = cluster.cronjob(NAME)
    assert cj["status"]["lastScheduleTime"] == tick and cj["spec"]["suspend"] is False
    assert cluster.jobs() == []
    changes = json.loads(cluster.run("describe", NAME, "-o", "json").stdout)["changes"]
    assert changes[-1]["action"] == "resume" and changes[-1]["catch_up"] == "none"


def test_catch_up_once_triggers_a_run_when_the_controller_starts_none(cluster: Cluster) -> None:
    _suspended(cluster, 10, datetime.now(UTC))

    result = cluster.run("resume", NAME, "--catch-up", "once")

    assert result.exit_code == 0, result.stderr
    [job] = cluster.jobs()
    lines = result.stdout.splitlines()
    assert lines[0] == f"cronjob.batch/{NAME} resumed"
    assert lines[1].startswith("  missed 18")  # 180 or 181, by when the minute turns
    assert lines[2] == (
        "  the controller starts none: every missed tick is older than startingDeadlineSeconds=10"
    )
    assert lines[3] == f"  --catch-up once: cronctl triggered job.batch/{job['metadata']['name']}"
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"


def test_catch_up_once_adds_nothing_to_the_controllers_late_run(cluster: Cluster) -> None:
    _suspended(cluster, None, datetime.now(UTC))

    result = cluster.run("resume", NAME, "--catch-up", "once")

    assert result.exit_code == 0, result.stderr
    assert "  --catch-up once: nothing to add: the controller's late run is the one run" in (
        result.stdout
    )
    assert cluster.jobs() == []


def test_a_dry_run_previews_and_changes_nothing(cluster: Cluster) -> None:
    _suspended(cluster, 10, datetime.now(UTC))

    result = cluster.run("resume", NAME, "--catch-up", "once", "--dry-run")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"cronjob.batch/{NAME} resumed (dry run)\n  missed 18")
    assert "  --catch-up once: cronctl triggers one run now" in result.stdout
    assert cluster.jobs() == [] and cluster.cronjob(NAME)["spec"]["suspend"] is True
    bad = cluster.run("resume", NAME, "--catch-up", "twice")
    assert bad.exit_code == 2 and "'twice' is not one of 'none', 'once'" in bad.stderr
