"""Helpers shared by the benchmarks: running the real CLI as a measured subprocess, progress
on stderr, tables on stdout, medians."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any


def script(name: str) -> str:
    """A console script of this interpreter (`cronjobs`, `cronctl`), not a pyenv shim: a shim
    adds a bash process and its own start-up to every measurement, and drops PYTHONIMPORTTIME."""
    import shutil
    from pathlib import Path

    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


def progress(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass
class JobRun:
    """One run of a `cronjobs` subcommand as its own process."""

    argv: list[str]
    returncode: int
    wall: float
    """Process wall time: start-up, imports, connecting, the work, exit."""
    peak_rss_mb: float
    """ru_maxrss of that process (and nothing else)."""
    stdout: str
    logs: list[dict[str, Any]] = field(default_factory=list)
    timed_out: bool = False

    def lines(self, message: str) -> list[dict[str, Any]]:
        return [r for r in self.logs if r.get("message") == message]

    @property
    def work_seconds(self) -> float:
        """The job's own timing of the run, from its `finished` log line."""
        done = self.lines("finished")
        return float(done[-1]["seconds"]) if done else float("nan")

    def longest(self, message: str) -> float:
        return max((float(r["seconds"]) for r in self.lines(message)), default=0.0)


def run_job(argv: list[str], env: dict[str, str], timeout: float | None = None) -> JobRun:
    """Run `argv` with JSON logs; wait4() gives exactly this child's peak RSS. Past `timeout`
    seconds the job gets SIGTERM (it stops after the batch in hand), then SIGKILL 15 s later."""
    full_env = {**os.environ, "CRONJOBS_LOG_FORMAT": "json", **env}
    peak = tempfile.NamedTemporaryFile("r", suffix=".rss", delete=False)  # noqa: SIM115
    if argv[0] == "cronjobs":  # its own peak RSS, written at exit (bench/peak_rss.py)
        here = os.path.dirname(os.path.abspath(__file__))
        full_env["PYTHONPATH"] = os.pathsep.join([here, full_env.get("PYTHONPATH", "")])
        full_env["BENCH_PEAK_RSS_OUT"] = peak.name
        argv = [sys.executable, "-c", "import peak_rss; peak_rss.main()", *argv[1:]]
    elif argv[0] == "cronctl":
        argv = [script(argv[0]), *argv[1:]]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=full_env)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.perf_counter() - started
            if timeout is not None and elapsed > timeout and not timed_out:
                proc.terminate()
                timed_out = True
            elif timeout is not None and elapsed > timeout + 15:
                proc.kill()
            time.sleep(0.02)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    logs = []
    for line in stderr.splitlines():
        try:
            logs.append(json.loads(line))
        except ValueError:
            logs.append({"message": "(not json)", "text": line})
    own = peak.read().strip()
    peak.close()
    os.unlink(peak.name)
    rss_mb = int(own) / 1024 if own else usage.ru_maxrss / 1024
    run = JobRun(argv, proc.returncode, wall, rss_mb, stdout, logs)
    run.timed_out = timed_out
    return run


def median(values: list[float]) -> float:
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if value != value:
            return "—"
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A Markdown table (pastes straight into bench/README.md)."""
    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [
        max(len(c), *(len(row[i]) for row in cells)) if cells else len(c)
        for i, c in enumerate(columns)
    ]
    out = [f"\n### {title}\n"]
    out.append("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=False)) + " |")
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        out.append("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)) + " |")
    return "\n".join(out)


def emit(text: str) -> None:
    print(text, flush=True)
