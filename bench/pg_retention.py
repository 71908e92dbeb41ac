"""Item 1: cleanup-old-sessions and cleanup-old-analytics on PostgreSQL 15 against (a) one raw
DELETE per table and (b) the hand-written batched loop (keyset select of the batch's ids, then
`DELETE ... WHERE id = ANY(:ids)`, children first, commit per batch), at the same batch size.

Every variant runs on its own clone of the seeded template; after each run the kept rows'
count and checksum must equal what a correct run keeps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import seed
from common import JobRun, fmt, median, progress, run_job, table
from pg import PgServer

BATCH = 5000


@dataclass(frozen=True)
class Target:
    table: str
    age: str
    children: tuple[tuple[str, str], ...] = ()


SESSIONS = (
    Target("chat_sessions", "coalesce(updated_at, created_at)", (("chat_messages", "session_id"),)),
    Target("peptide_info_sessions", "coalesce(updated_at, created_at)"),
)
EVENTS = (Target("analytics_events", "occurred_at"),)


@dataclass(frozen=True)
class Kind:
    name: str
    job: str
    targets: tuple[Target, ...]
    tables: tuple[str, ...]
    cutoff: Any  # now -> cutoff

    def seed(self, conn: Any, n: int, now: datetime) -> None:
        if self.name == "sessions":
            seed.seed_sessions(conn, n, now)
        else:
            seed.seed_events(conn, n, now, aggregate_before=seed.events_cutoff(now))


KINDS = {
    "sessions": Kind(
        "sessions",
        "cleanup-old-sessions",
        SESSIONS,
        ("chat_sessions", "chat_messages", "peptide_info_sessions"),
        seed.sessions_cutoff,
    ),
    "analytics": Kind(
        "analytics",
        "cleanup-old-analytics",
        EVENTS,
        ("analytics_events", "daily_analytics"),
        seed.events_cutoff,
    ),
}


@dataclass
class Result:
    variant: str
    seconds: float
    rows: int
    longest_tx: float
    batches: int
    wall: float | None = None
    rss_mb: float | None = None
    ok: bool = True
    note: str = ""


# --- the references ---------------------------------------------------------------------


def ref_single_delete(server: PgServer, db: str, kind: Kind) -> Result:
    """(a) one DELETE per table (children first), all in one transaction."""
    started = time.perf_counter()
    rows = 0
    with server.connect(db, autocommit=False) as conn:
        cutoff = kind.cutoff(seed.now_utc())
        for t in kind.targets:
            for child, fk in t.children:
                rows += conn.execute(
                    f"DELETE FROM {child} WHERE {fk} IN (SELECT id FROM {t.table} WHERE {t.age} < %s)",  # type: ignore[arg-type]
                    (cutoff,),
                ).rowcount
            rows += conn.execute(f"DELETE FROM {t.table} WHERE {t.age} < %s", (cutoff,)).rowcount  # type: ignore[arg-type]
        conn.commit()
    seconds = time.perf_counter() - started
    return Result("(a) one DELETE", seconds, rows, seconds, 1)


def ref_batched_any(server: PgServer, db: str, kind: Kind, batch: int = BATCH) -> Result:
    """(b) keyset-select the batch's ids, delete children then rows with `= ANY(ids)`, commit."""
    started = time.perf_counter()
    rows = batches = 0
    longest = 0.0
    with server.connect(db, autocommit=False) as conn:
        cutoff = kind.cutoff(seed.now_utc())
        for t in kind.targets:
            last = 0
            while True:
                t0 = time.perf_counter()
                ids = [
                    r[0]
                    for r in conn.execute(
                        f"SELECT id FROM {t.table} WHERE {t.age} < %s AND id > %s ORDER BY id LIMIT %s",  # type: ignore[arg-type]
                        (cutoff, last, batch),
                    )
                ]
                if not ids:
                    conn.commit()
                    break
                for child, fk in t.children:
                    rows += conn.execute(
                        f"DELETE FROM {child} WHERE {fk} = ANY(%s::bigint[])",
                        (ids,),  # type: ignore[arg-type]
                    ).rowcount
                rows += conn.execute(
                    f"DELETE FROM {t.table} WHERE id = ANY(%s::bigint[])",
                    (ids,),  # type: ignore[arg-type]
                ).rowcount
                conn.commit()
                batches += 1
                longest = max(longest, time.perf_counter() - t0)
                last = ids[-1]
                if len(ids) < batch:
                    break
    return Result("(b) batched = ANY", time.perf_counter() - started, rows, longest, batches)


