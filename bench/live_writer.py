"""Issue 27, the headline: what the app's writes feel while old sessions are deleted.

A writer of 4 threads at 200 writes/s in all (each thread 50/s on a fixed schedule; a write
that falls behind skips the slots it missed, so a blocked thread writes less, as an app's
request handler would): new chat sessions, messages into recent sessions, and no-op
`UPDATE chat_sessions SET title = title` of old sessions (the rows the cleanup deletes, so such
a write waits whenever the cleanup holds that row). Each write is timed. Scenarios, each on its
own clone of one seeded template, during the same run:

- idle: no cleanup, the writer alone for IDLE_SECONDS;
- job: `cronjobs cleanup-old-sessions` (its defaults: batches sized to 0.1 s);
- job, fixed: the same with `--batch-time 0 --batch-size 5000` (the batches before issue 27);
- plain DELETE: one transaction, messages of the old sessions, the old chat sessions, the old
  peptide info sessions.

Each on a quiet machine and on one loaded by a CPU-burning process (one `while True: pass`
per core), in 3 interleaved reps (each rep its own order). Reported: p50, p99 and max write
latency, writes completed, writes/s, and the ratios to idle of the same rep and load.

    .venv/bin/python bench/live_writer.py                       # 1M sessions, 3 reps
    .venv/bin/python bench/live_writer.py --sessions 100k --reps 1
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pg_retention
import seed
from common import emit, median, progress, run_job, table
from pg import SETTINGS, PgServer

THREADS = 4
RATE = 200.0  # writes per second, all threads together
IDLE_SECONDS = 10.0
FIRST_ID = 10**12  # above every seeded id
SCENARIOS = ("idle", "job", "job, fixed 5000", "plain DELETE")


@dataclass
class Writes:
    seconds: list[float] = field(default_factory=list)
    errors: int = 0
    window: float = 0.0

    def row(self) -> dict[str, Any]:
        ordered = sorted(self.seconds) or [float("nan")]

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

        return {
            "p50 ms": pct(0.50),
            "p99 ms": pct(0.99),
            "max ms": ordered[-1] * 1000,
            "writes": len(self.seconds),
            "window s": self.window,
            "writes/s": len(self.seconds) / self.window if self.window else float("nan"),
            "over 200 ms": sum(1 for s in self.seconds if s > 0.2),
            "errors": self.errors,
        }


class Writer:
    """THREADS connections writing at RATE in all until stopped."""

    def __init__(self, server: PgServer, db: str, n: int, seed_: int) -> None:
        self.server, self.db, self.n = server, db, n
        self.stop = threading.Event()
        self.writes = Writes()
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._run, args=(i, seed_ * 100 + i), daemon=True)
            for i in range(THREADS)
        ]
        self.ready = threading.Barrier(THREADS + 1)

    def _statement(self, rng: random.Random, thread: int, k: int) -> tuple[str, Any]:
        kind = k % 3
        if kind == 0:
            new_id = FIRST_ID + thread * 10**9 + k
            return (
                "INSERT INTO chat_sessions (id, user_id, title, created_at, updated_at) "
                "VALUES (%s, 'writer', 'new', now(), now())",
                (new_id,),
            )
        if kind == 1:
            return (
                "INSERT INTO chat_messages (id, session_id, role, content, created_at) "
                "VALUES (%s, %s, 'user', 'hello', now())",
                (FIRST_ID + thread * 10**9 + k, rng.randint(self.n // 2 + 1, self.n)),
            )
        return (
            "UPDATE chat_sessions SET title = title WHERE id = %s",
            (rng.randint(1, self.n // 2),),
        )

    def _run(self, thread: int, seed_: int) -> None:
        rng = random.Random(seed_)
        period = THREADS / RATE
        with self.server.connect(self.db) as conn:
            self.ready.wait()
            start = time.perf_counter() + rng.random() * period
            k = 0
            while not self.stop.is_set():
                slot = start + k * period
                now = time.perf_counter()
                if slot > now:
                    time.sleep(slot - now)
                elif now - slot > period:  # behind: skip the slots missed
                    k = int((now - start) / period) + 1
                    continue
                sql, params = self._statement(rng, thread, k)
                began = time.perf_counter()
                try:
                    conn.execute(sql, params)
                    ok = True
                except Exception:  # counted, the writer goes on
                    ok = False
                took = time.perf_counter() - began
                with self.lock:
                    self.writes.seconds.append(took)
                    self.writes.errors += 0 if ok else 1
                k += 1

    def __enter__(self) -> Writer:
        for t in self.threads:
            t.start()
        self.ready.wait()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_: Any) -> None:
        self.writes.window = time.perf_counter() - self.started
        self.stop.set()
        for t in self.threads:
            t.join(120)


def plain_delete(server: PgServer, db: str) -> dict[str, Any]:
    cutoff = seed.sessions_cutoff(seed.now_utc())
    age = "coalesce(updated_at, created_at)"
    rows = 0
    with server.connect(db, autocommit=False) as conn:
        rows += conn.execute(
            "DELETE FROM chat_messages WHERE session_id IN "
            f"(SELECT id FROM chat_sessions WHERE {age} < %s)",  # type: ignore[arg-type]
            (cutoff,),
        ).rowcount
        for t in ("chat_sessions", "peptide_info_sessions"):
            rows += conn.execute(f"DELETE FROM {t} WHERE {age} < %s", (cutoff,)).rowcount  # type: ignore[arg-type]
        conn.commit()
    return {"rows": rows}


def the_job(server: PgServer, db: str, fixed: bool) -> dict[str, Any]:
    argv = ["cronjobs", "cleanup-old-sessions", "-o", "json"]
    if fixed:
        argv += ["--batch-time", "0", "--batch-size", "5000"]
    run = run_job(argv, {"DATABASE_URL": server.url(db)})
    if run.returncode != 0:
        raise SystemExit(f"the job failed ({run.returncode}): {run.logs[-5:]}")
    batches = run.lines("batch committed")
    sizes = [int(b["size"]) for b in batches if "size" in b]
    return {
        "rows": sum(int(b["rows"]) + int(b.get("child_rows", 0)) for b in batches),
        "batches": len(batches),
        "longest tx s": run.longest("batch committed"),
        "batch sizes": f"{min(sizes)}..{max(sizes)} (median {int(median(sizes))})" if sizes else "",
    }


def one(server: PgServer, tpl: str, n: int, scenario: str, rep: int) -> dict[str, Any]:
    server.create("live", template=tpl)
    try:
        with Writer(server, "live", n, rep) as writer:
            if scenario == "idle":
                time.sleep(IDLE_SECONDS)
                extra: dict[str, Any] = {}
            elif scenario == "plain DELETE":
                extra = plain_delete(server, "live")
            else:
                extra = the_job(server, "live", fixed=scenario != "job")
        return writer.writes.row() | extra
    finally:
        server.drop("live")


class Burner:
    """One CPU-burning process per core, as the load."""

    def __enter__(self) -> Burner:
        code = "while True: pass"
        self.procs = [
            subprocess.Popen([sys.executable, "-c", code]) for _ in range(os.cpu_count() or 1)
        ]
        return self

    def __exit__(self, *_: Any) -> None:
        for p in self.procs:
            p.terminate()
            p.wait(10)


def size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * mult)


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", default="1m", help="chat sessions seeded (half old)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--loads", default="quiet,loaded", help="quiet, loaded or both")
    args = parser.parse_args()
    n = size(args.sessions)
    loads = [x.strip() for x in args.loads.split(",") if x.strip()]
    emit(f"Command: .venv/bin/python bench/live_writer.py {' '.join(sys.argv[1:])}".rstrip())
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with PgServer() as server:
        emit(
            f"PostgreSQL {server.version()}, {os.cpu_count()} cores, settings: "
            + ", ".join(f"{k}={v}" for k, v in SETTINGS.items())
        )
        tpl, _ = pg_retention.template(server, pg_retention.KINDS["sessions"], n)
        for rep in range(args.reps):
            order = SCENARIOS[rep % 4 :] + SCENARIOS[: rep % 4]
            for load in loads[rep % len(loads) :] + loads[: rep % len(loads)]:
                with Burner() if load == "loaded" else _Nothing():
                    for scenario in order:
                        row = one(server, tpl, n, scenario, rep)
                        progress(f"rep {rep + 1} {load} {scenario}: {row}")
                        results.setdefault((load, scenario), []).append(row)
    emit(report(n, args.reps, loads, results))
    return 0


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: Any) -> None:
        return None


def report(
    n: int, reps: int, loads: list[str], results: dict[tuple[str, str], list[dict[str, Any]]]
) -> str:
    rows = []
    for load in loads:
        idle = results[(load, "idle")]
        for scenario in SCENARIOS:
            got = results[(load, scenario)]

            def med(key: str, runs: list[dict[str, Any]] = got) -> float:
                return median([float(r[key]) for r in runs])

            def ratio(
                key: str, runs: list[dict[str, Any]] = got, base: list[dict[str, Any]] = idle
            ) -> float:
                return median(
                    [float(r[key]) / float(i[key]) for r, i in zip(runs, base, strict=True)]
                )

            rows.append(
                {
                    "load": load,
                    "scenario": scenario,
                    "p50 ms": med("p50 ms"),
                    "p99 ms": med("p99 ms"),
                    "max ms": med("max ms"),
                    "p99 x idle": ratio("p99 ms"),
                    "max x idle": ratio("max ms"),
                    "writes": int(med("writes")),
                    "window s": med("window s"),
                    "writes/s x idle": ratio("writes/s"),
                    "over 200 ms": int(med("over 200 ms")),
                    "errors": sum(int(r["errors"]) for r in got),
                    "longest tx s": med("longest tx s") if "longest tx s" in got[0] else None,
                    "batch sizes": got[-1].get("batch sizes", ""),
                }
            )
    title = (
        f"The app's writes during a cleanup of {n:,} sessions (half old, 5 messages each): "
        f"{THREADS} threads at {RATE:.0f} writes/s, median of {reps} interleaved reps"
    )
    return table(title, rows, list(rows[0]))


if __name__ == "__main__":
    sys.exit(main())
