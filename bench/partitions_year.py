"""Issue 27 item 2: a year of weekly `cleanup-old-analytics` runs in steady state, WAL and time.

Four databases start alike: RETAIN + 35 days of analytics events (EVENTS_PER_DAY a day, every
day with its daily figures). Then 52 simulated weeks: each adds 7 days of events and their
figures (as the app and aggregate-daily-analytics would), runs a CHECKPOINT (a week passes
between runs in production, so each run pays its full-page writes), and runs the cleanup with
`now` moved on a week, timed, its WAL measured as `pg_wal_lsn_diff` around it:

- partitioned: analytics_events partitioned by month, the job's default (whole partitions
  only: the boundary month's old days wait for it);
- partitioned, --exact-cutoff: the same, old days of the boundary month deleted row by row
  (the behaviour before issue 27);
- unpartitioned: the job's batched runs of whole days;
- plain DELETE: `DELETE FROM analytics_events WHERE occurred_at < cutoff`, one per week.

The job runs in this process (`cleanup_old_analytics(db, now=...)`, the CLI's own function
on a connection of the job's own kind, cronjobs.dbapi.Db) so `now` can move; the inserts and checkpoints are not measured.

    .venv/bin/python bench/partitions_year.py                  # 2,000 events a day
    .venv/bin/python bench/partitions_year.py --per-day 10000
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from common import emit, progress, script, table
from pg import SETTINGS, PgServer

RETAIN = 365
WEEKS = 52
TYPES = (
    "ARRAY['page_view','chat_message','search','peptide_lookup','login','logout','signup','export']"
)
VARIANTS = ("partitioned", "partitioned, --exact-cutoff", "unpartitioned", "plain DELETE")
START = datetime(2026, 1, 4, 3, 0, tzinfo=UTC)  # a Sunday, 03:00 UTC (the job's schedule)


def _db(variant: str) -> str:
    return {
        "partitioned": "y_parted",
        "partitioned, --exact-cutoff": "y_exact",
        "unpartitioned": "y_plain",
        "plain DELETE": "y_delete",
    }[variant]


def _add_days(server: PgServer, db: str, first: date, days: int, per_day: int) -> None:
    """`days` days of events from `first`, and their figures."""
    lo = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    hi = lo + timedelta(days=days)
    with server.connect(db) as conn:
        conn.execute(
            f"""INSERT INTO analytics_events (event_type, user_id, occurred_at)
SELECT ({TYPES})[1 + (i * 31) %% 8], 'user' || ((i * 2654435761) %% 50000),
  %(lo)s + (i::float8 / %(n)s) * (%(hi)s - %(lo)s)
FROM generate_series(0::bigint, %(n)s - 1) i""",
            {"lo": lo, "hi": hi, "n": per_day * days},
        )
        conn.execute(
            """INSERT INTO daily_analytics (day, event_type, event_count, unique_users, updated_at)