def the_job(
    server: PgServer, db: str, kind: Kind, batch: int = BATCH, *, timeout: float | None = None
) -> tuple[Result, JobRun]:
    """The real `cronjobs` subcommand as its own process."""
    run = run_job(
        ["cronjobs", kind.job, "--batch-size", str(batch), "-o", "json"],
        {"DATABASE_URL": server.url(db)},
        timeout,
    )
    batches = run.lines("batch committed")
    rows = sum(int(b["rows"]) + int(b.get("child_rows", 0)) for b in batches)
    result = Result(
        "job",
        run.work_seconds,
        rows,
        run.longest("batch committed"),
        len(batches),
        wall=run.wall,
        rss_mb=run.peak_rss_mb,
    )
    if run.timed_out:
        result.ok = False
        result.note = f"STOPPED after {timeout:.0f}s (SIGTERM), {len(batches)} batches done; "
        result.seconds = run.wall
    elif run.returncode != 0:
        result.ok = False
        result.note = (
            f"exit {run.returncode}: "
            + "; ".join(
                str(r.get("message")) for r in run.logs if r.get("level") in ("error", "warning")
            )[:200]
        )
    if kind.name == "analytics" and run.lines("day aggregated"):
        result.note += " (aggregated days first!)"
    return result, run


VARIANTS = ("(b) batched = ANY", "(a) one DELETE", "job")
TIMEOUT_FACTOR = 10  # the job is stopped past 10x (b)'s time (at least 60 s): a miss either way


def _run_variant(
    server: PgServer, db: str, kind: Kind, variant: str, timeout: float | None = None
) -> Result:
    if variant.startswith("job"):
        return the_job(server, db, kind, timeout=timeout)[0]
    if variant.startswith("(a)"):
        return ref_single_delete(server, db, kind)
    return ref_batched_any(server, db, kind)


_TEMPLATES: dict[str, dict[str, tuple[int, int]]] = {}


def template(server: PgServer, kind: Kind, n: int) -> tuple[str, dict[str, tuple[int, int]]]:
    """Seed (once per server) the template database for `kind` at size n; return its name and
    the state a correct cleanup leaves (count and checksum per table)."""
    name = f"tpl_{kind.name}_{n}"
    if name in _TEMPLATES:
        return name, _TEMPLATES[name]
    now = seed.now_utc()
    started = time.perf_counter()
    server.create(name)
    seed.init_schema(server.url(name))
    with server.connect(name) as conn:
        kind.seed(conn, n, now)
        want = seed.expected(conn, kind.name, kind.cutoff(now))
    progress(f"seeded {name} in {time.perf_counter() - started:.1f}s")
    _TEMPLATES[name] = want
    return name, want


def verify(
    server: PgServer, db: str, kind: Kind, want: dict[str, tuple[int, int]], result: Result
) -> None:
    with server.connect(db) as conn:
        got = seed.actual(conn, list(want))
    bad = [t for t in want if got[t] != want[t]]
    if bad:
        result.ok = False
        result.note += " WRONG: " + ", ".join(
            f"{t} kept {got[t][0]} rows (want {want[t][0]}){' checksum differs' if got[t][0] == want[t][0] else ''}"
            for t in bad
        )


