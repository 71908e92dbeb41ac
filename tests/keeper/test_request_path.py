"""`cronctl trigger` without `create jobs` (the operator Role with the keeper on): it records a
request on the CronJob instead of failing, the keeper starts the run under the request's Job
name, and `--wait` follows it to its result; a request the keeper refuses (Forbid, a run active)
is exit 3 with the keeper's reason. Against the API emulator, whose RBAC denies the operator
the create while the keeper (its own ServiceAccount and Role) may."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from cronjobs.cronctl import model
from cronjobs.cronctl.api import ClientSettings
from cronjobs.cronctl.controller import CronJobController
from cronjobs.keeper.loop import Keeper
from tests.cronctl.conftest import Cluster
from tests.cronctl.emulator import Outcome

NAME = "web-cronjobs-cleanup-old-sessions"
KEPT = {model.KEEPER: "web-keeper"}  # the chart says so when the keeper runs


def keeper(cluster: Cluster) -> Keeper:
    """The keeper as the chart runs it: its own identity, which the emulated RBAC exempts."""
    cluster.emulator.privileged.add("cronctl-keeper")
    settings = ClientSettings(kubeconfig=str(cluster.kubeconfig), field_manager="cronctl-keeper")
    return Keeper(CronJobController.connect(settings, poll_interval=0.02))


def triggered_while_keeping(cluster: Cluster, *args: str) -> Any:
    """`cronctl trigger NAME ARGS` by an operator without `create jobs`, with the keeper
    passing every 0.1 s in the background meanwhile."""
    the_keeper, stop = keeper(cluster), threading.Event()

    def loop() -> None:
        while not stop.is_set():
            the_keeper.run_once()
            stop.wait(0.1)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        with cluster.emulator.deny("create", "batch/jobs"):
            return cluster.run("trigger", NAME, *args)
    finally:
        stop.set()
        thread.join(timeout=30)


def test_without_create_jobs_trigger_asks_the_keeper(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, annotations=KEPT)
    with cluster.emulator.deny("create", "batch/jobs"):
        result = cluster.run("trigger", NAME)
    assert result.exit_code == 0, result.stderr
    assert "Requested a run of" in result.stderr and "the keeper starts it" in result.stderr
    request = json.loads(cluster.cronjob(NAME)["metadata"]["annotations"][model.TRIGGER_REQUEST])
    assert request["by"]  # who asked is recorded (the kubeconfig's user)
    assert cluster.jobs() == []  # nothing created by the operator
    job_name = result.stdout.split("job.batch/")[1].split()[0]
    assert job_name == model.request_job_name(NAME, request["id"])
    with cluster.emulator.deny("create", "batch/jobs"):  # the keeper's own Role allows it
        keeper(cluster).run_once()
    [job] = cluster.jobs()
    assert job["metadata"]["name"] == job_name
    tick = job["spec"]["template"]["metadata"]["annotations"][model.RUN_TICK]
    assert tick == request["at"]  # the run's tick is when it was asked for


def test_trigger_wait_follows_the_requested_run(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, annotations=KEPT)
    cluster.emulator.job_outcomes[cluster.namespace] = Outcome("Succeeded", "done\n")
    result = triggered_while_keeping(cluster, "--wait", "--timeout", "60")
    assert result.exit_code == 0, result.stderr
    assert "-req-" in result.stdout and "succeeded" in result.stdout


def test_a_request_the_keeper_refuses_is_exit_3(cluster: Cluster) -> None:
    cj = cluster.add_cronjob(NAME, annotations=KEPT)
    cluster.add_job(cj, f"{NAME}-1", "Running", started=datetime.now(UTC) - timedelta(minutes=1))
    result = triggered_while_keeping(cluster, "--wait", "--timeout", "60")
    assert result.exit_code == 3, result.stderr
    assert "the keeper did not start the run: refused" in result.stderr


def test_without_a_keeper_wait_times_out_saying_so(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, annotations=KEPT)
    with cluster.emulator.deny("create", "batch/jobs"):
        result = cluster.run("trigger", NAME, "--wait", "--timeout", "1")
    assert result.exit_code == 5, result.stderr
    assert "is the keeper running?" in result.stderr


def test_without_a_keeper_a_missing_create_is_refused_as_before(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    with cluster.emulator.deny("create", "batch/jobs"):
        result = cluster.run("trigger", NAME)
    assert result.exit_code == 1 and '"create" verb on "jobs"' in result.stderr
    assert model.TRIGGER_REQUEST not in (cluster.cronjob(NAME)["metadata"].get("annotations") or {})
