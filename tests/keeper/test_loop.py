"""The keeper's pass against the API emulator (no API server can run here; the emulator stands
in for it over real HTTP), with an injected clock: runs recorded once whatever repeats, a
failed run's log tail kept, policies applied with the keeper as actor, operators' requests
started once each, expired suspensions ended, and two replicas never both leading."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cronjobs.cronctl import model
from cronjobs.keeper import ledger, policy
from cronjobs.keeper.lease import Lease
from cronjobs.keeper.loop import HANDLED, REQUEST, Keeper, request_job_name
from tests.cronctl.conftest import Cluster

NOW = datetime.now(UTC).replace(microsecond=0)


def ledger_of(cluster: Cluster, cronjob: str) -> list[ledger.Entry]:
    path = f"/api/v1/namespaces/{cluster.namespace}/configmaps/{ledger.configmap_name(cronjob)}"
    return ledger.load(cluster.server.call("GET", path).get("data"))


def keeper(cluster: Cluster, now: datetime = NOW) -> Keeper:
    return Keeper(cluster.controller(), clock=lambda: now)


def test_finished_runs_are_recorded_once_with_a_failed_runs_log_tail(cluster: Cluster) -> None:
    cj = cluster.add_cronjob("web-cronjobs-a")
    cluster.add_job(cj, "web-cronjobs-a-1", started=NOW - timedelta(hours=3))
    cluster.add_job(cj, "web-cronjobs-a-2", "Failed", started=NOW - timedelta(hours=2))
    cluster.add_job(cj, "web-cronjobs-a-3", "Running", started=NOW - timedelta(minutes=1))
    summary = json.dumps({"job": "a", "exit_code": 1, "counts": {"deleted": 0}})
    cluster.add_pod(
        "web-cronjobs-a-2", "web-cronjobs-a-2-x", "starting\nconnecting\nboom: db is down\n",
        "Failed", cronjob=cj, exit_code=1, message=summary,
    )  # fmt: skip
    first = keeper(cluster).run_once()
    assert sorted(e.job for e in first.recorded) == ["web-cronjobs-a-1", "web-cronjobs-a-2"]
    entries = ledger_of(cluster, "web-cronjobs-a")
    failed = next(e for e in entries if e.result == "Failed")
    assert failed.exit_code == 1 and failed.log_tail[-1] == "boom: db is down"
    assert failed.summary == json.loads(summary)
    assert keeper(cluster).run_once().recorded == []  # a restart records nothing twice
    assert [e.job for e in ledger_of(cluster, "web-cronjobs-a")] == [e.job for e in entries]


def test_pause_after_failures_suspends_with_the_keeper_as_actor(cluster: Cluster) -> None:
    notes = {policy.POLICY: json.dumps({"pauseAfterFailures": 2})}
    cj = cluster.add_cronjob("web-cronjobs-b", annotations=notes)
    for i in (1, 2):
        cluster.add_job(cj, f"web-cronjobs-b-{i}", "Failed", started=NOW - timedelta(hours=3 - i))
    done = keeper(cluster).run_once()
    assert done.actions["suspend"] == 1
    after = cluster.cronjob("web-cronjobs-b")
    annotations = after["metadata"]["annotations"]
    assert after["spec"]["suspend"] is True
    assert annotations[model.SUSPENDED_BY] == policy.ACTOR
    assert annotations[model.SUSPEND_REASON] == "paused after 2 consecutive failed runs"
    assert keeper(cluster).run_once().actions["suspend"] == 0


def test_a_blackout_suspends_and_restores_exactly(cluster: Cluster) -> None:
    start = NOW.replace(second=0) - timedelta(minutes=10)
    window = {"schedule": f"{start.minute} {start.hour} * * *", "duration": 3600}
    notes = {policy.POLICY: json.dumps({"blackouts": [window]})}
    cluster.add_cronjob("web-cronjobs-c", annotations=notes)
    keeper(cluster).run_once()
    during = cluster.cronjob("web-cronjobs-c")
    assert during["spec"]["suspend"] is True
    assert during["metadata"]["annotations"][policy.BLACKOUT_UNTIL] == model.iso(
        start + timedelta(hours=1)
    )
    keeper(cluster, NOW + timedelta(hours=1)).run_once()
    after = cluster.cronjob("web-cronjobs-c")
    assert after["spec"]["suspend"] is False
    assert policy.BLACKOUT_UNTIL not in (after["metadata"].get("annotations") or {})


def test_a_request_starts_one_run_however_often_the_keeper_passes(cluster: Cluster) -> None:
    request = {"id": "r-1", "by": "ana", "args": []}
    cluster.add_cronjob("web-cronjobs-d", annotations={REQUEST: json.dumps(request)})
    for _ in range(3):
        keeper(cluster).run_once()
    names = [j["metadata"]["name"] for j in cluster.jobs()]
    assert names == [request_job_name("web-cronjobs-d", "r-1")]
    job = cluster.jobs()[0]
    assert job["metadata"]["annotations"][model.TRIGGERED_BY] == "ana"
    handled = json.loads(cluster.cronjob("web-cronjobs-d")["metadata"]["annotations"][HANDLED])
    assert handled == {"id": "r-1", "job": names[0], "result": "started"}


def test_a_request_is_refused_while_a_forbid_run_is_active(cluster: Cluster) -> None:
    request = {"id": "r-2", "by": "ana"}
    cj = cluster.add_cronjob("web-cronjobs-e", annotations={REQUEST: json.dumps(request)})
    cluster.add_job(cj, "web-cronjobs-e-1", "Running", started=NOW - timedelta(minutes=1))
    keeper(cluster).run_once()
    handled = json.loads(cluster.cronjob("web-cronjobs-e")["metadata"]["annotations"][HANDLED])
    assert handled["result"].startswith("refused: ")
    assert len(cluster.jobs()) == 1


def test_expired_suspensions_end(cluster: Cluster) -> None:
    notes = {
        model.SUSPENDED_BY: "ana",
        model.SUSPENDED_AT: model.iso(NOW - timedelta(hours=2)),
        model.SUSPENDED_UNTIL: model.iso(NOW - timedelta(minutes=1)),
    }
    cluster.add_cronjob("web-cronjobs-f", suspend=True, annotations=notes)
    cluster.add_cronjob("web-cronjobs-g", suspend=True)
    assert keeper(cluster).run_once().actions["expire"] == 1
    assert cluster.cronjob("web-cronjobs-f")["spec"]["suspend"] is False
    assert cluster.cronjob("web-cronjobs-g")["spec"]["suspend"] is True


def test_two_replicas_never_lead_at_once(cluster: Cluster) -> None:
    api: Any = cluster.controller().api
    a = Lease(api, cluster.namespace, "web-keeper", "a", timedelta(seconds=30))
    b = Lease(api, cluster.namespace, "web-keeper", "b", timedelta(seconds=30))
    assert a.acquire(NOW) and not b.acquire(NOW)
    assert a.acquire(NOW + timedelta(seconds=20)) and not b.acquire(NOW + timedelta(seconds=40))
    assert b.acquire(NOW + timedelta(seconds=51)) and not a.acquire(NOW + timedelta(seconds=52))
    b.release(NOW + timedelta(seconds=53))
    assert a.acquire(NOW + timedelta(seconds=54))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_process_serves_metrics_leads_and_gives_the_lease_up(cluster: Cluster) -> None:
    import threading
    import time
    import urllib.request

    from cronjobs.keeper.process import keep

    cj = cluster.add_cronjob("web-cronjobs-h")
    cluster.add_job(cj, "web-cronjobs-h-1", started=NOW - timedelta(hours=1), seconds=42)
    stop, port, found = threading.Event(), _free_port(), {}

    def scrape() -> None:
        url = f"http://127.0.0.1:{port}/metrics"
        for _ in range(200):
            try:
                text = urllib.request.urlopen(url, timeout=2).read().decode()
            except OSError:
                time.sleep(0.05)
                continue
            if "cronjobs_keeper_passes_total 1" in text:
                found["metrics"] = text
                found["healthz"] = urllib.request.urlopen(url.replace("metrics", "healthz")).status
                break
            time.sleep(0.05)
        stop.set()

    scraper = threading.Thread(target=scrape)
    scraper.start()
    keep(
        cluster.controller(), selector=None, lease_name="web-keeper", interval=1,
        host="127.0.0.1", port=port, stop=stop,
    )  # fmt: skip
    scraper.join()
    text = found["metrics"]
    assert 'cronjobs_keeper_runs_total{cronjob="web-cronjobs-h",result="Succeeded"} 1' in text
    assert 'cronjobs_keeper_last_run_duration_seconds{cronjob="web-cronjobs-h"} 42' in text
    assert "cronjobs_keeper_leader 1" in text and found["healthz"] == 200
    completed = _sample(text, "cronjobs_keeper_last_completed_pass_timestamp_seconds")
    assert completed == _sample(text, "cronjobs_keeper_last_pass_timestamp_seconds") > 0
    lease = cluster.server.call(
        "GET", f"/apis/coordination.k8s.io/v1/namespaces/{cluster.namespace}/leases/web-keeper"
    )
    assert lease["spec"].get("holderIdentity") is None  # given up on a clean stop


def _sample(text: str, name: str) -> float:
    [value] = [line.split()[1] for line in text.splitlines() if line.split()[0] == name]
    return float(value)


def test_a_follower_goes_round_but_completes_no_pass(cluster: Cluster) -> None:
    """Another replica holds the Lease: this one's loop goes round (last_pass, which /healthz
    reads, moves) but it completes no pass, so the gauge the chart's CronJobsKeeperStalled
    alert reads stays 0 (a replica that leads nothing is not progress)."""
    import threading
    import time
    import urllib.request

    from cronjobs.keeper.process import keep

    api: Any = cluster.controller().api
    assert Lease(api, cluster.namespace, "web-keeper", "other", timedelta(hours=1)).acquire(
        datetime.now(UTC)
    )
    stop, port, found = threading.Event(), _free_port(), {}

    def scrape() -> None:
        url = f"http://127.0.0.1:{port}/metrics"
        for _ in range(200):
            try:
                text = urllib.request.urlopen(url, timeout=2).read().decode()
            except OSError:
                time.sleep(0.05)
                continue
            if _sample(text, "cronjobs_keeper_last_pass_timestamp_seconds") > 0:
                found["metrics"] = text
                break
            time.sleep(0.05)
        stop.set()

    scraper = threading.Thread(target=scrape)
    scraper.start()
    keep(
        cluster.controller(), selector=None, lease_name="web-keeper", interval=1,
        host="127.0.0.1", port=port, stop=stop,
    )  # fmt: skip
    scraper.join()
    text = found["metrics"]
    assert "cronjobs_keeper_leader 0" in text and "cronjobs_keeper_passes_total 0" in text
    assert _sample(text, "cronjobs_keeper_last_completed_pass_timestamp_seconds") == 0


def test_keeper_once_from_the_cli(cluster: Cluster) -> None:
    cj = cluster.add_cronjob("web-cronjobs-i")
    cluster.add_job(cj, "web-cronjobs-i-1", "Failed", started=NOW - timedelta(hours=1))
    result = cluster.run("keeper", "--once")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["recorded"] == ["web-cronjobs-i-1"]
    assert [e.result for e in ledger_of(cluster, "web-cronjobs-i")] == ["Failed"]