def explain_batch_select(server: PgServer, db: str, kind: Kind) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the job's batch select (built as jobs/builtin/purge.py builds it:
    keyset, no row locks since c91130c), for the first batch and for a batch halfway through, in
    a rolled-back transaction; then the job's delete statement for the first batch."""
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql

    from jobs.builtin.retention import SESSIONS

    if kind.name != "sessions":
        return (
            "-- cleanup-old-analytics deletes a UTC day (or one event type of it) per statement "
            "since issue 9 (jobs.builtin.analytics_cleanup.purge_unit): no keyset batch to explain"
        )
    rule = SESSIONS[0]
    cutoff = kind.cutoff(seed.now_utc())
    out = []
    with server.connect(db, autocommit=False) as conn:
        mid = conn.execute(
            f"SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY id) FROM {rule.name} WHERE {kind.targets[0].age} < %s",  # type: ignore[arg-type]
            (cutoff,),
        ).fetchone()[0]  # type: ignore[index]
        for label, last_id in (("first batch", None), (f"halfway (id > {mid})", mid)):
            id_col = rule.table.c.id
            query = select(id_col).where(rule.age_of < cutoff).order_by(id_col).limit(BATCH)
            if last_id is not None:
                query = query.where(id_col > last_id)
            compiled = query.compile(dialect=postgresql.dialect(paramstyle="pyformat"))  # type: ignore[call-arg]
            plan = conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + str(compiled), compiled.params
            ).fetchall()  # type: ignore[arg-type]
            out.append(f"-- {label}: {' '.join(str(compiled).split())}")
            out += [r[0] for r in plan]
        conn.rollback()
    out += _explain_job_delete(server, db, rule, cutoff)
    return "\n".join(out)


def _explain_job_delete(server: PgServer, db: str, rule: Any, cutoff: datetime) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the statement(s) the job's current code sends to delete its
    first batch: captured from jobs.builtin.purge (whatever its form) in a rolled-back transaction,
    then explained in another rolled-back transaction. Beside it, (b)'s two DELETEs."""
    from sqlalchemy import create_engine, event, select

    import jobs.builtin.purge as purge

    if not hasattr(purge, "_delete_batch"):
        return ["-- (jobs.builtin.purge has no _delete_batch: delete statements not captured)"]
    engine = create_engine(server.url(db), connect_args={"options": "-c TimeZone=UTC"})
    captured: list[tuple[str, Any]] = []
    id_col = rule.table.c.id
    with engine.connect() as conn:
        ids = list(
            conn.scalars(select(id_col).where(rule.age_of < cutoff).order_by(id_col).limit(BATCH))
        )
        conn.rollback()
        event.listen(
            conn,
            "before_cursor_execute",
            lambda _c, _cur, stmt, params, *_: captured.append((stmt, params)),
        )
        with conn.begin() as tx:
            purge._delete_batch(conn, rule, ids, cutoff)
            tx.rollback()
    engine.dispose()
    out = [
        f"-- the job's delete of that first batch ({len(ids)} ids), as jobs/builtin/purge.py sends it:"
    ]
    statements = (
        captured
        + [
            (
                f"DELETE FROM {child.table.name} WHERE {child.name} = ANY(%(ids)s::bigint[])",
                {"ids": ids},
            )
            for child in rule.children
        ]
        + [(f"DELETE FROM {rule.name} WHERE id = ANY(%(ids)s::bigint[])", {"ids": ids})]
    )
    with server.connect(db, autocommit=False) as pg:
        for i, (stmt, params) in enumerate(statements):
            if i == len(captured):
                pg.rollback()
                out.append("-- (b)'s two statements for the same batch, children first:")
            text = " ".join(stmt.split())
            shown = text if len(text) < 400 else text[:400] + " ..."
            plan = pg.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + stmt, params).fetchall()  # type: ignore[arg-type]
            out.append(f"-- {shown}")
            out += [r[0] for r in plan if "{" not in r[0] or len(r[0]) < 200]
        pg.rollback()
    return out


