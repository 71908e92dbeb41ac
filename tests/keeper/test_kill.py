"""The keeper killed with SIGKILL at any instant and restarted, again and again, against the API
emulator: no requested run is started twice, no finished run is recorded twice or lost, and the
blackout suspend it made is restored once its window is over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cronjobs.keeper import ledger, policy
from cronjobs.keeper.loop import HANDLED, REQUEST, request_job_name
from tests.cronctl.conftest import Cluster

REPO = Path(__file__).resolve().parents[2]


def start(cluster: Cluster, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "cronjobs.cronctl", "keeper", "--interval", "1", "--port", str(port),
         "--lease", "web-keeper", "--host", "127.0.0.1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def test_killed_at_any_instant_it_repeats_nothing_and_loses_nothing(cluster: Cluster) -> None:
    from tests.keeper.test_loop import _free_port

    now = datetime.now(UTC).replace(microsecond=0)
    requests = [{"id": f"r{i}", "by": "ana"} for i in range(4)]
    cronjobs = []
    for i, request in enumerate(requests):
        cj = cluster.add_cronjob(
            f"web-cronjobs-k{i}", policy="Allow", annotations={REQUEST: json.dumps(request)}
        )
        cronjobs.append(cj)
        for n in range(3):
            cluster.add_job(cj, f"web-cronjobs-k{i}-{n}", started=now - timedelta(hours=3 - n))
    # A blackout that is over: the keeper's mark says it ended a minute ago.
    over = {
        policy.BLACKOUT_UNTIL: (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cronctl.cronjobs.dev/suspended-by": policy.ACTOR,
    }
    cluster.add_cronjob("web-cronjobs-bl", suspend=True, annotations=over)

    port = _free_port()
    for delay in (0.3, 0.8, 1.3, 0.5, 2.0, 1.1):  # through start-up, mid-pass, between passes
        process = start(cluster, port)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    process = start(cluster, port)  # and one that lives long enough to finish the work
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # its handlers are in once /healthz answers
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            break
        except OSError:
            time.sleep(0.2)
    try:
        while time.monotonic() < deadline:
            annotations = [cluster.cronjob(f"web-cronjobs-k{i}")["metadata"].get("annotations") or {} for i in range(4)]  # fmt: skip
            restored = cluster.cronjob("web-cronjobs-bl")["spec"]["suspend"] is False
            if all(HANDLED in a for a in annotations) and restored:
                break
            time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0

    names = sorted(j["metadata"]["name"] for j in cluster.jobs())
    requested = sorted(request_job_name(f"web-cronjobs-k{i}", f"r{i}") for i in range(4))
    assert [n for n in names if "-req-" in n] == requested  # each request: one Job, once
    for i in range(4):
        path = f"/api/v1/namespaces/{cluster.namespace}/configmaps/web-cronjobs-k{i}-runs"
        entries = ledger.load(cluster.server.call("GET", path)["data"])
        recorded = sorted(e.job for e in entries)
        assert recorded == sorted(set(recorded))  # none twice
        assert {f"web-cronjobs-k{i}-{n}" for n in range(3)} <= set(recorded)  # none lost
    assert cluster.cronjob("web-cronjobs-bl")["spec"]["suspend"] is False
