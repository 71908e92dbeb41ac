"""cronctl trigger: the Job kubectl would build, the Forbid refusal, --wait/--logs/--timeout."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cronjobs.cronctl.model import RUN_TICK, TRIGGERED_BY
from tests.cronctl.conftest import Cluster, job_body
from tests.cronctl.emulator import Outcome

NAME = "web-cronjobs-cleanup-old-sessions"
JOBS_PATH = "/apis/batch/v1/namespaces/{0.namespace}/jobs"


def prune(value: Any) -> Any:
    """Drop nulls and empty maps/lists: Go's typed round-trip adds `resources: {}`,
    `creationTimestamp: null` and `status: {}`, which mean the same to the API server."""
    if isinstance(value, dict):
        pruned = {k: prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


def test_dry_run_json_equals_kubectl_create_job_from_cronjob(
    cluster: Cluster, kubectl_bin: Path
) -> None:
    cluster.add_cronjob(NAME)
    ours = cluster.run("trigger", NAME, "--dry-run", "-o", "json")
    assert ours.exit_code == 0, ours.stderr
    job = json.loads(ours.stdout)

    done = subprocess.run(
        [
            str(kubectl_bin),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "-n",
            cluster.namespace,
            "create",
            "job",
            "from-kubectl",
            f"--from=cronjob/{NAME}",
            "--dry-run=client",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    theirs = json.loads(done.stdout)

    # Deliberate differences: the name (ours is predictable), cronctl's triggered-by, and the
    # run's tick on the pod (when it was asked for: jobs/cronjobs/tick.py reads it in the pod).
    assert job["metadata"].pop("name").startswith(f"{NAME}-manual-")
    assert theirs["metadata"].pop("name") == "from-kubectl"
    assert job["metadata"]["annotations"].pop(TRIGGERED_BY) == "tester"
    pod_annotations = job["spec"]["template"]["metadata"]["annotations"]
    tick = datetime.fromisoformat(pod_annotations.pop(RUN_TICK).replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - tick).total_seconds()) < 600
    assert prune(job) == prune(theirs)
    assert job["metadata"]["ownerReferences"][0]["controller"] is True
    assert "blockOwnerDeletion" not in job["metadata"]["ownerReferences"][0]
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert cluster.jobs() == []  # nothing created


def test_trigger_creates_a_job_with_a_name_that_fits(cluster: Cluster) -> None:
    long_name = "web-cronjobs-" + "x" * 39  # 52 characters: the chart's maximum
    cluster.add_cronjob(long_name)

    result = cluster.run("trigger", long_name)

    assert result.exit_code == 0, result.stderr
    [job] = cluster.jobs()
    name = job["metadata"]["name"]
    assert result.stdout == f"job.batch/{name} created\n"
    assert len(name) <= 63 and "-manual-" in name and not name.startswith("-")
    history = cluster.run("history", long_name)
    assert history.stdout.splitlines()[1].split()[:2] == [name, "manual"]


def test_two_triggers_in_the_same_second_get_different_names(cluster: Cluster) -> None:
    long_name = "web-cronjobs-" + "x" * 39  # 52 characters: the chart's maximum
    cluster.add_cronjob(long_name, policy="Allow")
    second = datetime(2025, 6, 1, 14, 3, 7, tzinfo=UTC)
    controller = cluster.controller(clock=lambda: second)
    try:
        first, again = controller.trigger(long_name), controller.trigger(long_name)
    finally:
        controller.close()

    assert first.name != again.name
    for job in (first, again):
        assert len(job.name) <= 63
        assert re.fullmatch(rf"{long_name[:38]}-manual-250601140307-[a-z0-9]{{4}}", job.name)
    assert sorted(j["metadata"]["name"] for j in cluster.jobs()) == sorted([first.name, again.name])


def test_forbid_sees_a_run_started_before_a_helm_upgrade_bumped_the_chart_label(
    cluster: Cluster,
) -> None:
    """The Job carries the job template's labels of when it started; an upgrade since changed
    `helm.sh/chart` (and `app.kubernetes.io/version`) on the template. Selecting Jobs on every
    template label missed it, and a second run started beside it."""
    cj = cluster.add_cronjob(NAME, policy="Forbid")
    job = job_body(cj, f"{NAME}-manual-1", "Running", manual=True)
    job["metadata"]["labels"] = {**job["metadata"]["labels"], "helm.sh/chart": "cronjobs-0.0.9"}
    cluster.server.put("batch/v1/jobs", cluster.namespace, job)

    refused = cluster.run("trigger", NAME)
    assert refused.exit_code == 3, refused.stderr
    assert f"Job {NAME}-manual-1 is still running" in refused.stderr
    assert len(cluster.jobs()) == 1
    shown = cluster.run("history", NAME)
    assert f"{NAME}-manual-1" in shown.stdout


def test_trigger_refuses_when_forbid_and_a_run_is_active(cluster: Cluster) -> None:
    cj = cluster.add_cronjob(NAME, policy="Forbid")
    cluster.add_job(cj, f"{NAME}-manual-1", "Running", manual=True)  # not in status.active

    refused = cluster.run("trigger", NAME)
    assert refused.exit_code == 3
    assert (
        f"Error: CronJob {NAME} forbids concurrent runs and Job {NAME}-manual-1 is still "
        "running" in refused.stderr
    )
    assert "--force" in refused.stderr
    assert len(cluster.jobs()) == 1

    forced = cluster.run("trigger", NAME, "--force")
    assert forced.exit_code == 0, forced.stderr
    assert len(cluster.jobs()) == 2


def test_trigger_allows_concurrent_runs_when_policy_allows(cluster: Cluster) -> None:
    cj = cluster.add_cronjob(NAME, policy="Allow")
    cluster.add_job(cj, f"{NAME}-1", "Running")
    result = cluster.run("trigger", NAME, "--job-name", "by-hand")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "job.batch/by-hand created\n"

    taken = cluster.run("trigger", NAME, "--job-name", "by-hand")
    assert taken.exit_code == 1
    assert taken.stderr == (
        f'Error: Job "by-hand" already exists in namespace "{cluster.namespace}": pass '
        "--job-name with another name (or leave it out for a fresh one)\n"
    )
    assert len(cluster.jobs()) == 2

    bad = cluster.run("trigger", NAME, "--job-name", "Not_Valid")
    assert bad.exit_code == 2
    assert 'Error: invalid Job name "Not_Valid"' in bad.stderr


def test_trigger_wait_logs_success(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    log = "starting\ndeleted 12 sessions\n"
    cluster.emulator.job_outcomes[cluster.namespace] = Outcome("Succeeded", log, 3, pause=0.05)

    result = cluster.run("trigger", NAME, "--wait", "--logs", "--timeout", "10")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    # The pod's log is followed again after each poll; every line is shown exactly once.
    assert lines[:2] == ["starting", "deleted 12 sessions"]
    assert lines[2].startswith(f"job.batch/{NAME}-manual-") and " succeeded after " in lines[2]
    assert len(lines) == 3
    assert "created; waiting up to 10s" in result.stderr
    assert ": Running" in result.stderr and ": Succeeded" in result.stderr


def test_trigger_wait_polls_until_the_job_finishes(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    cluster.emulator.job_outcomes[cluster.namespace] = Outcome("Succeeded", gets=4)
    calls = cluster.emulator.calls
    before = len(calls)

    result = cluster.run("trigger", NAME, "--wait", "--job-name", "polled")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("job.batch/polled succeeded after ")
    gets = [c for c in calls[before:] if c == ("GET", f"{JOBS_PATH}/polled".format(cluster))]
    assert len(gets) == 4


def test_trigger_wait_logs_of_a_chatty_pod_still_times_out(cluster: Cluster) -> None:
    """The deadline is checked between log lines: a pod that never stops talking cannot keep
    `--wait --logs` past --timeout."""
    cluster.add_cronjob(NAME)
    chatty = "".join(f"line {i}\n" for i in range(1500))  # 30 s at 20 ms a line
    cluster.emulator.job_outcomes[cluster.namespace] = Outcome(
        "Succeeded", chatty, gets=100, pause=0.02
    )

    result = cluster.run("trigger", NAME, "--wait", "--logs", "--timeout", "1")

    assert result.exit_code == 5, result.stderr
    assert "Error: gave up waiting for Job" in result.stderr and "after 1s" in result.stderr
    # The log takes 30 s to stream: its last line would mean the deadline was ignored. (On a
    # loaded machine the pod may not have said anything yet within the 1 s.)
    assert result.stdout == "" or result.stdout.startswith("line 0\n")
    assert "line 1499" not in result.stdout


def test_trigger_wait_logs_of_a_silent_pod_times_out_not_unreachable(cluster: Cluster) -> None:
    """A followed log that stays silent longer than the budget is a timeout (exit 5), not an
    unreachable API (exit 1)."""
    cluster.add_cronjob(NAME)
    cluster.emulator.job_outcomes[cluster.namespace] = Outcome(
        "Succeeded", "migrating\ndone\n", gets=100, pause=3
    )

    result = cluster.run("trigger", NAME, "--wait", "--logs", "--timeout", "1")

    assert result.exit_code == 5, result.stderr
    assert "Error: gave up waiting for Job" in result.stderr
    assert "cannot reach" not in result.stderr
    assert result.stdout == "migrating\n"  # "done" comes after a 3 s silence: not waited for


def test_trigger_wait_failure_exits_1(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    cluster.emulator.job_outcomes[cluster.namespace] = Outcome("Failed", "database unreachable\n")

    result = cluster.run("trigger", NAME, "--wait", "-o", "json")

    assert result.exit_code == 1
    run = json.loads(result.stdout)
    assert run["result"] == "Failed" and run["trigger"] == "manual"
    assert "failed: Job has reached the specified backoff limit" in result.stderr


def test_trigger_wait_timeout_exits_5(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)  # no job_outcomes: the Job never finishes

    result = cluster.run("trigger", NAME, "--wait", "--timeout", "0.3")

    assert result.exit_code == 5
    assert "Error: gave up waiting for Job" in result.stderr
    assert "after 0.3s" in result.stderr and "keeps running" in result.stderr


def test_trigger_flag_combinations_are_usage_errors(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    logs = cluster.run("trigger", NAME, "--logs")
    assert logs.exit_code == 2 and "--logs needs --wait" in logs.stderr
    both = cluster.run("trigger", NAME, "--dry-run", "--wait")
    assert both.exit_code == 2 and "exclude each other" in both.stderr