def bench(
    server: PgServer, kind_name: str, sizes: list[int], repeat: int, explain: bool
) -> list[str]:
    kind = KINDS[kind_name]
    variants = VARIANTS
    rows_out: list[dict[str, Any]] = []
    explains: list[str] = []
    for n in sizes:
        tpl, want = template(server, kind, n)
        results: dict[str, list[Result]] = {v: [] for v in variants}
        for rep in range(repeat):
            for variant in variants:
                db = "run"
                server.create(db, template=tpl)
                ref = results["(b) batched = ANY"]
                timeout = max(60.0, TIMEOUT_FACTOR * ref[-1].seconds) if ref else None
                r = _run_variant(server, db, kind, variant, timeout)
                if r.note.startswith("STOPPED"):
                    r.note += "not verified (incomplete by design)"
                else:
                    verify(server, db, kind, want, r)
                server.drop(db)
                progress(
                    f"{kind.job} n={n:,} rep {rep + 1}/{repeat} {variant}: {r.seconds:.2f}s, "
                    f"{r.rows:,} rows, longest tx {r.longest_tx:.3f}s{' ' + r.note if r.note else ''}"
                )
                results[variant].append(r)
        if explain and n == max(sizes):
            server.create("explain", template=tpl)
            explains.append(
                f"-- {kind.job} at n={n:,}\n" + explain_batch_select(server, "explain", kind)
            )
            server.drop("explain")
        if kind.name == "sessions":
            server.drop(tpl)
            _TEMPLATES.pop(tpl)
        ref_b = median([r.seconds for r in results["(b) batched = ANY"]])
        ref_b_tx = median([r.longest_tx for r in results["(b) batched = ANY"]])
        for variant in variants:
            rs = results[variant]
            secs = median([r.seconds for r in rs])
            rows = rs[0].rows
            tx = median([r.longest_tx for r in rs])
            rows_out.append(
                {
                    "size": f"{n:,}",
                    "variant": variant,
                    "rows deleted": rows,
                    "seconds": secs,
                    "rows/s": rows / secs if secs else None,
                    "x of (b)": ref_b / secs if secs else None,
                    "longest tx s": tx,
                    "tx / (b)": tx / ref_b_tx if ref_b_tx else None,
                    "batches": rs[0].batches,
                    "process wall s": median([r.wall for r in rs if r.wall is not None])
                    if variant.startswith("job")
                    else None,
                    "peak RSS MB": max(r.rss_mb for r in rs if r.rss_mb is not None)
                    if variant.startswith("job")
                    else None,
                    "verified": "ok" if all(r.ok for r in rs) else "FAILED",
                    "note": "; ".join(sorted({r.note.strip() for r in rs if r.note.strip()})),
                }
            )
    cols = [
        "size",
        "variant",
        "rows deleted",
        "seconds",
        "rows/s",
        "x of (b)",
        "longest tx s",
        "tx / (b)",
        "batches",
        "process wall s",
        "peak RSS MB",
        "verified",
        "note",
    ]
    unit = "sessions" if kind_name == "sessions" else "events"
    out = [table(f"{kind.job} on PostgreSQL (sizes in {unit}; median of {repeat})", rows_out, cols)]
    out += [f"\n```\n{e}\n```" for e in explains]
    out.append(_bars(kind.job, rows_out))
    return out


def _bars(job: str, rows: list[dict[str, Any]]) -> str:
    jobs = [r for r in rows if r["variant"] == "job"]
    lines = [f"\nBars for {job}:"]
    for r in jobs:
        lines.append(
            f"- {r['size']}: throughput {fmt(r['x of (b)'])}x of (b) (bar >= 0.80: "
            f"{'met' if (r['x of (b)'] or 0) >= 0.8 else 'MISSED'}); longest tx {fmt(r['tx / (b)'])}x "
            f"of (b)'s (bar <= 1.50: {'met' if (r['tx / (b)'] or 99) <= 1.5 else 'MISSED'}); peak RSS "
            f"{fmt(r['peak RSS MB'], 1)} MB (bar < 100: {'met' if (r['peak RSS MB'] or 999) < 100 else 'MISSED'}); "
            f"verified: {r['verified']}"
        )
    rss = [r["peak RSS MB"] for r in jobs if r["peak RSS MB"]]
    if len(rss) >= 2:
        spread = max(rss) / min(rss) - 1
        lines.append(
            f"- peak RSS across sizes: {min(rss):.1f}..{max(rss):.1f} MB, spread {spread:.1%} "
            f"(bar <= 10%: {'met' if spread <= 0.10 else 'MISSED'})"
        )
    return "\n".join(lines)
