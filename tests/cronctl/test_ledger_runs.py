"""describe, explain, check and list read the keeper's ledger (cronjobs.cronctl.runs): a run whose
Job was garbage-collected still counts (streak, last failure, its tick) and says where it came
from; without a ledger, or without the right to read it, they show the Jobs alone, exit 0.

The ledgers are written by the keeper's own pass (cronjobs.keeper.loop) against the emulator;
"garbage collection" deletes the Jobs and their pods as the CronJob controller does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cronjobs.cronctl import model
from cronjobs.keeper.loop import Keeper
from tests.cronctl.conftest import Cluster

NAME = "web-cronjobs-cleanup-old-sessions"
HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
KEPT = {model.KEEPER: "web-cronjobs-keeper"}


def hours_before(n: int) -> str:
    """`--since` as a time, not a duration: the window must not move when the clock passes an
    hour between the import (HOUR) and the test."""
    return model.iso(HOUR - timedelta(hours=n))


"""What the chart puts on the CronJobs its keeper looks after."""


def collect(cluster: Cluster, *jobs: str) -> None:
    """Delete the Jobs and their pods, as the CronJob controller's history limits do."""
    ns = cluster.namespace
    for job in jobs:
        cluster.server.call("DELETE", f"/apis/batch/v1/namespaces/{ns}/jobs/{job}")
        cluster.server.call("DELETE", f"/api/v1/namespaces/{ns}/pods/{job}-pod")


def hourly(cluster: Cluster, results: list[str], gone: int) -> dict[str, Any]:
    """An hourly CronJob whose run i (oldest first, one per tick) had results[i]; the keeper
    records them all, then the oldest `gone` Jobs are garbage-collected. The first failed run
    logs "boom: db is down"."""
    n = len(results)
    cj = cluster.add_cronjob(
        NAME, "0 * * * *", annotations=KEPT, created=HOUR - timedelta(hours=n + 1)
    )
    logged = False
    for i, result in enumerate(results):
        job = f"{NAME}-{i + 1}"
        cluster.add_job(cj, job, result, started=HOUR - timedelta(hours=n - i))
        code = 0 if result == "Succeeded" else 1
        log = "connecting\nboom: db is down\n" if code and not logged else "ok\n"
        logged = logged or bool(code)
        cluster.add_pod(job, f"{job}-pod", log, "Failed" if code else "Succeeded",
                        cronjob=cj, exit_code=code)  # fmt: skip
    Keeper(cluster.controller(), clock=lambda: HOUR).run_once()
    collect(cluster, *(f"{NAME}-{i + 1}" for i in range(gone)))
    assert len(cluster.jobs()) == n - gone
    return cj


def test_describe_merges_the_ledger_and_says_where_a_run_came_from(cluster: Cluster) -> None:
    hourly(cluster, ["Succeeded", "Failed", "Failed", "Failed"], gone=2)

    shown = cluster.run("describe", NAME)
    assert shown.exit_code == 0, shown.stderr
    runs = shown.stdout.split("Recent runs (4 of 4):", 1)[1]
    assert "FROM" in runs
    rows = {line.split()[0]: line for line in runs.splitlines() if line.startswith(NAME)}
    assert rows[f"{NAME}-1"].endswith("Succeeded   ledger")
    assert rows[f"{NAME}-2"].endswith("Failed      ledger")
    assert rows[f"{NAME}-4"].endswith("Failed      job")
    assert "FROM ledger: the keeper's ledger remembers the run; its Job is gone" in runs
    assert "Streak:             3 failed" in shown.stdout  # the Jobs alone say 2

    data = json.loads(cluster.run("describe", NAME, "-o", "json").stdout)
    assert data["ledger"] == "read"
    assert data["streak"] == {"result": "Failed", "count": 3}
    by_name = {r["name"]: r for r in data["runs"]}
    assert [r["name"] for r in data["runs"]] == [f"{NAME}-{i}" for i in (4, 3, 2, 1)]  # once each
    assert by_name[f"{NAME}-2"]["source"] == "ledger"
    assert by_name[f"{NAME}-2"]["exit_code"] == 1
    assert by_name[f"{NAME}-2"]["log_tail"] == ["connecting", "boom: db is down"]
    assert by_name[f"{NAME}-4"]["source"] == "job"


