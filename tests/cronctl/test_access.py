"""Item 7 of issue 13 (cronctl's part): a SelfSubjectAccessReview before a change, so a missing
permission stops the command before the first change and names the chart's operator Role."""

from __future__ import annotations

from tests.cronctl.conftest import Cluster

A, B = "web-cronjobs-cleanup-old-sessions", "web-cronjobs-health-check"


def test_a_bulk_suspend_without_patch_changes_nothing_and_names_the_role(cluster: Cluster) -> None:
    cluster.add_cronjob(A)
    cluster.add_cronjob(B)
    calls = len(cluster.emulator.calls)

    with cluster.emulator.deny("patch", "batch/cronjobs"):
        result = cluster.run("suspend", "--all", "--yes")

    assert result.exit_code == 1
    assert (
        'Error: forbidden: cronctl needs the "patch" verb on "cronjobs" (API group "batch") in '
        f'namespace "{cluster.namespace}"; the chart\'s operator Role grants it: bind it to you '
        "with controller.rbac.operator.subjects" in result.stderr
    )
    assert not any(m == "PATCH" for m, _ in cluster.emulator.calls[calls:])  # asked first
    assert cluster.cronjob(A)["spec"]["suspend"] is False


def test_trigger_and_catch_up_ask_for_what_they_use(cluster: Cluster) -> None:
    cluster.add_cronjob(A, suspend=True)

    with cluster.emulator.deny("create", "batch/jobs"):
        trigger = cluster.run("trigger", A)
        resume = cluster.run("resume", A, "--catch-up", "once")
        dry = cluster.run("trigger", A, "--dry-run")
    with cluster.emulator.deny("patch", "batch/cronjobs/status"):
        none = cluster.run("resume", A, "--catch-up", "none")

    assert trigger.exit_code == 1 and '"create" verb on "jobs"' in trigger.stderr
    assert resume.exit_code == 1 and '"create" verb on "jobs"' in resume.stderr
    assert dry.exit_code == 0, dry.stderr  # a dry run changes nothing: no permission needed
    assert none.exit_code == 1
    assert '"patch" verb on "cronjobs/status" (API group "batch")' in none.stderr
    assert cluster.cronjob(A)["spec"]["suspend"] is True and cluster.jobs() == []


def test_without_the_review_api_the_api_servers_own_403_speaks(cluster: Cluster) -> None:
    cluster.add_cronjob(A)
    cluster.emulator.access_reviews = False
    try:
        with cluster.emulator.deny("patch", "batch/cronjobs"):
            result = cluster.run("suspend", A)
    finally:
        cluster.emulator.access_reviews = True

    assert result.exit_code == 1
    # A person is told which of the chart's Roles for people to bind, not a ServiceAccount's.
    assert "; the chart's operator Role grants it: bind it to you with controller.rbac." in (
        result.stderr
    )
    assert 'The server said: cronjobs.batch is forbidden: User "tester" cannot patch' in (
        result.stderr
    )
