#!/usr/bin/env python3
"""Run the cronjobs benchmarks (issue 6) and print their tables (Markdown) on stdout.

    python3 bench/run.py                      # everything, full sizes (what `make bench` runs)
    python3 bench/run.py --quick              # small sizes, one repeat: a smoke run in ~2 min
    python3 bench/run.py --only retention --sizes 100k,1m --repeat 3
    python3 bench/run.py --only startup

Benchmarks: retention (PostgreSQL: cleanup-old-sessions and cleanup-old-analytics), aggregation
(PostgreSQL: aggregate-daily-analytics), sqlite (the embedded default), startup, job-startup
(bench/job_startup.py: each job's whole process against a minimal psycopg script, quiet and
loaded), cronctl-list (bench/cronctl_list.py, if present). Progress goes to stderr, tables to stdout.
"""

from __future__ import annotations

import argparse
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import emit, progress  # noqa: E402

ALL = ("retention", "aggregation", "sqlite", "startup", "job-startup", "cronctl-list")
# Chat sessions, and analytics events (issue 6: 100k and 1M sessions; 1M and 5M events).
FULL_SIZES = (100_000, 1_000_000)
QUICK_SIZES = (20_000, 100_000)
FULL_EVENTS = (1_000_000, 5_000_000)
QUICK_EVENTS = (200_000, 1_000_000)


def size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * mult)


def machine() -> str:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    import os

    return (
        f"{os.cpu_count()} CPUs ({cpu}), {mem} RAM, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def main() -> int:
    # SIGTERM (e.g. `timeout`) unwinds like Ctrl-C, so the throwaway server is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", default=",".join(ALL), help=f"comma-separated subset of: {', '.join(ALL)}"
    )
    parser.add_argument("--sizes", help="chat session counts, e.g. 100k,1m")
    parser.add_argument(
        "--events", help="analytics event counts, e.g. 1m,5m (the largest is used for aggregation)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument(
        "--repeat", type=int, help="runs per variant at each size (median reported)"
    )
    parser.add_argument(
        "--no-explain", action="store_true", help="skip EXPLAIN of the batch select"
    )
    args = parser.parse_args()

    only = [o.strip() for o in args.only.split(",") if o.strip()]
    unknown = set(only) - set(ALL)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    sizes = (
        [size(s) for s in args.sizes.split(",")]
        if args.sizes
        else list(QUICK_SIZES if args.quick else FULL_SIZES)
    )
    events = (
        [size(s) for s in args.events.split(",")]
        if args.events
        else list(QUICK_EVENTS if args.quick else FULL_EVENTS)
    )
    repeat = args.repeat or (1 if args.quick else 2)

    started = time.perf_counter()
    emit(f"# cronjobs benchmarks\n\nMachine: {machine()}")
    emit(f"Command: python3 bench/run.py {' '.join(sys.argv[1:])}".rstrip())

    if {"retention", "aggregation"} & set(only):
        from pg import SETTINGS, PgServer

        with PgServer() as server:
            emit(
                f"PostgreSQL {server.version()}, settings: "
                + ", ".join(f"{k}={v}" for k, v in SETTINGS.items())
            )
            if "retention" in only:
                import pg_retention

                for kind, sizes_ in (("sessions", sizes), ("analytics", events)):
                    for block in pg_retention.bench(
                        server, kind, sizes_, repeat, not args.no_explain
                    ):
                        emit(block)
            if "aggregation" in only:
                import pg_aggregation

                for block in pg_aggregation.bench(server, max(events), repeat):
                    emit(block)

    if "sqlite" in only:
        import sqlite_bench

        for block in sqlite_bench.bench(min(max(sizes), 100_000), repeat):
            emit(block)

    if "startup" in only:
        import startup

        for block in startup.bench(runs=5 if args.quick else 11):
            emit(block)

    if "job-startup" in only:
        import job_startup

        for block in job_startup.bench(5 if args.quick else 11, ["quiet", "loaded"], {}):
            emit(block)

    if "cronctl-list" in only:
        script = HERE / "cronctl_list.py"
        if script.exists():
            progress("running bench/cronctl_list.py")
            emit("\n### `cronctl list` at scale (bench/cronctl_list.py)\n\n```")
            rc = subprocess.run([sys.executable, str(script)]).returncode
            emit("```")
            if rc:
                emit(f"\nbench/cronctl_list.py exited {rc}")
        else:
            emit("\n(cronctl-list: bench/cronctl_list.py not present yet; skipped)")

    progress(f"all done in {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