def test_explain_shows_a_gone_runs_failure_with_its_log_tail_and_its_tick_ran(
    cluster: Cluster,
) -> None:
    hourly(cluster, ["Failed", "Succeeded"], gone=1)

    shown = cluster.run("explain", NAME, "--since", hours_before(3))
    assert shown.exit_code == 0, shown.stderr
    assert f"Last failure: {NAME}-1, " in shown.stdout
    assert "(from the keeper's ledger; its Job is gone)" in shown.stdout
    assert "  Exit code: 1 (" in shown.stdout
    assert "Log (its last 2 lines, as the keeper kept them):\n    connecting\n    boom" in (
        shown.stdout
    )
    assert "Streak: the last run succeeded" in shown.stdout

    data = json.loads(cluster.run("explain", NAME, "--since", hours_before(3), "-o", "json").stdout)
    failure = data["last_failure"]
    assert (failure["name"], failure["source"]) == (f"{NAME}-1", "ledger")
    assert failure["log_tail"] == ["connecting", "boom: db is down"]
    tick = model.iso(HOUR - timedelta(hours=2))
    [verdict] = [t for t in data["ticks"] if t["at"] == tick]
    assert (verdict["outcome"], verdict["job"]) == ("ran", f"{NAME}-1")


def test_check_counts_the_failures_only_the_ledger_remembers(cluster: Cluster) -> None:
    hourly(cluster, ["Succeeded", "Failed", "Failed", "Failed"], gone=2)

    checked = cluster.run("check", NAME, "--max-failures", "2", "--max-age", "30d")
    assert checked.exit_code == 1
    assert f"{cluster.namespace}/{NAME}: the last 3 runs failed" in checked.stdout
    every = cluster.run("check", "--all", "--max-failures", "2", "--max-age", "30d")
    assert every.exit_code == 1 and "the last 3 runs failed" in every.stdout

    listed = json.loads(cluster.run("list", "-o", "json").stdout)
    assert [(i["ledger"], i["streak"]["count"]) for i in listed] == [("read", 3)]


def test_without_a_ledger_the_jobs_alone(cluster: Cluster) -> None:
    cj = cluster.add_cronjob(NAME, "0 * * * *", annotations=KEPT)
    cluster.add_job(cj, f"{NAME}-1", "Failed", started=HOUR - timedelta(hours=1))

    shown = cluster.run("describe", NAME)
    assert shown.exit_code == 0, shown.stderr
    assert "FROM" not in shown.stdout and "ledger" not in shown.stdout
    assert json.loads(cluster.run("describe", NAME, "-o", "json").stdout)["ledger"] == "none"
    checked = cluster.run("check", NAME, "--max-failures", "1", "--max-age", "30d")
    assert checked.exit_code == 0, checked.stdout


def test_configmaps_forbidden_falls_back_to_the_jobs_with_a_note(cluster: Cluster) -> None:
    hourly(cluster, ["Succeeded", "Failed", "Failed", "Failed"], gone=2)

    with cluster.emulator.deny("get", "/configmaps"), cluster.emulator.deny("list", "/configmaps"):
        shown = cluster.run("describe", NAME)
        data = json.loads(cluster.run("describe", NAME, "-o", "json").stdout)
        checked = cluster.run("check", "--all", "--max-failures", "2", "--max-age", "30d")
        explained = cluster.run("explain", NAME, "--since", hours_before(5))
        listed = json.loads(cluster.run("list", "-o", "json").stdout)
    assert shown.exit_code == 0, shown.stderr
    assert (
        "Recent runs (2 of 2):" in shown.stdout and "Streak:             2 failed" in shown.stdout
    )
    note = "the keeper's ledger of this CronJob cannot be read (no get on configmaps)"
    assert note in shown.stdout and "Error" not in shown.stderr
    assert (data["ledger"], len(data["runs"])) == ("forbidden", 2)
    assert checked.exit_code == 0, checked.stdout  # 2 failures in a row, as the Jobs say
    assert explained.exit_code == 0 and f"Note: {note}" in explained.stdout
    assert listed[0]["ledger"] == "forbidden"


