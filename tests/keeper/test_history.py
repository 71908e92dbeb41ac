"""`cronctl history` reads the keeper's ledger when there is one: a run whose Job was
garbage-collected is still listed, with its result and exit code; without the ledger (no keeper,
or no right to read it) history is the Jobs that still exist, as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cronjobs.keeper.loop import Keeper
from tests.cronctl.conftest import Cluster

NAME = "web-cronjobs-cleanup-old-sessions"
NOW = datetime.now(UTC).replace(microsecond=0)


def test_history_lists_runs_whose_jobs_are_gone(cluster: Cluster) -> None:
    cj = cluster.add_cronjob(NAME)
    cluster.add_job(cj, f"{NAME}-1", "Failed", started=NOW - timedelta(hours=2))
    cluster.add_job(cj, f"{NAME}-2", started=NOW - timedelta(hours=1))
    Keeper(cluster.controller()).run_once()
    cluster.server.call("DELETE", f"/apis/batch/v1/namespaces/{cluster.namespace}/jobs/{NAME}-1")
    assert [j["metadata"]["name"] for j in cluster.jobs()] == [f"{NAME}-2"]  # GC'd

    result = cluster.run("history", NAME, "-o", "json")
    assert result.exit_code == 0, result.stderr
    runs = json.loads(result.stdout)
    assert [(r["name"], r["result"]) for r in runs] == [
        (f"{NAME}-2", "Succeeded"),
        (f"{NAME}-1", "Failed"),
    ]
    with cluster.emulator.deny("get", "/configmaps"):
        without = json.loads(cluster.run("history", NAME, "-o", "json").stdout)
    assert [r["name"] for r in without] == [f"{NAME}-2"]