SELECT (occurred_at AT TIME ZONE 'UTC')::date, event_type, count(*), count(DISTINCT user_id), now()
FROM analytics_events WHERE occurred_at >= %(lo)s AND occurred_at < %(hi)s GROUP BY 1, 2
ON CONFLICT (day, event_type) DO UPDATE SET event_count = EXCLUDED.event_count""",
            {"lo": lo, "hi": hi},
        )


def _engine(server: PgServer, db: str) -> Any:
    from sqlalchemy import create_engine

    return create_engine(server.url(db), connect_args={"options": "-c TimeZone=UTC"})


def _setup(server: PgServer, variant: str, per_day: int) -> None:
    db = _db(variant)
    server.create(db)
    argv = [script("cronjobs"), "--log-format", "json", "init-db"]
    if variant.startswith("partitioned"):
        argv.append("--partitioned")
    subprocess.run(argv, env={**os.environ, "DATABASE_URL": server.url(db)}, check=True)
    first = (START - timedelta(days=RETAIN + 35)).date()
    if variant.startswith("partitioned"):
        _ensure(server, db, first, START + timedelta(days=WEEKS * 7 + 62))
    _add_days(server, db, first, (START.date() - first).days, per_day)
    with server.connect(db) as conn:
        conn.execute("VACUUM (FREEZE, ANALYZE)")


def _ensure(server: PgServer, db: str, first: date, last: datetime) -> None:
    from cronjobs.builtin import partition_months
    from cronjobs.retention.models import analytics_events

    engine = _engine(server, db)
    with engine.begin() as conn:
        partition_months.ensure_months(conn, analytics_events, first, last.date())
    engine.dispose()


def _lsn(server: PgServer, db: str) -> str:
    with server.connect(db) as conn:
        return str(conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0])  # type: ignore[index]


def _wal_since(server: PgServer, db: str, lsn: str) -> int:
    with server.connect(db) as conn:
        row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (lsn,)).fetchone()
        return int(row[0])  # type: ignore[index]


def _week(server: PgServer, variant: str, now: datetime) -> tuple[float, int, int]:
    """One weekly run at `now`: seconds, WAL bytes, rows or partitions' events removed."""
    from cronjobs.builtin.analytics_cleanup import cleanup_old_analytics

    db = _db(variant)
    with server.connect(db) as conn:
        conn.execute("CHECKPOINT")
    lsn = _lsn(server, db)
    started = time.perf_counter()
    if variant == "plain DELETE":
        cutoff = (now - timedelta(days=RETAIN)).replace(hour=0, minute=0, second=0, microsecond=0)
        with server.connect(db) as conn:
            gone = conn.execute(
                "DELETE FROM analytics_events WHERE occurred_at < %s", (cutoff,)
            ).rowcount
    else:
        from cronjobs.dbapi import Db, parse

        job_db = Db(parse(server.url(db)))
        try:
            result = cleanup_old_analytics(
                job_db, now=now, exact_cutoff=variant == "partitioned, --exact-cutoff"
            )
        finally:
            job_db.close()
        counts = result.counts()
        gone = counts["deleted"] + counts["partition_events"]
    seconds = time.perf_counter() - started
    # The WAL of the run only: the lsn is read on another connection after it ends.
    return seconds, _wal_since(server, db, lsn), gone


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-day", type=int, default=2000, help="events a day")
    parser.add_argument("--weeks", type=int, default=WEEKS)
    args = parser.parse_args()
    emit(f"Command: .venv/bin/python bench/partitions_year.py {' '.join(sys.argv[1:])}".rstrip())
    totals = {
        v: {"seconds": 0.0, "wal": 0, "removed": 0, "runs_with_wal_over_1mb": 0} for v in VARIANTS
    }
    with PgServer() as server:
        emit(
            f"PostgreSQL {server.version()}, settings: "
            + ", ".join(f"{k}={v}" for k, v in SETTINGS.items())
        )
        for variant in VARIANTS:
            _setup(server, variant, args.per_day)
        progress("seeded")
        for week in range(args.weeks):
            now = START + timedelta(days=7 * week)
            for variant in VARIANTS[week % 4 :] + VARIANTS[: week % 4]:
                if week:
                    _add_days(
                        server, _db(variant), (now - timedelta(days=7)).date(), 7, args.per_day
                    )
                seconds, wal, gone = _week(server, variant, now)
                t = totals[variant]
                t["seconds"] += seconds
                t["wal"] += wal
                t["removed"] += gone
                t["runs_with_wal_over_1mb"] += wal > 1 << 20
            progress(
                f"week {week + 1}: "
                + ", ".join(f"{v}: {totals[v]['wal'] / 1e6:.1f} MB" for v in VARIANTS)
            )
    base = totals["unpartitioned"]
    rows = [
        {
            "variant": v,
            "events removed": t["removed"],
            "seconds (sum)": t["seconds"],
            "WAL MB (sum)": t["wal"] / 1e6,
            "WAL: unpartitioned / this": base["wal"] / t["wal"] if t["wal"] else None,
            "time: unpartitioned / this": base["seconds"] / t["seconds"] if t["seconds"] else None,
            "runs writing > 1 MB WAL": t["runs_with_wal_over_1mb"],
        }
        for v, t in totals.items()
    ]
    emit(
        table(
            f"A year of weekly cleanup-old-analytics runs ({args.weeks} runs, {args.per_day:,} "
            "events a day added daily, 365-day retention)",
            rows,
            list(rows[0]),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
