"""Issue 15: the fixed per-run cost of a short database job, phase by phase.

`aggregate-daily-analytics --date <yesterday>` on a clone of the analytics template, run as the
real CLI with bench/phases.py's hook (every psycopg connect, execute, commit, rollback and
close timed), beside the hand-written upsert (connect, one upsert, commit), alternating, on a
fresh clone each. `--baseline DIR` adds the job from another checkout (`git worktree add DIR
REV`), so before and after are measured side by side in one run.

    python3 bench/fixed_cost.py --events 1m --repeat 7 [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pg_aggregation  # noqa: E402
import pg_retention  # noqa: E402
from common import emit, median, progress, table  # noqa: E402
from pg import PgServer  # noqa: E402


def _env(root: Path, **extra: str) -> dict[str, str]:
    """The environment of a process that imports `cronjobs` from `root`/jobs (its cwd too:
    `python -c` puts the cwd first on sys.path)."""
    path = [str(root / "jobs"), str(root), str(HERE), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path), **extra}


def job(server: PgServer, db: str, day: date, root: Path) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        env = _env(
            root,
            DATABASE_URL=server.url(db),
            CRONJOBS_LOG_FORMAT="json",
            BENCH_PHASES_OUT=out.name,
        )
        argv = [sys.executable, "-c", "import phases; phases.main()"]
        argv += ["aggregate-daily-analytics", "--date", day.isoformat(), "-o", "json"]
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=root)
        if proc.returncode != 0:
            raise SystemExit(f"job failed ({proc.returncode}): {proc.stderr[-2000:]}")
        record: dict[str, Any] = json.loads(Path(out.name).read_text())
    finished = [json.loads(x) for x in proc.stderr.splitlines() if '"finished"' in x]
    record["finished"] = float(finished[-1]["seconds"])
    return record


FLOOR = """
import sys, time
from datetime import date
import psycopg, sqlalchemy.dialects.postgresql.psycopg  # imported before the job's run too
from cronjobs.builtin.analytics import aggregate_day
from cronjobs.database import connect
day = date.fromisoformat(sys.argv[2])
started = time.perf_counter()
engine = connect(sys.argv[1])
with engine.begin() as conn:
    aggregate_day(conn, day)
