"""cronctl suspend / resume: set (never toggle), idempotent, who/when/why annotations."""

from __future__ import annotations

import json

from cronjobs.cronctl.model import SUSPEND_REASON, SUSPENDED_AT, SUSPENDED_BY
from tests.cronctl.conftest import Cluster


def test_suspend_records_who_when_why_and_is_idempotent(cluster: Cluster) -> None:
    cluster.add_cronjob("web-cronjobs-health-check")

    first = cluster.run("suspend", "web-cronjobs-health-check", "--reason", "db migration")
    assert first.exit_code == 0, first.stderr
    assert first.stdout == "cronjob.batch/web-cronjobs-health-check suspended\n"
    cj = cluster.cronjob("web-cronjobs-health-check")
    assert cj["spec"]["suspend"] is True
    annotations = cj["metadata"]["annotations"]
    assert annotations[SUSPENDED_BY] == "tester"  # the kubeconfig user
    assert annotations[SUSPENDED_AT].endswith("Z")
    assert annotations[SUSPEND_REASON] == "db migration"
    assert annotations["meta.helm.sh/release-name"] == "web"  # other annotations untouched

    again = cluster.run("suspend", "web-cronjobs-health-check", "--reason", "other")
    assert again.exit_code == 0
    assert again.stdout == "cronjob.batch/web-cronjobs-health-check already suspended\n"
    after = cluster.cronjob("web-cronjobs-health-check")["metadata"]["annotations"]
    assert after[SUSPEND_REASON] == "db migration"  # not overwritten: never toggled, set once

    described = cluster.run("describe", "web-cronjobs-health-check")
    assert "Suspended:          yes (by tester at " in described.stdout
    assert ": db migration)" in described.stdout
    assert "Next run:           - (suspended)" in described.stdout


def test_resume_clears_annotations_and_warns_without_starting_deadline(cluster: Cluster) -> None:
    cluster.add_cronjob("web-cronjobs-health-check", deadline=None)
    cluster.add_cronjob("web-cronjobs-cleanup-old-sessions")
    assert cluster.run("suspend", "--all", "--reason", "freeze").exit_code == 0

    result = cluster.run("resume", "--all")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [  # in the API's order: by name
        "cronjob.batch/web-cronjobs-cleanup-old-sessions resumed",
        "cronjob.batch/web-cronjobs-health-check resumed",
    ]
    assert (
        "Warning: CronJob web-cronjobs-health-check has no startingDeadlineSeconds" in result.stderr
    )
    assert "cleanup-old-sessions has no" not in result.stderr
    cj = cluster.cronjob("web-cronjobs-health-check")
    assert cj["spec"]["suspend"] is False
    assert not {SUSPENDED_BY, SUSPENDED_AT, SUSPEND_REASON} & set(cj["metadata"]["annotations"])

    again = cluster.run("resume", "web-cronjobs-cleanup-old-sessions", "-o", "json")
    assert again.exit_code == 0
    assert json.loads(again.stdout) == [
        {
            "name": "web-cronjobs-cleanup-old-sessions",
            "namespace": cluster.namespace,
            "action": "not suspended",
            "changed": False,
            "warning": None,
            "dry_run": False,
            "until": None,
            "run": None,
            "catch_up": None,
        }
    ]


def test_suspend_by_selector_only_touches_matching_cronjobs(cluster: Cluster) -> None:
    cluster.add_cronjob("a", labels={"app.kubernetes.io/name": "cronjobs", "tier": "batch"})
    cluster.add_cronjob("b", labels={"app.kubernetes.io/name": "cronjobs", "tier": "web"})

    result = cluster.run("suspend", "-l", "tier=batch")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "cronjob.batch/a suspended\n"
    assert cluster.cronjob("a")["spec"]["suspend"] is True
    assert cluster.cronjob("b")["spec"]["suspend"] is False

    none = cluster.run("suspend", "-l", "tier=nothing")
    assert none.exit_code == 1
    assert (
        f'Error: no CronJob matches "tier=nothing" in namespace "{cluster.namespace}"'
        in none.stderr
    )


def test_suspend_needs_a_target_and_names_all_exist_first(cluster: Cluster) -> None:
    cluster.add_cronjob("web-cronjobs-health-check")

    bare = cluster.run("suspend")
    assert bare.exit_code == 2
    assert "Error: name the CronJobs, or pass -l SELECTOR, or --all" in bare.stderr

    both = cluster.run("suspend", "web-cronjobs-health-check", "--all")
    assert both.exit_code == 2 and "not both" in both.stderr

    missing = cluster.run("suspend", "web-cronjobs-health-check", "nope")
    assert missing.exit_code == 1
    assert f'Error: CronJob "nope" not found in namespace "{cluster.namespace}"' in missing.stderr
    assert cluster.cronjob("web-cronjobs-health-check")["spec"]["suspend"] is False


def test_patch_is_accepted_by_real_kubectl_too(cluster: Cluster, kubectl_bin: object) -> None:
    """The JSON merge patch cronctl sends works in kubectl's hands against the same server."""
    import subprocess

    cluster.add_cronjob("web-cronjobs-health-check")
    patch = json.dumps(
        {"spec": {"suspend": True}, "metadata": {"annotations": {SUSPEND_REASON: "via kubectl"}}}
    )
    done = subprocess.run(
        [
            str(kubectl_bin),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "patch",
            "cronjob",
            "web-cronjobs-health-check",
            "--type",
            "merge",
            "-p",
            patch,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    listed = json.loads(cluster.run("list", "-o", "json").stdout)
    assert listed[0]["suspended"] is True and listed[0]["suspend_reason"] == "via kubectl"


def test_selector_from_the_environment_does_not_select_for_suspend_or_resume(
    cluster: Cluster,
) -> None:
    """CRONCTL_SELECTOR scopes listing and --all, but a bare `suspend`/`resume` still needs
    NAME, -l on the command line, or --all."""
    cluster.add_cronjob("web-cronjobs-health-check")
    env = {"CRONCTL_SELECTOR": "app.kubernetes.io/name=cronjobs"}

    for command in ("suspend", "resume"):
        bare = cluster.run(command, env=env)
        assert bare.exit_code == 2, (command, bare.stdout)
        assert "Error: name the CronJobs, or pass -l SELECTOR, or --all" in bare.stderr
    assert cluster.cronjob("web-cronjobs-health-check")["spec"]["suspend"] is False

    everything = cluster.run("suspend", "--all", env=env)
    assert everything.exit_code == 0, everything.stderr
    assert everything.stdout == "cronjob.batch/web-cronjobs-health-check suspended\n"
    typed = cluster.run("resume", "-l", "app.kubernetes.io/name=cronjobs", env=env)
    assert typed.exit_code == 0, typed.stderr
    assert typed.stdout == "cronjob.batch/web-cronjobs-health-check resumed\n"
