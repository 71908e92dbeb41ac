"""`cronctl suspend --wait [--timeout]` (issue 22 §2): suspend, then drain: wait until no Job of
the suspended CronJobs runs (scheduled or manual), for people who deploy without Helm (the chart's
upgrade hooks run the same). Against the API emulator; a Job "finishes" when the test stores its
final status, as the Job controller would."""

from __future__ import annotations

import json

from cronjobs.cronctl import suspension
from cronjobs.cronctl.model import MAINTENANCE
from tests.cronctl.conftest import Cluster, job_body

A, B, OTHER = "web-cronjobs-cleanup-old-sessions", "web-cronjobs-health-check", "web-other"


def _running(
    cluster: Cluster, cronjob: dict[str, object], name: str, manual: bool = False
) -> dict[str, object]:
    job = job_body(cronjob, name, "Running", manual=manual)
    job["status"] = {"startTime": job["status"]["startTime"], "active": 1}
    cluster.server.put("batch/v1/jobs", cluster.namespace, job)
    return job


def test_wait_times_out_naming_the_running_jobs_and_leaves_them_suspended(cluster: Cluster) -> None:
    a = cluster.add_cronjob(A)
    b = cluster.add_cronjob(B)
    _running(cluster, a, f"{A}-29000000")
    _running(cluster, b, f"{B}-manual-1", manual=True)
    cluster.add_job(b, f"{B}-28999999")  # finished: not waited for

    result = cluster.run("suspend", "--all", "--reason", "deploy 42", "--wait", "--timeout", "0")

    assert result.exit_code == 5, result.stderr
    ns = cluster.namespace
    assert (
        f"gave up after 0s waiting for 2 running Job(s) of the suspended CronJobs: {ns}/{A}-29000000, "
        f"{ns}/{B}-manual-1. The CronJobs stay suspended"
    ) in result.stderr
    run = cluster.cronjob(A)["metadata"]["annotations"][MAINTENANCE]
    assert f"`cronctl resume --maintenance {run}`" in result.stderr
    assert (
        cluster.cronjob(A)["spec"]["suspend"] is True
        and cluster.cronjob(B)["spec"]["suspend"] is True
    )
    assert "Traceback" not in result.stderr

    undone = cluster.run("resume", "--maintenance", run)
    assert undone.exit_code == 0, undone.stderr
    assert cluster.cronjob(A)["spec"]["suspend"] is False


def test_wait_returns_once_nothing_of_theirs_runs(cluster: Cluster) -> None:
    a = cluster.add_cronjob(A)
    other = cluster.add_cronjob(OTHER)
    cluster.add_job(a, f"{A}-28999999", "Failed")
    _running(cluster, other, f"{OTHER}-29000000")  # another CronJob's: not this drain's business

    result = cluster.run("suspend", A, "--wait", "--timeout", "0", "-o", "json")

    assert result.exit_code == 0, result.stderr
    assert [c["action"] for c in json.loads(result.stdout)] == ["suspended"]
    assert "No Job of the suspended CronJobs is running." in result.stderr


def test_drain_polls_until_the_last_job_finishes(cluster: Cluster) -> None:
    a = cluster.add_cronjob(A)
    job = _running(cluster, a, f"{A}-29000000")
    seen: list[list[str]] = []

    def finish(running: list[str]) -> None:
        """The first poll saw the Job running: now the Job controller completes it."""
        seen.append(running)
        cluster.add_job(a, str(job["metadata"]["name"]))  # type: ignore[index]

    c = cluster.controller()
    suspension.drain(c.scope, [cluster.cronjob(A)], timeout=600, resume_hint="-", on_wait=finish)

    assert seen == [[f"{cluster.namespace}/{A}-29000000"]]
    assert suspension.running_jobs(c.scope, [cluster.cronjob(A)]) == []


def test_wait_and_dry_run_exclude_each_other(cluster: Cluster) -> None:
    cluster.add_cronjob(A)
    result = cluster.run("suspend", A, "--wait", "--dry-run")
    assert result.exit_code == 2
    assert "--dry-run and --wait exclude each other" in result.stderr
    assert cluster.cronjob(A)["spec"].get("suspend") is not True


def test_resume_maintenance_missing_ok(cluster: Cluster) -> None:
    """The chart's post-upgrade hook: its pre-upgrade run may have found every CronJob
    suspended already, and then changed none."""
    cluster.add_cronjob(A, suspend=True)
    assert cluster.run("suspend", "--all", "--reason", "deploy 7").exit_code == 0

    strict = cluster.run("resume", "--maintenance", "deploy 7")
    assert strict.exit_code == 1
    assert (
        'no CronJob here was suspended by a suspend run with id or reason "deploy 7"'
        in strict.stderr
    )
    lenient = cluster.run("resume", "--maintenance", "deploy 7", "--missing-ok")
    assert lenient.exit_code == 0, lenient.stderr
    assert "Nothing to resume" in lenient.stderr
    assert cluster.cronjob(A)["spec"]["suspend"] is True  # suspended before: left alone
    usage = cluster.run("resume", "--all", "--missing-ok")
    assert usage.exit_code == 2 and "--missing-ok needs --maintenance" in usage.stderr
