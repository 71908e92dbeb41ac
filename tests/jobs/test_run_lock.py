"""`cronjobs run MODULE:FUNCTION` on an unregistered function holds a lock of that function's
own: a function of the same name in another module is another job, not "in progress"."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.jobs.helpers import REPO

SLOW = """
import time
from pathlib import Path

def slow(ctx):
    Path("started").touch()
    while not Path("release").exists():
        time.sleep(0.05)
    return "a done"
"""
QUICK = """
def slow(ctx):
    return "b done"
"""


def test_same_named_functions_of_two_modules_do_not_share_a_lock(tmp_path: Path) -> None:
    (tmp_path / "mod_a.py").write_text(SLOW)
    (tmp_path / "mod_b.py").write_text(QUICK)
    db = tmp_path / "app.db"
    db.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CRONJOBS_"))}
    env.update(DATABASE_URL=f"sqlite:///{db}", PYTHONPATH=str(REPO))

    def cronjobs(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "cronjobs", *args], cwd=tmp_path, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip

    first = cronjobs("run", "mod_a:slow")
    deadline = time.monotonic() + 30
    while not (tmp_path / "started").exists():
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.02)
    try:
        other = cronjobs("run", "mod_b:slow")
        out, err = other.communicate(timeout=30)
        assert other.returncode == 0, err
        assert out.strip() == "b done"
        again = cronjobs("run", "mod_a:slow")  # the same function: its lock is held
        _, err = again.communicate(timeout=30)
        assert again.returncode == 3 and "another run of mod_a:slow" in err
    finally:
        (tmp_path / "release").touch()
        first.communicate(timeout=30)
    assert first.returncode == 0
