"""Benchmark: `cronctl keeper` at scale against the kmock emulator: N CronJobs with J finished
Jobs each (default 1,000 and 30: 30,000 Jobs). Reports, for the first pass (start-up: every run
recorded into new ledgers) and a steady pass (nothing new): the keeper process's wall time and
peak RSS (`cronctl keeper --once` in a subprocess, start-up included), and the API requests the
server counted; then the requests per minute at the chart's default interval (30 s).

Run: .venv/bin/python bench/keeper_scale.py [--cronjobs 1000] [--jobs 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cronctl.conftest import cronjob_body, job_body  # noqa: E402
from tests.cronctl.emulator import EmulatorThread  # noqa: E402

INTERVAL = 30


def seed(server: EmulatorThread, namespace: str, cronjobs: int, jobs: int) -> None:
    now = datetime.now(UTC)
    for i in range(cronjobs):
        cj = server.put(
            "batch/v1/cronjobs",
            namespace,
            cronjob_body(f"web-cronjobs-job-{i}", f"{i % 60} * * * *"),
        )
        for j in range(jobs):
            result = "Failed" if j % 10 == 0 else "Succeeded"
            body = job_body(
                cj, f"web-cronjobs-job-{i}-{j}", result, started=now - timedelta(hours=j + 1)
            )
            server.put("batch/v1/jobs", namespace, body)


def one_pass(kubeconfig: Path, server: EmulatorThread) -> tuple[float, float, int]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PYTHONPATH": str(ROOT)}
    before = len(server.emulator.calls)
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "cronjobs.cronctl", "keeper", "--once"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, status, usage = os.wait4(process.pid, 0)  # this child's own peak RSS (KiB on Linux)
    seconds = time.perf_counter() - start
    assert os.waitstatus_to_exitcode(status) == 0, process.stderr.read() if process.stderr else ""
    return seconds, usage.ru_maxrss / 1024, len(server.emulator.calls) - before


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cronjobs", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=30)
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
        first = one_pass(kubeconfig, server)
        steady = one_pass(kubeconfig, server)
    print(
        f"| pass ({args.cronjobs} CronJobs, {args.cronjobs * args.jobs} Jobs) | wall s | peak RSS MiB | API requests |"
    )
    print("|---|---|---|---|")
    print(f"| first (records every run) | {first[0]:.1f} | {first[1]:.0f} | {first[2]} |")
    print(f"| steady (nothing new) | {steady[0]:.1f} | {steady[1]:.0f} | {steady[2]} |")
    print(
        f"\nsteady: {steady[2] * 60 / INTERVAL:.0f} API requests per minute at a {INTERVAL} s interval"
    )


if __name__ == "__main__":
    main()
