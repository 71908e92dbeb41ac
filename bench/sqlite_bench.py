"""Item 3: the embedded default (SQLite): cleanup-old-sessions, cleanup-old-analytics and an
aggregate-daily-analytics backfill, against the same hand-written references as on PostgreSQL
(one DELETE; keyset batches deleting `id IN (...)`; one upsert per day). Figures only: the
issue sets no bar for SQLite.

The schema is the jobs' own (`cronjobs init-db`); the data has the same layout as on PostgreSQL
(bench/seed.py). Each variant runs on a fresh copy of the seeded file.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import seed
from common import median, progress, run_job, table

BATCH = 5000
FMT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime in SQLite


def _ts(expr: str) -> str:
    """SQL turning an SQLite julian-day expression into SQLAlchemy's text format."""
    return f"strftime('%Y-%m-%d %H:%M:%S', {expr}) || '.000000'"


def seed_file(path: Path, sessions: int, events: int, now: datetime) -> None:
    seed.init_schema(f"sqlite:///{path}")
    n, half, p, ph = sessions, sessions // 2, sessions // 10, sessions // 20
    j = f"julianday('{now.strftime('%Y-%m-%d %H:%M:%S')}')"
    con = sqlite3.connect(path)
    series = "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {n})"

    def sessions_sql(table: str, cols: str, extra: str, n: int, half: int) -> str:
        c = (
            f"CASE WHEN i <= {half} THEN {j} - 400 + (i * 1.0 / {half}) * 300 "
            f"ELSE {j} - 120 + ((i - {half}) * 1.0 / max({n} - {half}, 1)) * 119 END"
        )
        return (
            series.format(n=n)
            + f" INSERT INTO {table} (id, user_id, {cols}, created_at, updated_at) "
            f"SELECT i, 'user' || (i % 20011), {extra}, {_ts('c')}, "
            f"CASE WHEN i <= {half} THEN CASE WHEN i % 10 = 0 THEN NULL ELSE {_ts('c + (i % 120) / 24.0')} END "
            f"ELSE {_ts(f'max(c, {j} - ((i * 7919) % (89 * 1440)) / 1440.0)')} END "
            f"FROM (SELECT i, {c} AS c FROM g)"
        )

    with con:
        con.execute(sessions_sql("chat_sessions", "title", "'session ' || i", n, half))
        con.execute(
            series.format(n=5 * n)
            + " INSERT INTO chat_messages (id, session_id, role, content, created_at) "
            "SELECT i, (i - 1) / 5 + 1, CASE WHEN i % 2 = 0 THEN 'assistant' ELSE 'user' END, "
            f"hex(randomblob(16)) || hex(randomblob(16)) || hex(randomblob(16)), {_ts(f'{j} - (i % 400)')} FROM g"
        )
        con.execute(
            sessions_sql(
                "peptide_info_sessions",
                "peptide, data",
                "'PEP' || i, json_object('mass', i)",
                p,
                ph,
            )
        )
        types = ",".join(
            f"('{t}')"
            for t in (
                "page_view",
                "chat_message",
                "search",
                "peptide_lookup",
                "login",
                "logout",
                "signup",
                "export",
            )
        )
        con.execute("CREATE TEMP TABLE types(k INTEGER PRIMARY KEY, t TEXT)")
        con.execute(f"INSERT INTO types(t) VALUES {types}")
        con.execute(
            series.format(n=events)
            + " INSERT INTO analytics_events (id, event_type, user_id, properties, occurred_at) "
            "SELECT i, (SELECT t FROM types WHERE k = 1 + (i * 31) % 8), "
            "CASE WHEN i % 17 = 0 THEN NULL ELSE 'user' || ((i * 2654435761) % 50000) END, "
            f"json_object('k', i % 10), {_ts(f'{j} - 400 + (i * 1.0 / {events}) * 400')} FROM g"
        )
        cutoff = seed.events_cutoff(now).strftime(FMT)
        con.execute(
            "INSERT INTO daily_analytics (day, event_type, event_count, unique_users, updated_at) "
            "SELECT substr(occurred_at, 1, 10), event_type, count(*), count(DISTINCT user_id), ? "
            "FROM analytics_events WHERE occurred_at < ? GROUP BY 1, 2",
            (now.strftime(FMT), cutoff),
        )
    con.execute("ANALYZE")
    con.execute("VACUUM")
    con.close()


