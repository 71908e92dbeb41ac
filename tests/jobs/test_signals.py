"""SIGTERM honoured at every instant (issue 21 §1), by the real `cronjobs` console script.

In its container `cronjobs` is PID 1, and the kernel drops a TERM sent to a PID 1 that has no
handler for it; here it runs as PID 1 of a PID namespace of its own (`unshare --user
--map-root-user --pid --fork`: works as root and as a normal user), signalled from outside
the namespace as the kubelet does. No test depends on timing to pass: an in-run instant waits
for a marker in the log, and a time-based early instant accepts whichever phase the signal hit
(start-up or the first batches) and asserts the outcome of each.

A time-based instant can fall before the interpreter runs any of our code, where nothing can
catch a signal; those tests start `cronjobs` with TERM blocked, as the kernel then keeps the
signal pending instead of dropping it, and the entrypoint unblocks it the moment its handler
is in (jobs/cronjobs/signals.py). So the outcome does not depend on how fast this machine starts Python.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.jobs.helpers import REPO

CRONJOBS = Path(sys.executable).parent / "cronjobs"
PID_1 = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc", "--kill-child"]
SESSIONS = 40_000
BATCH = 10

pytestmark = pytest.mark.slow


def seed(engine: Engine, sessions: int = SESSIONS, children: bool = True) -> None:
    """`sessions` chat sessions 200 days old (each with a message when `children`), nothing
    else: every one is due, in `sessions / BATCH` batches."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM chat_messages"))
        conn.execute(text("DELETE FROM chat_sessions"))
        conn.execute(
            text(
                "INSERT INTO chat_sessions (id, user_id, created_at) "
                "SELECT g, 'u', now() - interval '200 days' FROM generate_series(1, :n) g"
            ),
            {"n": sessions},
        )
        if children:
            conn.execute(
                text(
                    "INSERT INTO chat_messages (session_id, role, content, created_at) "
                    "SELECT g, 'user', 'hi', now() FROM generate_series(1, :n) g"
                ),
                {"n": sessions},
            )


