"""Item 2 of issue 13: maintenance mode. `suspend --all` marks only the CronJobs it changed with
its run id; `resume --maintenance ID|REASON` resumes exactly those. Bulk changes list the plan
and ask on a terminal (`--yes` skips it)."""

from __future__ import annotations

import json

import pytest

from cronjobs.cronctl import cli_ops
from cronjobs.cronctl.model import MAINTENANCE, SUSPEND_REASON, SUSPENDED_BY
from tests.cronctl.conftest import Cluster

A, B, C = (
    "web-cronjobs-aggregate-daily-analytics",
    "web-cronjobs-cleanup-old-sessions",
    "web-cronjobs-health-check",
)


def _three(cluster: Cluster) -> None:
    cluster.add_cronjob(A)
    cluster.add_cronjob(B, suspend=True, annotations={SUSPENDED_BY: "bob", SUSPEND_REASON: "bug"})
    cluster.add_cronjob(C)


def test_maintenance_resumes_exactly_what_it_suspended(cluster: Cluster) -> None:
    _three(cluster)

    suspended = cluster.run("suspend", "--all", "--reason", "db upgrade", "-o", "json")

    assert suspended.exit_code == 0, suspended.stderr
    changes = json.loads(suspended.stdout)
    assert [(c["name"], c["action"]) for c in changes] == [
        (A, "suspended"),
        (B, "already suspended"),
        (C, "suspended"),
    ]
    run = changes[0]["run"]
    assert run.startswith("m-") and changes[2]["run"] == run and changes[1]["run"] is None
    assert cluster.cronjob(A)["metadata"]["annotations"][MAINTENANCE] == run
    assert MAINTENANCE not in cluster.cronjob(B)["metadata"]["annotations"]

    resumed = cluster.run("resume", "--maintenance", "db upgrade")

    assert resumed.exit_code == 0, resumed.stderr
    assert resumed.stdout.splitlines() == [
        f"cronjob.batch/{A} resumed",
        f"cronjob.batch/{C} resumed",
    ]
    assert cluster.cronjob(B)["spec"]["suspend"] is True  # suspended before: left alone
    assert cluster.cronjob(B)["metadata"]["annotations"][SUSPENDED_BY] == "bob"

    again = cluster.run("resume", "--maintenance", run)  # by id this time: nothing left to do
    assert again.exit_code == 0, again.stderr
    assert again.stdout.splitlines() == [
        f"cronjob.batch/{A} not suspended",
        f"cronjob.batch/{C} not suspended",
    ]


def test_the_run_id_is_printed_with_the_command_that_ends_it(cluster: Cluster) -> None:
    _three(cluster)

    result = cluster.run("suspend", "--all", "--reason", "db upgrade")

    run = cluster.cronjob(A)["metadata"]["annotations"][MAINTENANCE]
    assert f"Suspend run {run}: `cronctl resume --maintenance {run}` resumes" in result.stderr


def test_a_cronjob_suspended_again_by_someone_else_is_left_alone(cluster: Cluster) -> None:
    _three(cluster)
    assert cluster.run("suspend", "--all", "--reason", "db upgrade").exit_code == 0
    assert cluster.run("resume", A).exit_code == 0
    assert cluster.run("suspend", A, "--reason", "other incident").exit_code == 0

    result = cluster.run("resume", "--maintenance", "db upgrade", "-o", "json")

    assert [(c["name"], c["action"]) for c in json.loads(result.stdout)] == [
        (A, "not suspended"),  # reported as not this run's to end
        (C, "resumed"),
    ]
    assert cluster.cronjob(A)["spec"]["suspend"] is True


def test_an_unknown_maintenance_run_is_an_error_that_changes_nothing(cluster: Cluster) -> None:
    _three(cluster)

    result = cluster.run("resume", "--maintenance", "m-nope")

    assert result.exit_code == 1
    assert 'Error: no CronJob here was suspended by a suspend run with id or reason "m-nope"' in (
        result.stderr
    )
    assert cluster.cronjob(B)["spec"]["suspend"] is True


def test_a_bulk_change_lists_the_plan_and_asks_on_a_terminal(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    _three(cluster)
    monkeypatch.setattr(cli_ops, "interactive", lambda: True)

    declined = cluster.run_input("n\n", "suspend", "--all", "--reason", "db upgrade")

    assert declined.exit_code == 1
    assert f"Suspend 2 CronJobs:\n  {cluster.namespace}/{A}\n  {cluster.namespace}/{C}\n" in (
        declined.stderr
    )
    assert "Go ahead? [y/N]" in declined.stderr
    assert "Error: declined: nothing changed" in declined.stderr
    assert cluster.cronjob(A)["spec"]["suspend"] is False

    accepted = cluster.run_input("y\n", "suspend", "--all")
    assert accepted.exit_code == 0, accepted.stderr
    assert cluster.cronjob(A)["spec"]["suspend"] is True

    skipped = cluster.run_input("", "resume", "--all", "--yes")
    assert skipped.exit_code == 0, skipped.stderr
    assert "Go ahead?" not in skipped.stderr
    assert cluster.cronjob(A)["spec"]["suspend"] is False


def test_nothing_to_change_does_not_ask(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster.add_cronjob(A, suspend=True)
    monkeypatch.setattr(cli_ops, "interactive", lambda: True)

    result = cluster.run_input("", "suspend", "--all")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"cronjob.batch/{A} already suspended\n"
    assert "Go ahead?" not in result.stderr
