"""Benchmark: `cronctl list` against the kmock emulator with 10, 100 and 1000 CronJobs (5 Jobs each).

Reports the API requests the server counted and the wall time of the Python API call
(CronJobController.list_cronjobs) and of the CLI (`python -m cronjobs.cronctl list -o json` in a
subprocess, start-up included). Run: python bench/cronctl_list.py
"""

from __future__ import annotations

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

from cronjobs.cronctl.api import ClientSettings  # noqa: E402
from cronjobs.cronctl.controller import CronJobController  # noqa: E402
from tests.cronctl.conftest import cronjob_body, job_body  # noqa: E402
from tests.cronctl.emulator import EmulatorThread  # noqa: E402

SIZES = (10, 100, 1000)
JOBS_PER_CRONJOB = 5
REPEAT = 3


def seed(server: EmulatorThread, namespace: str, count: int) -> None:
    now = datetime.now(UTC)
    for i in range(count):
        cj = server.put(
            "batch/v1/cronjobs",
            namespace,
            cronjob_body(
                f"web-cronjobs-job-{i}",
                f"{i % 60} * * * *",
                time_zone="Europe/Berlin" if i % 2 else None,
            ),
        )
        for j in range(JOBS_PER_CRONJOB):
            result = "Failed" if j == 0 else "Succeeded"
            server.put(
                "batch/v1/jobs",
                namespace,
                job_body(
                    cj, f"web-cronjobs-job-{i}-{j}", result, started=now - timedelta(hours=j + 1)
                ),
            )


def main() -> None:
    rows = []
    with EmulatorThread() as server, tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            namespace = f"bench-{size}"
            seed(server, namespace, size)
            kubeconfig = Path(tmp) / f"kubeconfig-{size}"
            kubeconfig.write_text(yaml.safe_dump(server.kubeconfig(namespace)))
            controller = CronJobController.connect(ClientSettings(kubeconfig=str(kubeconfig)))
            calls = server.emulator.calls
            api_times = []
            for _ in range(REPEAT):
                before = len(calls)
                start = time.perf_counter()
                infos = controller.list_cronjobs()
                api_times.append(time.perf_counter() - start)
                requests = len(calls) - before
            controller.close()
            assert len(infos) == size, (len(infos), size)
            env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PYTHONPATH": str(ROOT)}
            before = len(calls)
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "cronjobs.cronctl", "list", "-o", "json"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            cli_time = time.perf_counter() - start
            cli_requests = len(calls) - before
            assert done.stdout.count('"name"') == size
            rows.append(
                (size, size * JOBS_PER_CRONJOB, requests, min(api_times), cli_requests, cli_time)
            )
    print(
        f"{'CronJobs':>8} {'Jobs':>6} {'API requests':>12} {'API call (best of 3)':>21} "
        f"{'CLI requests':>12} {'CLI wall (incl. start-up)':>26}"
    )
    for size, jobs, requests, api, cli_requests, cli in rows:
        print(
            f"{size:>8} {jobs:>6} {requests:>12} {api * 1000:>18.0f} ms "
            f"{cli_requests:>12} {cli * 1000:>23.0f} ms"
        )


if __name__ == "__main__":
    main()