def checksum(
    con: sqlite3.Connection, table: str, where: str = "1", params: tuple[Any, ...] = ()
) -> tuple[int, str]:
    h = hashlib.md5()
    n = 0
    for row in con.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY id", params):
        h.update(repr(row).encode())
        n += 1
    return n, h.hexdigest()


SESSION_TABLES = ("chat_sessions", "chat_messages", "peptide_info_sessions")


def expected_sessions(con: sqlite3.Connection, cutoff: str) -> dict[str, tuple[int, str]]:
    age = "coalesce(updated_at, created_at) >= ?"
    return {
        "chat_sessions": checksum(con, "chat_sessions", age, (cutoff,)),
        "chat_messages": checksum(
            con,
            "chat_messages",
            f"session_id IN (SELECT id FROM chat_sessions WHERE {age})",
            (cutoff,),
        ),
        "peptide_info_sessions": checksum(con, "peptide_info_sessions", age, (cutoff,)),
    }


def expected_events(con: sqlite3.Connection, cutoff: str) -> dict[str, tuple[int, str]]:
    return {"analytics_events": checksum(con, "analytics_events", "occurred_at >= ?", (cutoff,))}


TARGETS = {
    "sessions": (
        ("chat_sessions", "coalesce(updated_at, created_at)", ("chat_messages", "session_id")),
        ("peptide_info_sessions", "coalesce(updated_at, created_at)", None),
    ),
    "analytics": (("analytics_events", "occurred_at", None),),
}


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA foreign_keys=ON")  # as the job's engine does
    return con


def ref_single(path: Path, kind: str, cutoff: str) -> tuple[float, int, float, int]:
    started = time.perf_counter()
    con = _connect(path)
    rows = 0
    con.execute("BEGIN IMMEDIATE")
    for tbl, age, child in TARGETS[kind]:
        if child:
            rows += con.execute(
                f"DELETE FROM {child[0]} WHERE {child[1]} IN (SELECT id FROM {tbl} WHERE {age} < ?)",
                (cutoff,),
            ).rowcount
        rows += con.execute(f"DELETE FROM {tbl} WHERE {age} < ?", (cutoff,)).rowcount
    con.execute("COMMIT")
    con.close()
    s = time.perf_counter() - started
    return s, rows, s, 1


def ref_batched(path: Path, kind: str, cutoff: str) -> tuple[float, int, float, int]:
    started = time.perf_counter()
    con = _connect(path)
    rows = batches = 0
    longest = 0.0
    for tbl, age, child in TARGETS[kind]:
        last = 0
        while True:
            t0 = time.perf_counter()
            con.execute("BEGIN IMMEDIATE")
            ids = [
                r[0]
                for r in con.execute(
                    f"SELECT id FROM {tbl} WHERE {age} < ? AND id > ? ORDER BY id LIMIT ?",
                    (cutoff, last, BATCH),
                )
            ]
            if not ids:
                con.execute("COMMIT")
                break
            marks = ",".join("?" * len(ids))
            if child:
                rows += con.execute(
                    f"DELETE FROM {child[0]} WHERE {child[1]} IN ({marks})", ids
                ).rowcount
            rows += con.execute(f"DELETE FROM {tbl} WHERE id IN ({marks})", ids).rowcount
            con.execute("COMMIT")
            batches += 1
            longest = max(longest, time.perf_counter() - t0)
            last = ids[-1]
            if len(ids) < BATCH:
                break
    con.close()
    return time.perf_counter() - started, rows, longest, batches


