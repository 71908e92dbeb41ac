"""`cronctl serve` as a real process on a free loopback port, against the emulator."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def cronctl_serve(kubeconfig: Path, *args: str) -> Iterator[str]:
    """Start `cronctl serve ARGS`, wait until /healthz answers, yield its base URL, stop it."""
    port = free_port()
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "CRONCTL_SERVE_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cronjobs.cronctl", "serve", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):  # start-up: imports and the first bind, a second or two
            if proc.poll() is not None:
                raise AssertionError(
                    f"cronctl serve exited {proc.returncode}: {proc.stderr.read()}"
                )  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                    assert json.loads(r.read()) == {"status": "ok"}
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.05)
        else:
            raise AssertionError("cronctl serve did not answer /healthz")
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
