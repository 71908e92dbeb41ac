"""SIGTERM or SIGINT during a bulk suspend/resume (issue 23, item 10): cronctl prints what it
changed so far (read again from the cluster), says what remains, and exits 4 (interrupted).

The CLI runs as a real process; the emulator's `before_patch` hook sends the signal while the
first patch is in flight, as an operator's Ctrl-C or a pod's termination would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cronctl.conftest import Cluster

REPO = Path(__file__).resolve().parents[2]
NAMES = [f"web-cronjobs-job-{i}" for i in range(5)]


@pytest.mark.parametrize(
    ("sig", "command", "action", "suspended"),
    [
        (signal.SIGTERM, "suspend", "suspended", False),
        (signal.SIGINT, "resume", "resumed", True),
    ],
)
def test_a_signal_during_a_bulk_change_reports_what_was_done(
    cluster: Cluster, sig: signal.Signals, command: str, action: str, suspended: bool
) -> None:
    for name in NAMES:
        cluster.add_cronjob(name, suspend=suspended)
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "USER": "alice"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cronjobs.cronctl", command, "--all", "--yes"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cluster.emulator.before_patch = lambda: os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=120)

    assert proc.returncode == 4, err
    assert "Traceback" not in err
    changed = [n for n in NAMES if cluster.cronjob(n)["spec"]["suspend"] is not suspended]
    assert 1 <= len(changed) < len(NAMES)  # stopped midway
    assert out == "".join(f"cronjob.batch/{n} {action}\n" for n in changed)
    left = ", ".join(f"{cluster.namespace}/{n}" for n in NAMES if n not in changed)
    assert err.endswith(
        f"Interrupted: {action} {len(changed)} of {len(NAMES)} CronJobs; not {action}: {left} "
        "(run the command again to finish).\n"
    ), err
