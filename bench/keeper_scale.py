"""Benchmark: `cronctl keeper` at scale against the kmock emulator: N CronJobs with J finished
Jobs each (default 1,000 and 30: 30,000 Jobs), every run already in its ledger (the state after
the keeper's first pass), so each mode starts from the same state. For each mode, the keeper
process (`cronjobs.keeper.process.keep`, as `cronctl keeper` runs it, at the chart's 30 s
interval) in a subprocess:

- start-up: from the process's start to its first pass done (the watch: its three lists, then
  the pass; list per pass: the pass's lists);
- API requests per minute, counted by the server over `--window` seconds once started;
- peak RSS of the process.

Modes: `watch` (informers: list once, then watch) and `list` (each pass lists, as before).

Run: .venv/bin/python bench/keeper_scale.py [--cronjobs 1000] [--jobs 30] [--window 120]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cronjobs.keeper import ledger  # noqa: E402
from cronjobs.keeper.ledger import Entry  # noqa: E402
from tests.cronctl.conftest import cronjob_body, job_body  # noqa: E402
from tests.cronctl.emulator import EmulatorThread  # noqa: E402

INTERVAL = 30
CHILD = """
import sys
from cronjobs.cronctl.api import ClientSettings
from cronjobs.cronctl.controller import CronJobController
from cronjobs.keeper.process import keep
ctl = CronJobController.connect(ClientSettings(field_manager="cronctl-keeper"))
keep(ctl, selector=None, lease_name="bench-keeper", interval=float(sys.argv[1]),
     host="127.0.0.1", port=int(sys.argv[2]), watch=sys.argv[3] == "watch")
"""


def seed(server: EmulatorThread, namespace: str, cronjobs: int, jobs: int) -> None:
    now = datetime.now(UTC)
    for i in range(cronjobs):
        name = f"web-cronjobs-job-{i}"
        cj = server.put("batch/v1/cronjobs", namespace, cronjob_body(name, f"{i % 60} * * * *"))
        entries = []
        for j in range(jobs):
            result = "Failed" if j % 10 == 0 else "Succeeded"
            started = now - timedelta(hours=j + 1)
            body = job_body(cj, f"{name}-{j}", result, started=started)
            job = server.put("batch/v1/jobs", namespace, body)
            entries.append(
                Entry(
                    uid=job["metadata"]["uid"], job=f"{name}-{j}", result=result,
                    trigger="scheduled", cronjob=name, started=started.isoformat(),
                    finished=(started + timedelta(seconds=40)).isoformat(), duration_seconds=40,
                )
            )  # fmt: skip
        server.put(
            "v1/configmaps",
            namespace,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": ledger.configmap_name(name),
                    "labels": {ledger.LEDGER_LABEL: name},
                },
                "data": ledger.dump(sorted(entries, key=lambda e: e.started or "")),
            },
        )


def passes(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0
    line = next(x for x in text.splitlines() if x.startswith("cronjobs_keeper_passes_total"))
    return int(float(line.split()[-1]))


def run(
    mode: str, kubeconfig: Path, server: EmulatorThread, window: float
) -> tuple[float, float, float]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PYTHONPATH": str(ROOT)}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(INTERVAL), str(port), mode],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    while passes(port) < 1:
        assert process.poll() is None, "the keeper stopped"
        time.sleep(0.2)
    startup = time.perf_counter() - start
    before = len(server.emulator.calls)
    time.sleep(window)
    calls = len(server.emulator.calls) - before
    process.send_signal(signal.SIGTERM)
    _, _, usage = os.wait4(process.pid, 0)  # this child's own peak RSS (KiB on Linux)
    return startup, calls * 60 / window, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cronjobs", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--window", type=float, default=120)
    parser.add_argument("--modes", default="watch,list")
    args = parser.parse_args()
    with EmulatorThread() as server, tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        seed(server, "bench", args.cronjobs, args.jobs)
        print(
            f"seeded {args.cronjobs} CronJobs, {args.cronjobs * args.jobs} Jobs in {time.perf_counter() - start:.0f} s",
            file=sys.stderr,
        )
        kubeconfig = Path(tmp) / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(server.kubeconfig("bench")))
        rows = [
            (mode, *run(mode, kubeconfig, server, args.window)) for mode in args.modes.split(",")
        ]
    print(
        f"| keeper ({args.cronjobs} CronJobs, {args.cronjobs * args.jobs} Jobs, {INTERVAL} s interval) "
        "| start-up s | API requests / min | peak RSS MiB |"
    )
    print("|---|---|---|---|")
    for mode, startup, per_minute, rss in rows:
        label = "watch (list once, then watch)" if mode == "watch" else "list per pass"
        print(f"| {label} | {startup:.1f} | {per_minute:.1f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