UPSERT = """
INSERT INTO daily_analytics (day, event_type, event_count, unique_users, updated_at)
SELECT ?, event_type, count(*), count(DISTINCT user_id), ?
FROM analytics_events WHERE occurred_at >= ? AND occurred_at < ? GROUP BY event_type
ON CONFLICT (day, event_type) DO UPDATE SET event_count = excluded.event_count,
  unique_users = excluded.unique_users, updated_at = excluded.updated_at
"""


def ref_aggregate(path: Path, days: list[date]) -> tuple[float, float]:
    started = time.perf_counter()
    con = _connect(path)
    longest = 0.0
    now = datetime.now().strftime(FMT)
    for day in days:
        t0 = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        con.execute(
            UPSERT,
            (
                day.isoformat(),
                now,
                f"{day} 00:00:00.000000",
                f"{day + timedelta(days=1)} 00:00:00.000000",
            ),
        )
        con.execute("COMMIT")
        longest = max(longest, time.perf_counter() - t0)
    con.close()
    return time.perf_counter() - started, longest


def bench(sessions: int, repeat: int, events: int | None = None) -> list[str]:
    events = events or sessions * 10
    work = Path(tempfile.mkdtemp(prefix="cronjobs-bench-sqlite-"))
    try:
        return _bench(work, sessions, events, repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bench(work: Path, sessions: int, events: int, repeat: int) -> list[str]:
    now = seed.now_utc()
    tpl = work / "seeded.db"
    t0 = time.perf_counter()
    seed_file(tpl, sessions, events, now)
    con = sqlite3.connect(tpl)
    want = {
        "sessions": expected_sessions(con, seed.sessions_cutoff(now).strftime(FMT)),
        "analytics": expected_events(con, seed.events_cutoff(now).strftime(FMT)),
    }
    con.close()
    progress(
        f"seeded SQLite {sessions:,} sessions, {events:,} events in {time.perf_counter() - t0:.1f}s"
    )
    rows_out: list[dict[str, Any]] = []
    jobs = {"sessions": "cleanup-old-sessions", "analytics": "cleanup-old-analytics"}
    for kind, job in jobs.items():
        results: dict[
            str, list[tuple[float, int, float, int, float | None, float | None, bool]]
        ] = {}
        for rep in range(repeat):
            for variant in ("job", "(a) one DELETE", "(b) batched IN (...)"):
                db = work / "run.db"
                shutil.copyfile(tpl, db)
                cutoff = (seed.sessions_cutoff if kind == "sessions" else seed.events_cutoff)(
                    seed.now_utc()
                ).strftime(FMT)
                wall = rss = None
                if variant == "job":
                    run = run_job(
                        ["cronjobs", job, "--batch-size", str(BATCH), "-o", "json"],
                        {"DATABASE_URL": f"sqlite:///{db}"},
                    )
                    batch_lines = run.lines("batch committed")
                    r = (
                        run.work_seconds,
                        sum(int(b["rows"]) + int(b.get("child_rows", 0)) for b in batch_lines),
                        run.longest("batch committed"),
                        len(batch_lines),
                    )
                    wall, rss = run.wall, run.peak_rss_mb
                    ok = run.returncode == 0
                elif variant.startswith("(a)"):
                    r, ok = ref_single(db, kind, cutoff), True
                else:
                    r, ok = ref_batched(db, kind, cutoff), True
                con = sqlite3.connect(db)
                got = {t: checksum(con, t) for t in want[kind]}
                con.close()
                ok = ok and got == want[kind]
                results.setdefault(variant, []).append((*r, wall, rss, ok))
                progress(
                    f"sqlite {job} rep {rep + 1} {variant}: {r[0]:.2f}s, {r[1]:,} rows, verified {ok}"
                )
        ref_b = median([x[0] for x in results["(b) batched IN (...)"]])
        for variant, rs in results.items():
            secs = median([x[0] for x in rs])
            rows_out.append(
                {
                    "job": job,
                    "size": f"{sessions:,} sessions"
                    if kind == "sessions"
                    else f"{events:,} events",
                    "variant": variant,
                    "rows deleted": rs[0][1],
                    "seconds": secs,
                    "rows/s": rs[0][1] / secs,
                    "x of (b)": ref_b / secs,
                    "longest tx s": median([x[2] for x in rs]),
                    "batches": rs[0][3],
                    "process wall s": median([x[4] for x in rs]) if rs[0][4] is not None else None,
                    "peak RSS MB": max(x[5] for x in rs) if rs[0][5] is not None else None,
                    "verified": "ok" if all(x[6] for x in rs) else "FAILED",
                }
            )
    # aggregation backfill, 365 days
    yesterday = date.today() - timedelta(days=1)
    days = [yesterday - timedelta(days=i) for i in range(364, -1, -1)]
    agg: dict[str, list[float]] = {
        "job": [],
        "ref": [],
        "job_tx": [],
        "ref_tx": [],
        "wall": [],
        "rss": [],
    }
    same = True
    for rep in range(repeat):
        for variant in ("job", "ref"):
            db = work / f"agg_{variant}.db"
            shutil.copyfile(tpl, db)
            c = sqlite3.connect(db)
            c.execute("DELETE FROM daily_analytics")
            c.commit()
            c.close()
            if variant == "job":
                run = run_job(
                    [
                        "cronjobs",
                        "aggregate-daily-analytics",
                        "--since",
                        days[0].isoformat(),
                        "--until",
                        days[-1].isoformat(),
                        "-o",
                        "json",
                    ],
                    {"DATABASE_URL": f"sqlite:///{db}"},
                )
                agg["job"].append(run.work_seconds)
                agg["job_tx"].append(run.longest("day aggregated"))
                agg["wall"].append(run.wall)
                agg["rss"].append(run.peak_rss_mb)
            else:
                s, tx = ref_aggregate(db, days)
                agg["ref"].append(s)
                agg["ref_tx"].append(tx)
        q = "SELECT day, event_type, event_count, unique_users FROM daily_analytics ORDER BY 1, 2"
        a = sqlite3.connect(work / "agg_job.db").execute(q).fetchall()
        b = sqlite3.connect(work / "agg_ref.db").execute(q).fetchall()
        same = same and a == b and len(a) > 0
        progress(
            f"sqlite aggregate backfill rep {rep + 1}: job {agg['job'][-1]:.2f}s, reference {agg['ref'][-1]:.2f}s, identical {a == b}"
        )
    js, rs_ = median(agg["job"]), median(agg["ref"])
    agg_rows = [
        {
            "case": "365-day backfill",
            "variant": "job",
            "seconds": js,
            "x of reference": js / rs_,
            "longest tx s": median(agg["job_tx"]),
            "process wall s": median(agg["wall"]),
            "peak RSS MB": max(agg["rss"]),
            "identical": "yes" if same else "NO",
        },
        {
            "case": "365-day backfill",
            "variant": "reference: upsert per day",
            "seconds": rs_,
            "x of reference": 1.0,
            "longest tx s": median(agg["ref_tx"]),
        },
    ]
    cols = [
        "job",
        "size",
        "variant",
        "rows deleted",
        "seconds",
        "rows/s",
        "x of (b)",
        "longest tx s",
        "batches",
        "process wall s",
        "peak RSS MB",
        "verified",
    ]
    return [
        table(f"SQLite (embedded default): retention (median of {repeat})", rows_out, cols),
        table(
            f"SQLite: aggregate-daily-analytics over {events:,} events (median of {repeat})",
            agg_rows,
            [
                "case",
                "variant",
                "seconds",
                "x of reference",
                "longest tx s",
                "process wall s",
                "peak RSS MB",
                "identical",
            ],
        ),
    ]
