"""Forbid holds under concurrent triggers (issue 23, item 2): at most one run, whatever the race.

Many triggers of one Forbid CronJob start together, through the Python API (threads, each with
its own connection) and the CLI (processes): exactly one creates a Job, every other is refused
with exit 3 / Refused. The claim cronctl writes on the CronJob (cronjobs.cronctl.claim) lapses when
its trigger died before creating its Job. Allow keeps its meaning: every trigger runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cronjobs.cronctl.claim import CLAIM
from cronjobs.cronctl.controller import Triggered
from cronjobs.cronctl.errors import Refused
from tests.cronctl.conftest import Cluster, ts

NAME = "web-cronjobs-cleanup-old-sessions"
REPO = Path(__file__).resolve().parents[2]


def _race(cluster: Cluster, n: int) -> list[Triggered | Exception]:
    controllers = [cluster.controller() for _ in range(n)]
    for c in controllers:
        assert c.api.user  # asked before the race, so that the race is only the trigger's
    barrier = threading.Barrier(n)
    outcomes: list[Triggered | Exception] = []

    def trigger(c: object) -> None:
        barrier.wait()
        try:
            outcomes.append(c.trigger(NAME))  # type: ignore[attr-defined]
        except Exception as e:  # the assertion below names it
            outcomes.append(e)

    threads = [threading.Thread(target=trigger, args=(c,)) for c in controllers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for c in controllers:
        c.close()
    return outcomes


def test_concurrent_api_triggers_of_a_forbid_cronjob_start_one_run(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, policy="Forbid")

    outcomes = _race(cluster, 8)

    created = [o for o in outcomes if isinstance(o, Triggered)]
    refused = [o for o in outcomes if isinstance(o, Refused)]
    assert len(created) == 1 and len(refused) == 7, outcomes
    [job] = cluster.jobs()
    assert job["metadata"]["name"] == created[0].name
    for error in refused:
        assert f"CronJob {NAME} forbids concurrent runs" in str(error)
        assert created[0].name in str(error)  # its Job, running or being created
    claim = json.loads(cluster.cronjob(NAME)["metadata"]["annotations"][CLAIM])
    assert claim["job"] == created[0].name and claim["created"] is True


def test_concurrent_cli_triggers_of_a_forbid_cronjob_start_one_run(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, policy="Forbid")
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "USER": "alice"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cronjobs.cronctl", "trigger", NAME],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    results = [(p.wait(120), *p.communicate()) for p in procs]

    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 3, 3, 3, 3, 3], results
    [job] = cluster.jobs()
    [(_, out, _)] = [r for r in results if r[0] == 0]
    assert out == f"job.batch/{job['metadata']['name']} created\n"
    for code, _, err in results:
        if code == 3:
            assert err.startswith(f"Error: CronJob {NAME} forbids concurrent runs and ")
            assert "Traceback" not in err


def test_concurrent_triggers_of_an_allow_cronjob_all_run(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, policy="Allow")

    outcomes = _race(cluster, 6)

    assert all(isinstance(o, Triggered) for o in outcomes), outcomes
    assert len(cluster.jobs()) == 6
    assert CLAIM not in (cluster.cronjob(NAME)["metadata"].get("annotations") or {})


def _claimed(cluster: Cluster, at: datetime, job: str = "web-cronjobs-x-manual-1") -> None:
    """A claim as a trigger leaves it when it died between claiming and creating its Job."""
    claim = {"job": job, "at": ts(at), "by": "bob", "created": False}
    cluster.add_cronjob(NAME, policy="Forbid", annotations={CLAIM: json.dumps(claim)})


def test_a_claim_whose_job_was_never_created_blocks_until_it_lapses(cluster: Cluster) -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    _claimed(cluster, now - timedelta(minutes=1))
    c = cluster.controller(clock=lambda: now)
    try:
        try:
            c.trigger(NAME)
            raise AssertionError("a fresh claim did not block")
        except Refused as e:
            assert str(e) == (
                f"CronJob {NAME} forbids concurrent runs and a trigger by bob at "
                "2026-12-06T11:59:00Z is creating Job web-cronjobs-x-manual-1 (if that trigger "
                "died, its claim lapses at 2026-12-06T12:04:00Z): wait for it, or pass --force "
                "to start another anyway"
            )
        assert cluster.jobs() == []
        later = cluster.controller(clock=lambda: now + timedelta(minutes=4))
        try:
            job = later.trigger(NAME)
        finally:
            later.close()
    finally:
        c.close()
    assert [j["metadata"]["name"] for j in cluster.jobs()] == [job.name]


def test_a_claim_whose_job_finished_blocks_nothing(cluster: Cluster) -> None:
    cj = cluster.add_cronjob(NAME, policy="Forbid")
    first = cluster.run("trigger", NAME)
    assert first.exit_code == 0, first.stderr
    again = cluster.run("trigger", NAME)
    assert again.exit_code == 3  # the first run is still going
    [job] = cluster.jobs()
    finished = {**job, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    cluster.server.put("batch/v1/jobs", cluster.namespace, finished)
    assert cj["metadata"]["uid"] == job["metadata"]["ownerReferences"][0]["uid"]

    third = cluster.run("trigger", NAME)

    assert third.exit_code == 0, third.stderr
    assert len(cluster.jobs()) == 2