print(time.perf_counter() - started)
"""


def floor(server: PgServer, db: str, day: date, root: Path) -> dict[str, float]:
    """Make the engine, the job's upsert, commit: all a SQLAlchemy job must do (imports not
    timed: the job's `finished` figure starts after the CLI has imported psycopg too)."""
    argv = [sys.executable, "-c", FLOOR, server.url(db), day.isoformat()]
    proc = subprocess.run(argv, env=_env(root), capture_output=True, text=True, cwd=root)
    if proc.returncode != 0:
        raise SystemExit(f"floor failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return {"seconds": float(proc.stdout)}


OWN_PROCESS = """
import sys, time
from datetime import date
import psycopg
from pg_aggregation import UPSERT
day = date.fromisoformat(sys.argv[2])
started = time.perf_counter()
with psycopg.connect(sys.argv[1], options="-c TimeZone=UTC") as conn:
    conn.execute(UPSERT, {"day": day})
    conn.commit()
print(time.perf_counter() - started)
"""


def reference_own_process(server: PgServer, db: str, day: date) -> dict[str, float]:
    """The hand-written upsert as a job of its own would run it: a fresh process (psycopg
    imported before the clock starts), connect, upsert, commit. The in-process reference runs
    in this warm process, where psycopg's first-use costs are long paid."""
    url = server.url(db).replace("postgresql+psycopg://", "postgresql://")
    argv = [sys.executable, "-c", OWN_PROCESS, url, day.isoformat()]
    proc = subprocess.run(argv, env=_env(HERE.parent), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"reference failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return {"seconds": float(proc.stdout)}


def reference(server: PgServer, db: str, day: date) -> dict[str, float]:
    """Connect, one upsert, commit: what the job's `finished` figure is compared with."""
    started = time.perf_counter()
    with server.connect(db, autocommit=False) as conn:
        connected = time.perf_counter()
        conn.execute(pg_aggregation.UPSERT, {"day": day})
        upserted = time.perf_counter()
        conn.commit()
    done = time.perf_counter()
    return {
        "seconds": done - started,
        "connects": 1,
        "connect ms": (connected - started) * 1000,
        "round trips": 2,
        "upsert ms": (upserted - connected) * 1000,
        "other SQL ms": (done - upserted) * 1000,
        "python ms": 0.0,
    }


def summarise(record: dict[str, Any]) -> dict[str, float]:
    calls = record["calls"]
    inside = [c for c in calls if 0 <= c["at"] <= record["run_seconds"] * 1000]
    upsert = [
        c for c in inside if c["sql"].replace('"', "").startswith("INSERT INTO daily_analytics")
    ]
    out = {
        "run ms": record["run_seconds"] * 1000,
        "connects": sum(c["kind"] == "connect" for c in inside),
        "connect ms": sum(c["ms"] for c in inside if c["kind"] == "connect"),
        "round trips": sum(c["kind"] in ("execute", "commit", "rollback") for c in inside),
        "upsert ms": sum(c["ms"] for c in upsert),
        "other SQL ms": sum(
            c["ms"] for c in inside if c["kind"] in ("execute", "commit", "rollback")
        )
        - sum(c["ms"] for c in upsert),
    }
    out["python ms"] = out["run ms"] - out["connect ms"] - out["upsert ms"] - out["other SQL ms"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", default="1m", help="analytics events, e.g. 1m or 5m")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--trace", action="store_true", help="print one run's calls")
    parser.add_argument("--floor", action="store_true", help="also run the SQLAlchemy floor")
    parser.add_argument(
        "--baseline", type=Path, help="also run the job from this checkout (before/after)"
    )
    args = parser.parse_args()
    root = HERE.parent
    n = int(float(args.events.lower().rstrip("km")) * (1e6 if args.events[-1] in "mM" else 1e3))
    day = date.today() - timedelta(days=1)
    variants = ["job", "reference", "reference, own process"]
    variants += (["job, baseline"] if args.baseline else []) + (["SQLAlchemy floor"] * args.floor)
    with PgServer() as server:
        tpl, _ = pg_retention.template(server, pg_retention.KINDS["analytics"], n)
        results: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
        traces: dict[str, dict[str, Any]] = {}
        for rep in range(args.repeat):
            order = variants[rep % len(variants) :] + variants[: rep % len(variants)]
            for variant in order:
                db = "fixed_cost"
                pg_aggregation._fresh(server, tpl, db)
                if variant == "reference":
                    results[variant].append(reference(server, db, day))
                elif variant == "reference, own process":
                    results[variant].append(reference_own_process(server, db, day))
                elif variant == "SQLAlchemy floor":
                    results[variant].append(floor(server, db, day, root))
                else:
                    at = args.baseline.resolve() if variant == "job, baseline" else root
                    record = job(server, db, day, at)
                    traces[variant] = record
                    # The hook's span of cronjobs.runner.run: the `finished` figure, unrounded.
                    results[variant].append({"seconds": record["run_seconds"], **summarise(record)})
                server.drop(db)
            progress(
                f"rep {rep + 1}: "
                + ", ".join(f"{v} {results[v][-1]['seconds'] * 1000:.1f} ms" for v in variants)
            )
    ref = median([r["seconds"] for r in results["reference"]])
    own = median([r["seconds"] for r in results["reference, own process"]])
    rows = []
    for variant in variants:
        row: dict[str, Any] = {"variant": variant}
        for k in results["job"][0]:  # the floor has its time only
            got = [r[k] for r in results[variant] if k in r]
            row[k] = median(got) if got else None
        row["ms"] = row.pop("seconds") * 1000
        row.pop("run ms", None)
        row["x of reference"] = row["ms"] / (ref * 1000)
        row["x of own process"] = row["ms"] / (own * 1000)
        rows.append(row)
    cols = ["variant", "ms", "x of reference", "x of own process", "connects", "connect ms"]
    cols += ["round trips"]
    cols += ["upsert ms", "other SQL ms", "python ms"]
    emit(
        table(
            f"aggregate-daily-analytics, one day over {n:,} events: phases (median of "
            f"{args.repeat}; the job's `finished` figure vs connect + upsert + commit)",
            rows,
            cols,
        )
    )
    if args.trace:
        for variant, record in traces.items():
            emit(f"\n```\n-- {variant}: every database call of the last run (ms from its start)")
            for c in record["calls"]:
                emit(f"{c['at']:8.2f} {c['ms']:7.2f}  {c['kind']:8} {c['sql']}")
            emit(f"run ends at {record['run_seconds'] * 1000:.2f} ms\n```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