def test_a_reader_who_may_get_but_not_list_ledgers_gets_them_one_by_one(
    cluster: Cluster,
) -> None:
    """The chart's viewer Role grants `get` on each ledger by name, no `list`."""
    hourly(cluster, ["Succeeded", "Failed", "Failed", "Failed"], gone=2)
    other = cluster.add_cronjob("web-cronjobs-health-check", "*/30 * * * *")  # no keeper mark
    cluster.add_job(other, "web-cronjobs-health-check-1")
    calls = cluster.emulator.calls

    with cluster.emulator.deny("list", "/configmaps"):
        before = len(calls)
        listed = json.loads(cluster.run("list", "-o", "json").stdout)
    by_name = {i["name"]: i for i in listed}
    assert (by_name[NAME]["ledger"], by_name[NAME]["streak"]["count"]) == ("read", 3)
    assert by_name["web-cronjobs-health-check"]["ledger"] == "none"
    ledgers = [p for _, p in calls[before:] if "/configmaps" in p]
    assert [p.split("?")[0].rsplit("/", 1)[-1] for p in ledgers] == ["configmaps", f"{NAME}-runs"]


def test_logs_of_a_gone_failed_run_prints_the_tail_the_keeper_kept(cluster: Cluster) -> None:
    hourly(cluster, ["Failed", "Succeeded"], gone=1)

    shown = cluster.run("logs", NAME, "--job", f"{NAME}-1")
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout == "connecting\nboom: db is down\n"
    assert f"Job {NAME}-1 is gone: the last 2 line(s) of its log, as the keeper kept them" in (
        shown.stderr
    )
    newest = cluster.run("logs", NAME)  # its Job and pod exist: the pod's log, as before
    assert newest.exit_code == 0, newest.stderr
    assert newest.stdout == "ok\n"


def test_logs_of_a_gone_succeeded_run_says_only_failures_are_kept(cluster: Cluster) -> None:
    hourly(cluster, ["Succeeded", "Failed"], gone=1)

    shown = cluster.run("logs", NAME, "--job", f"{NAME}-1")
    assert shown.exit_code == 1
    assert f"Error: Job {NAME}-1 is gone; the keeper's ledger remembers the run (Succeeded)" in (
        shown.stderr
    )


def test_logs_of_a_failed_run_whose_pod_is_gone_falls_back_to_the_kept_tail(
    cluster: Cluster,
) -> None:
    hourly(cluster, ["Failed"], gone=0)
    ns = cluster.namespace
    cluster.server.call("DELETE", f"/api/v1/namespaces/{ns}/pods/{NAME}-1-pod")  # by its TTL

    shown = cluster.run("logs", NAME)
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout == "connecting\nboom: db is down\n"
    assert f"The pods of Job {NAME}-1 are gone: the last 2 line(s)" in shown.stderr


def test_logs_say_why_they_cannot_be_read_rather_than_show_the_kept_tail(cluster: Cluster) -> None:
    hourly(cluster, ["Failed"], gone=0)

    with cluster.emulator.deny("list", "/pods"):
        shown = cluster.run("logs", NAME)
    assert shown.exit_code == 1
    assert 'cronctl needs the "list" verb on "pods"' in shown.stderr
    assert shown.stdout == ""
