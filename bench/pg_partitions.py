"""Issue 15, partitioned analytics events: cleanup-old-analytics on analytics_events
partitioned by UTC month (`cronjobs init-db --partitioned`) against the same rows in an
unpartitioned table (the job's per-day delete, and the hand-written batched `= ANY` loop), in
one run: seconds and WAL bytes (`pg_current_wal_lsn()` before and after, `pg_wal_lsn_diff`).

    python3 bench/pg_partitions.py                 # 5M events over 400 days
    python3 bench/pg_partitions.py --events 50m    # the issue's size (slow to seed here)

Both templates are seeded by the same generate_series (bench/seed.py), the old days
pre-aggregated; each variant runs on its own clone after a CHECKPOINT, and the kept rows'
count and checksum must equal the template's rows at or after the cutoff (the partitioned job,
which drops whole partitions only: at or after the first midnight of the cutoff's month).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from datetime import timedelta
from typing import Any

import pg_retention
import seed
from common import emit, fmt, progress, run_job, script, table
from pg import PgServer


def size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * mult)


def _template(server: PgServer, name: str, n: int, now: Any, partitioned: bool) -> None:
    started = time.perf_counter()
    server.create(name)
    url = server.url(name)
    env = {**os.environ, "DATABASE_URL": url}
    argv = [script("cronjobs"), "--log-format", "json", "init-db"]
    subprocess.run(argv + (["--partitioned"] if partitioned else []), env=env, check=True)
    if partitioned:  # the seed spans 400 days: the months before init-db's 13
        from sqlalchemy import create_engine

        from cronjobs.builtin import partition_months
        from cronjobs.retention.models import analytics_events

        engine = create_engine(url)
        with engine.begin() as conn:
            first = (now - timedelta(days=401)).date()
            partition_months.ensure_months(conn, analytics_events, first, now.date())
        engine.dispose()
    with server.connect(name) as conn:
        seed.seed_events(conn, n, now, aggregate_before=seed.events_cutoff(now))
    progress(f"seeded {name} in {time.perf_counter() - started:.1f}s")


def _wal(server: PgServer, db: str) -> str:
    with server.connect(db) as conn:
        return str(conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0])  # type: ignore[index]


def _wal_since(server: PgServer, db: str, lsn: str) -> int:
    with server.connect(db) as conn:
        row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (lsn,)).fetchone()
        return int(row[0])  # type: ignore[index]


def run(server: PgServer, n: int) -> list[dict[str, Any]]:
    now = seed.now_utc()
    cutoff = seed.events_cutoff(now)
    _template(server, "tpl_plain", n, now, partitioned=False)
    _template(server, "tpl_parted", n, now, partitioned=True)
    with server.connect("tpl_plain") as conn:
        want = seed.expected(conn, "analytics", cutoff)
        old = int(
            conn.execute(
                "SELECT count(*) FROM analytics_events WHERE occurred_at < %s", (cutoff,)
            ).fetchone()[0]  # type: ignore[index]
        )
    # By default the partitioned job drops whole partitions only (issue 27): it keeps every
    # event of the month that holds the cutoff, so its correct result is the rows at or after
    # that month's first midnight (UTC).
    whole = cutoff.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with server.connect("tpl_parted") as conn:
        assert seed.expected(conn, "analytics", cutoff) == want, "the two seeds differ"
        want_whole = seed.expected(conn, "analytics", whole)
        old_whole = int(
            conn.execute(
                "SELECT count(*) FROM analytics_events WHERE occurred_at < %s", (whole,)
            ).fetchone()[0]  # type: ignore[index]
        )
    kind = pg_retention.KINDS["analytics"]
    rows = []
    variants = (
        ("unpartitioned: (b) batched = ANY", "tpl_plain"),
        ("unpartitioned: (a) one DELETE", "tpl_plain"),
        ("unpartitioned: job (runs of days by range)", "tpl_plain"),
        ("partitioned: job (drop partitions)", "tpl_parted"),
    )
    for label, tpl in variants:
        db = "run"
        server.create(db, tpl)
        with server.connect(db) as conn:
            conn.execute("CHECKPOINT")
        lsn = _wal(server, db)
        note = ""
        if label.endswith("= ANY"):
            ref = pg_retention.ref_batched_any(server, db, kind)
            seconds, longest = ref.seconds, ref.longest_tx
        elif "(a)" in label:
            ref = pg_retention.ref_single_delete(server, db, kind)
            seconds, longest = ref.seconds, ref.longest_tx
        else:  # the job at its default --batch-size (100,000 events)
            job = run_job(
                ["cronjobs", "cleanup-old-analytics", "-o", "json"],
                {"DATABASE_URL": server.url(db)},
            )
            seconds = job.work_seconds
            longest = max(job.longest("batch committed"), job.longest("partition dropped"))
            dropped = job.lines("partition dropped")
            note = f"{len(dropped)} partitions dropped" if dropped else ""
            if job.returncode != 0:
                note += f" exit {job.returncode}"
        wal = _wal_since(server, db, lsn)
        expect, removed = (want_whole, old_whole) if tpl == "tpl_parted" else (want, old)
        with server.connect(db) as conn:
            got = seed.actual(conn, list(expect))
        ok = got == expect
        rows.append(
            {
                "variant": label,
                "seconds": seconds,
                "WAL MB": wal / 1e6,
                "longest tx s": longest,
                "rows removed": removed,
                "verified": "ok" if ok else f"WRONG {got} != {expect}",
                "note": note,
            }
        )
        progress(f"{label}: {seconds:.3f}s, {wal / 1e6:.2f} MB WAL")
        server.drop(db)
    base = rows[0]
    for r in rows:
        r["time x less than (b)"] = base["seconds"] / r["seconds"]
        r["WAL x less than (b)"] = base["WAL MB"] / r["WAL MB"] if r["WAL MB"] else float("inf")
    return rows


def explain(server: PgServer, cutoff: Any) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the partition check's one read: the skip scan of the
    first droppable partition's days (cronjobs.builtin.analytics_sql.old_days, as the job
    sends it). The rest of a drop is LOCK TABLE, ALTER TABLE ... DETACH PARTITION and DROP
    TABLE (DDL: nothing to explain) and the figures of those days (a primary-key lookup)."""
    from cronjobs.builtin import analytics_sql, partitions
    from cronjobs.dbapi import Db, parse
    from cronjobs.retention.names import DEFAULT_ANALYTICS

    server.create("explain", "tpl_parted")
    job_db = Db(parse(server.url("explain")))
    try:
        first = partitions.droppable(job_db, DEFAULT_ANALYTICS.events, cutoff)[0]
    finally:
        job_db.close()
    assert first.upper is not None
    statement = analytics_sql.old_days(DEFAULT_ANALYTICS, since=first.lower is not None)
    bounds = {"cutoff": first.upper} | ({"since": first.lower} if first.lower else {})
    with server.connect("explain", autocommit=False) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        out = pg_retention._explain(conn, f"the days of {first.name}", statement, bounds)
        conn.rollback()
    server.drop("explain")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", default="5m", help="analytics events, e.g. 5m or 50m")
    args = parser.parse_args()
    n = size(args.events)
    with PgServer() as server:
        rows = run(server, n)
        emit(
            table(
                f"cleanup-old-analytics, {fmt(n)} events over 400 days, PostgreSQL "
                f"{server.version()}",
                rows,
                [
                    "variant",
                    "seconds",
                    "WAL MB",
                    "time x less than (b)",
                    "WAL x less than (b)",
                    "longest tx s",
                    "rows removed",
                    "verified",
                    "note",
                ],
            )
        )
        emit(f"```\n{explain(server, seed.events_cutoff(seed.now_utc()))}\n```")
    return 0 if all(r["verified"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
