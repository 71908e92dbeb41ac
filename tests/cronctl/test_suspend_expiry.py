"""Item 1 of issue 13: suspend with an expiry and a dry run; a history that resume keeps;
expired suspensions shown by list/check and ended by `resume --expired`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cronjobs.cronctl.model import (
    HISTORY,
    SUSPEND_REASON,
    SUSPENDED_AT,
    SUSPENDED_BY,
    SUSPENDED_UNTIL,
)
from tests.cronctl.conftest import Cluster, ts

NAME = "web-cronjobs-health-check"


def _expired_suspension(cluster: Cluster, name: str, hours_ago: int = 1) -> None:
    now = datetime.now(UTC)
    cluster.add_cronjob(
        name,
        suspend=True,
        annotations={
            SUSPENDED_BY: "bob",
            SUSPENDED_AT: ts(now - timedelta(hours=hours_ago + 2)),
            SUSPEND_REASON: "flaky upstream",
            SUSPENDED_UNTIL: ts(now - timedelta(hours=hours_ago)),
        },
    )


def test_suspend_until_records_the_expiry_and_list_shows_it(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)

    result = cluster.run("suspend", NAME, "--reason", "db upgrade", "--until", "2h")

    assert result.exit_code == 0, result.stderr
    annotations = cluster.cronjob(NAME)["metadata"]["annotations"]
    until = datetime.fromisoformat(annotations[SUSPENDED_UNTIL].replace("Z", "+00:00"))
    assert timedelta(hours=1, minutes=59) < until - datetime.now(UTC) <= timedelta(hours=2)
    assert result.stdout == f"cronjob.batch/{NAME} suspended until {annotations[SUSPENDED_UNTIL]}\n"
    [item] = json.loads(cluster.run("list", "-o", "json").stdout)
    assert item["suspended_until"] == annotations[SUSPENDED_UNTIL]
    assert item["suspend_expired"] is False
    described = cluster.run("describe", NAME).stdout
    assert "Suspended:          yes (by tester at " in described
    assert ": db upgrade), until " in described


def test_an_until_in_the_past_or_malformed_is_refused_and_changes_nothing(
    cluster: Cluster,
) -> None:
    cluster.add_cronjob(NAME)

    past = cluster.run("suspend", NAME, "--until", "2020-01-01T00:00Z")
    assert past.exit_code == 2
    assert "Error: --until 2020-01-01T00:00:00Z is not in the future" in past.stderr
    bad = cluster.run("suspend", NAME, "--until", "soon")
    assert bad.exit_code == 2
    assert "'soon' is not a duration" in bad.stderr
    assert cluster.cronjob(NAME)["spec"]["suspend"] is False
    assert SUSPENDED_BY not in cluster.cronjob(NAME)["metadata"]["annotations"]


def test_dry_run_shows_the_change_and_makes_none(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)

    text = cluster.run("suspend", NAME, "--reason", "x", "--dry-run")
    as_json = cluster.run("suspend", NAME, "--dry-run", "-o", "json")

    assert text.exit_code == 0, text.stderr
    assert text.stdout == f"cronjob.batch/{NAME} suspended (dry run)\n"
    [change] = json.loads(as_json.stdout)
    assert change["action"] == "suspended" and change["dry_run"] is True
    assert cluster.cronjob(NAME)["spec"]["suspend"] is False
    assert HISTORY not in cluster.cronjob(NAME)["metadata"]["annotations"]


def test_resume_keeps_the_history_of_who_suspended_and_resumed(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    cluster.emulator.identity = "alice@example.com"
    try:
        assert cluster.run("suspend", NAME, "--reason", "db upgrade").exit_code == 0
        cluster.emulator.identity = "bob@example.com"
        assert cluster.run("resume", NAME).exit_code == 0
        assert cluster.run("resume", NAME).stdout == f"cronjob.batch/{NAME} not suspended\n"
    finally:
        cluster.emulator.identity = None

    cj = cluster.cronjob(NAME)
    assert cj["spec"]["suspend"] is False
    assert SUSPEND_REASON not in cj["metadata"]["annotations"]  # the current record is cleared
    changes = json.loads(cluster.run("describe", NAME, "-o", "json").stdout)["changes"]
    assert [(c["action"], c["by"], c.get("reason")) for c in changes] == [
        ("suspend", "alice@example.com", "db upgrade"),
        ("resume", "bob@example.com", None),  # the second resume changed nothing: not recorded
    ]
    described = cluster.run("describe", NAME).stdout
    assert "Changes (suspend/resume, oldest first):\n  " in described
    assert " suspend by alice@example.com: db upgrade (run m-" in described
    assert " resume by bob@example.com" in described


def test_history_keeps_the_last_ten_changes(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    for i in range(6):
        assert cluster.run("suspend", NAME, "--reason", f"r{i}").exit_code == 0
        assert cluster.run("resume", NAME).exit_code == 0

    changes = json.loads(cluster.run("describe", NAME, "-o", "json").stdout)["changes"]

    assert len(changes) == 10
    assert changes[0]["reason"] == "r1" and changes[-1]["action"] == "resume"


def test_expired_suspensions_are_shown_checked_and_resumed(cluster: Cluster) -> None:
    _expired_suspension(cluster, NAME)
    cluster.add_cronjob("web-cronjobs-cleanup-old-sessions", suspend=True)  # no expiry
    cluster.add_cronjob(
        "web-cronjobs-cleanup-redis-cache",
        suspend=True,
        annotations={SUSPENDED_UNTIL: ts(datetime.now(UTC) + timedelta(hours=3))},
    )

    listed = cluster.run("list").stdout
    row = next(line for line in listed.splitlines() if line.startswith(NAME))
    assert "yes (3h00m, expired)" in row
    check = cluster.run("check", NAME, "--max-suspended", "30d")
    assert check.exit_code == 1
    assert f"{cluster.namespace}/{NAME}: the suspension expired 1h00m ago (until " in check.stdout
    assert "`cronctl resume --expired`" in check.stdout

    resumed = cluster.run("resume", "--expired", "-o", "json")
    assert resumed.exit_code == 0, resumed.stderr
    assert [(c["name"], c["action"]) for c in json.loads(resumed.stdout)] == [(NAME, "resumed")]
    assert cluster.cronjob(NAME)["spec"]["suspend"] is False
    assert cluster.cronjob("web-cronjobs-cleanup-old-sessions")["spec"]["suspend"] is True
    assert cluster.cronjob("web-cronjobs-cleanup-redis-cache")["spec"]["suspend"] is True

    again = cluster.run("resume", "--expired")
    assert again.exit_code == 0
    assert again.stdout == "" and "Nothing to resume." in again.stderr


def test_a_concurrent_change_is_not_overwritten(cluster: Cluster) -> None:
    """Another client suspends the CronJob between cronctl's read and its patch: the patch
    carries the resourceVersion it read, the emulated API server answers 409 as the real one
    does, and cronctl reads again: already suspended, the other client's record kept."""
    cluster.add_cronjob(NAME)

    def other_client() -> None:
        cj = cluster.emulator.objects["batch/v1/cronjobs", cluster.namespace, NAME]
        cj.patch(
            {
                "spec": {"suspend": True},
                "metadata": {"resourceVersion": "999999", "annotations": {SUSPENDED_BY: "carol"}},
            }
        )

    cluster.emulator.before_patch = other_client
    result = cluster.run("suspend", NAME, "--reason", "mine")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"cronjob.batch/{NAME} already suspended\n"
    annotations = cluster.cronjob(NAME)["metadata"]["annotations"]
    assert annotations[SUSPENDED_BY] == "carol" and SUSPEND_REASON not in annotations