def sessions_left(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT count(*) FROM chat_sessions")) or 0)


def job_env(url: str) -> dict[str, str]:
    """The job's environment: the database, JSON logs, and stderr buffered as Python sets it
    up for a pipe (PYTHONUNBUFFERED, set on some machines, would make it a bare FileIO)."""
    ours = ("DATABASE_", "CRONJOBS_", "PYTHONUNBUFFERED")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update(DATABASE_URL=url, CRONJOBS_LOG_FORMAT="json")
    return env


@dataclass
class Run:
    """`cronjobs cleanup-old-sessions` as PID 1 of its own PID namespace; its stderr is read
    by a thread, line by line, and `seen(marker, n)` waits for the n-th log line saying it."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    @classmethod
    def start(cls, url: str, *, term_blocked: bool = False) -> Run:
        argv = [
            *PID_1,
            str(CRONJOBS),
            "cleanup-old-sessions",
            "--batch-size",
            str(BATCH),
            "--batch-time",
            "0",
        ]
        # The child inherits the signal mask of the thread that starts it.
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM} if term_blocked else ())
        try:
            proc = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env=job_env(url), cwd=REPO,
            )  # fmt: skip
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        run = cls(proc)
        threading.Thread(target=run._read, daemon=True).start()
        return run

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
        with self.changed:
            self.lines.append("")  # EOF
            self.changed.notify_all()

    def log(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.lines if line.startswith("{")]

    def seen(self, marker: str, n: int = 1) -> None:
        with self.changed:
            ok = self.changed.wait_for(
                lambda: sum(marker in line for line in self.lines) >= n or "" in self.lines,
                timeout=120,
            )
        assert ok and sum(marker in line for line in self.lines) >= n, self.lines[-5:]

    def pid_1(self) -> int:
        """The pid (in our namespace) of `cronjobs`: the child unshare forked, PID 1 inside."""
        for _ in range(10_000):
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.proc.pid:
                    return int(stat.parent.name)
            time.sleep(0.001)
        raise AssertionError("unshare forked no child")

    def finish(self) -> tuple[int, str]:
        assert self.proc.stdout is not None  # stderr is the reader thread's
        stdout = self.proc.stdout.read()
        self.proc.wait(timeout=120)
        with self.changed:
            self.changed.wait_for(lambda: "" in self.lines, timeout=30)
        return self.proc.returncode, stdout


def assert_stopped(run: Run, code: int, stdout: str, left_at_signal: int, left: int) -> None:
    """Exit 4, nothing deleted after the signal but the batch in hand, whole batches, each
    with its child, and the log says why it stopped, naming SIGTERM."""
    log = run.log()
    messages = [str(e["message"]) for e in log]
    assert code == 4, "".join(run.lines[-10:]) + stdout
    assert 0 <= left_at_signal - left <= BATCH, (
        f"{left_at_signal - left} rows deleted after the signal (at most the batch in hand)"
    )
    assert left % BATCH == 0, "whole batches only"
    before_run = [m for m in messages if m.startswith("stopped by SIGTERM before the run started")]
    if before_run:  # start-up: imports, settings, connecting
        assert left == SESSIONS, "a job stopped before it started deletes nothing"
        assert "Error: stopped by SIGTERM before the run started: nothing was done" in "".join(
            run.lines
        )
    else:  # the first batches
        assert "received SIGTERM: finishing the batch in hand, then stopping" in messages, run.lines
        assert log[-1]["message"] == "finished" and log[-1]["exit_code"] == 4
        assert "interrupted: committed batches stay; the next run completes the work" in stdout


@pytest.mark.parametrize("after", [0.1, 0.3, 0.6, 1.0, 1.5])
def test_term_at_an_early_instant_stops_the_job_whichever_phase_it_hits(
    pg_engine: Engine, pg_db_url: str, after: float
) -> None:
    """TERM `after` seconds after exec: during start-up (before the run: exit 4, nothing
    deleted) or in the first batches (exit 4 after the batch in hand). Before the fix a TERM
    before the run started was dropped, and the job deleted all 40,000 rows and exited 0."""
    seed(pg_engine)
    started = time.monotonic()
    run = Run.start(pg_db_url, term_blocked=True)
    pid = run.pid_1()
    time.sleep(max(0.0, started + after - time.monotonic()))
    os.kill(pid, signal.SIGTERM)
    left_at_signal = sessions_left(pg_engine)
    code, stdout = run.finish()
    assert_stopped(run, code, stdout, left_at_signal, sessions_left(pg_engine))


@pytest.mark.parametrize(
    ("marker", "n"), [('"started"', 1), ("batch committed", 1), ("batch committed", 25)]
)
def test_term_in_the_first_batches_stops_after_the_batch_in_hand(
    pg_engine: Engine, pg_db_url: str, marker: str, n: int
) -> None:
    seed(pg_engine)
    run = Run.start(pg_db_url)
    pid = run.pid_1()
    run.seen(marker, n)
    os.kill(pid, signal.SIGTERM)
    left_at_signal = sessions_left(pg_engine)
    code, stdout = run.finish()
    left = sessions_left(pg_engine)
    assert_stopped(run, code, stdout, left_at_signal, left)
    assert left < SESSIONS or marker == '"started"'


def test_the_entrypoint_records_signals_before_any_heavy_import() -> None:
    """The handlers are in once the console script's module is imported, before click, the
    catalogue or any driver is (what makes an early TERM count)."""
    probe = (
        "import json, signal, sys\n"
        "import cronjobs.entry\n"
        "print(json.dumps({'handled': [signal.getsignal(s) not in (signal.SIG_DFL, "
        "signal.default_int_handler) for s in (signal.SIGTERM, signal.SIGINT)], "
        "'modules': sorted(m for m in sys.modules if m.split('.')[0] in "
        "('click', 'sqlalchemy', 'psycopg', 'redis', 'qdrant_client', 'cronjobs'))}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    found = json.loads(out.stdout)
    assert found == {
        "handled": [True, True],
        "modules": ["cronjobs", "cronjobs.entry", "cronjobs.signals"],
    }
    script = CRONJOBS.read_text()
    assert "from cronjobs.entry import main" in script, (
        "the console script starts at cronjobs.entry"
    )


def test_term_with_stderr_to_a_slow_pipe_always_stops_the_job(
    pg_engine: Engine, pg_db_url: str
) -> None:
    """TERM while the job is blocked writing its log to a full pipe (a slow log collector).
    Before the fix the handler itself logged, which raised "reentrant call" inside stderr's
    write, so the stop flag was never set: the job deleted everything and exited 0."""
    for attempt in range(10):
        seed(pg_engine, 20_000, children=False)
        proc = subprocess.Popen(
            [str(CRONJOBS), "cleanup-old-sessions", "--batch-size", str(BATCH), "--batch-time", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=job_env(pg_db_url), cwd=REPO,
        )  # fmt: skip
        assert proc.stderr is not None and proc.stdout is not None
        err = proc.stderr.fileno()
        for _ in range(1000):  # until the pipe is full: the job waits in a write to stderr
            assert proc.poll() is None, proc.communicate()
            if _blocked_writing(proc.pid):
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        log = b""
        while chunk := os.read(err, 4096):  # then a slow reader to the end
            log += chunk
            time.sleep(0.005)
        stdout = proc.stdout.read().decode()
        proc.wait(timeout=60)
        assert proc.returncode == 4, f"run {attempt + 1}: {log[-2000:].decode()}"
        assert b"reentrant call" not in log and b"Logging error" not in log
        assert "interrupted: committed batches stay" in stdout
        assert sessions_left(pg_engine) > 0


def _blocked_writing(pid: int) -> bool:
    """The process sleeps in a write to a pipe (kernel function pipe_write, or
    anon_pipe_write on newer kernels)."""
    return Path(f"/proc/{pid}/wchan").read_text().endswith("pipe_write")


APP = '''
import os
import signal
import time
from pathlib import Path


def before_the_loop(ctx):
    """A plain function returning the coroutine to run: the signal comes after the run
    started, before the event loop does."""
    os.kill(os.getpid(), signal.SIGTERM)
    return work()


async def work():
    Path("ran").touch()
    return {"done": 1}


def steps(ctx):
    Path("started").touch()
    done = 0
    while not ctx.stop.is_set():
        time.sleep(0.01)
        done += 1
    return {"steps": done}
'''


def run_app(tmp_path: Path, target: str) -> subprocess.Popen[str]:
    (tmp_path / "appjobs.py").write_text(APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CRONJOBS_"))}
    env.update(CRONJOBS_LOG_FORMAT="json", PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [str(CRONJOBS), "run", target], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env, cwd=tmp_path,
    )  # fmt: skip


def test_an_async_job_signalled_before_its_loop_starts_never_starts(tmp_path: Path) -> None:
    proc = run_app(tmp_path, "appjobs:before_the_loop")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    assert not (tmp_path / "ran").exists(), "the coroutine ran after the signal"
    messages = [json.loads(line)["message"] for line in err.splitlines()]
    assert "received SIGTERM: cancelling the job before it started" in messages
    assert "interrupted by SIGTERM: work committed before stays" in out


def test_a_sigint_stop_is_named_sigint(tmp_path: Path) -> None:
    proc = run_app(tmp_path, "appjobs:steps")
    while not (tmp_path / "started").exists():
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    messages = [json.loads(line)["message"] for line in err.splitlines()]
    assert "received SIGINT: finishing the batch in hand, then stopping" in messages
    assert out.startswith("steps: ") and "interrupted by SIGINT: work committed before" in out
    assert "SIGTERM" not in out + err
