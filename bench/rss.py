"""Issue 15: peak RSS of the cleanup jobs as the data grows (bar: under 100 MB, and flat).

Runs only the real job (`cronjobs cleanup-old-sessions --batch-size 5000` /
`cleanup-old-analytics --batch-size 100000`, as bench/pg_retention.py does) on a fresh clone of each seeded template,
verifies what it kept (count and checksum), and reports the peak RSS (VmHWM) of exactly that process
(os.wait4), beside the same job on a template with nothing old to delete (the floor: the
interpreter, SQLAlchemy, psycopg).

    python3 bench/rss.py --sessions 1m,5m --events 1m,5m
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pg_retention
from common import emit, progress, run_job, table
from pg import PgServer
from run import size

BAR_MB = 100.0
FLAT = 0.10  # at most 10% apart across sizes (issue 6's bar)


def floor(server: PgServer, kind: pg_retention.Kind) -> float:
    """Peak RSS of the job when there is nothing to delete (the schema, no rows)."""
    db = f"empty_{kind.name}"
    server.create(db)
    pg_retention.seed.init_schema(server.url(db))
    run = run_job([*kind_argv(kind)], {"DATABASE_URL": server.url(db)})
    server.drop(db)
    if run.returncode != 0:
        raise SystemExit(f"{kind.job} on an empty database failed: {run.logs[-3:]}")
    return run.peak_rss_mb


def kind_argv(kind: pg_retention.Kind) -> list[str]:
    batch = pg_retention.BATCH if kind.name == "sessions" else pg_retention.EVENTS_BATCH
    return ["cronjobs", kind.job, "--batch-size", str(batch), "-o", "json"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", default="1m,5m", help="chat session counts")
    parser.add_argument("--events", default="1m,5m", help="analytics event counts")
    args = parser.parse_args()
    plan = [("sessions", size(s)) for s in args.sessions.split(",") if s]
    plan += [("analytics", size(s)) for s in args.events.split(",") if s]
    rows: list[dict[str, Any]] = []
    bars: list[str] = []
    with PgServer() as server:
        for kind_name in dict.fromkeys(k for k, _ in plan):
            kind = pg_retention.KINDS[kind_name]
            empty = floor(server, kind)
            rows.append({"job": kind.job, "size": "nothing to delete", "peak RSS MB": empty})
            progress(f"{kind.job} with nothing to delete: {empty:.1f} MB")
            peaks = []
            for n in (n for k, n in plan if k == kind_name):
                tpl, want = pg_retention.template(server, kind, n)
                server.create("rss", template=tpl)
                result, run = pg_retention.the_job(server, "rss", kind)
                pg_retention.verify(server, "rss", kind, want, result)
                server.drop("rss")
                server.drop(tpl)
                pg_retention._TEMPLATES.pop(tpl, None)
                peaks.append(run.peak_rss_mb)
                rows.append(
                    {
                        "job": kind.job,
                        "size": f"{n:,} {'sessions' if kind_name == 'sessions' else 'events'}",
                        "rows deleted": result.rows,
                        "batches": result.batches,
                        "seconds": result.seconds,
                        "peak RSS MB": run.peak_rss_mb,
                        "over the floor MB": run.peak_rss_mb - empty,
                        "verified": "ok" if result.ok else f"NO {result.note}",
                    }
                )
                progress(f"{kind.job} n={n:,}: {run.peak_rss_mb:.1f} MB, {result.rows:,} rows")
            spread = (max(peaks) - min(peaks)) / min(peaks) if peaks else 0.0
            under = all(p < BAR_MB for p in peaks)
            bars.append(
                f"- {kind.job}: peak {min(peaks):.1f}..{max(peaks):.1f} MB "
                f"(under {BAR_MB:.0f} MB: {'met' if under else 'MISSED'}); spread {spread:.1%} "
                f"(flat, <= {FLAT:.0%}: {'met' if spread <= FLAT else 'MISSED'})"
            )
    cols = ["job", "size", "rows deleted", "batches", "seconds", "peak RSS MB"]
    cols += ["over the floor MB", "verified"]
    emit(table("Peak RSS of the cleanup jobs (VmHWM of the job's process)", rows, cols))
    emit("\nBars (issue 15): under 100 MB and flat across sizes\n" + "\n".join(bars))
    return 0


if __name__ == "__main__":
    sys.exit(main())
