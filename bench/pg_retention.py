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
from writer import Writer

BATCH = 5000
EVENTS_BATCH = 100_000  # cleanup-old-analytics' default --batch-size


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
    """(b) keyset-select the batch's ids, delete children then rows with `= ANY(ids)`, commit.

    The keyset is bounded by the last old row's id, found once first (timed with the rest):
    without the bound, the select after the last old row walks the primary key over every
    kept row looking for more (825 ms of 5M sessions on its final, empty batch), which
    flattered every ratio against it (issue 27 item 4)."""
    started = time.perf_counter()
    rows = batches = 0
    longest = 0.0
    with server.connect(db, autocommit=False) as conn:
        cutoff = kind.cutoff(seed.now_utc())
        for t in kind.targets:
            hi = conn.execute(
                f"SELECT max(id) FROM {t.table} WHERE {t.age} < %s",  # type: ignore[arg-type]
                (cutoff,),
            ).fetchone()[0]  # type: ignore[index]
            conn.commit()
            last = 0
            while hi is not None and last < hi:
                t0 = time.perf_counter()
                ids = [
                    r[0]
                    for r in conn.execute(
                        f"SELECT id FROM {t.table} WHERE {t.age} < %s AND id > %s AND id <= %s "  # type: ignore[arg-type]
                        "ORDER BY id LIMIT %s",
                        (cutoff, last, hi, batch),
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
    return Result("(b) batched = ANY", time.perf_counter() - started, rows, longest, batches)


def the_job(
    server: PgServer, db: str, kind: Kind, *, timeout: float | None = None
) -> tuple[Result, JobRun]:
    """The real `cronjobs` subcommand as its own process."""
    # Both jobs at their defaults: batches sized to 0.1 s each (issue 27), from their first
    # batch's size; (b) at a fixed BATCH.
    run = run_job(
        ["cronjobs", kind.job, "-o", "json"],
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


def _explain(conn: Any, label: str, statement: Any, params: dict[str, Any]) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of a statement as the job sends it (SQL text with `:name`
    parameters, or a SQLAlchemy statement as the job compiles it), in the caller's
    transaction (rolled back by the caller)."""
    if isinstance(statement, str):
        from cronjobs.dbapi import pyformat

        sent, values = pyformat(statement), params
    else:
        from sqlalchemy.dialects import postgresql

        compiled = statement.compile(dialect=postgresql.dialect(paramstyle="pyformat"))
        sent, values = str(compiled), dict(compiled.params) | params
    text = " ".join(sent.split())
    plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sent, values)
    return [f"-- {label}: {text}", *[r[0] for r in plan]]


def explain_batch_select(server: PgServer, db: str, kind: Kind) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the statements the job sends, built by the job's own code,
    each in a rolled-back transaction: for cleanup-old-sessions the one statement of a batch
    (first batch, and a batch halfway through); for cleanup-old-analytics the day skip scan,
    then a run's check and delete."""
    from cronjobs.builtin import analytics_ranges as ranges
    from cronjobs.builtin import analytics_sql
    from cronjobs.dbapi import Db, parse
    from cronjobs.retention.names import DEFAULT_ANALYTICS
    from cronjobs.retention.purge_sql import range_batch
    from cronjobs.retention.rule_names import DEFAULT_SESSIONS

    cutoff = kind.cutoff(seed.now_utc())
    out: list[str] = []
    with server.connect(db, autocommit=False) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        if kind.name == "sessions":
            rule = DEFAULT_SESSIONS[0]
            mid = conn.execute(
                f"SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY id) FROM {rule.name} WHERE {kind.targets[0].age} < %s",  # type: ignore[arg-type]
                (cutoff,),
            ).fetchone()[0]  # type: ignore[index]
            first = {"cutoff": cutoff, "size": BATCH}
            out += _explain(conn, "first batch", range_batch(rule, False), first)
            conn.rollback()
            halfway = range_batch(rule, True)
            out += _explain(conn, f"halfway (last id {mid})", halfway, {**first, "last": mid})
            conn.rollback()
            return "\n".join(out)
        names = DEFAULT_ANALYTICS
        job_db = Db(parse(server.url(db)))  # the job's own kind of connection (TimeZone=UTC)
        try:
            days = ranges.old_days(job_db, names, cutoff)
            figures = ranges.figures_by_day(job_db, names, cutoff.date(), days)
        finally:
            job_db.close()
        run = ranges.plan(days, figures, EVENTS_BATCH)[0]
        lo, hi = run.bounds
        skip_scan = analytics_sql.old_days(names)
        out += _explain(conn, "the old days (skip scan)", skip_scan, {"cutoff": cutoff})
        out += _explain(
            conn,
            f"the first run's check ({run.days[0]} .. {run.days[-1]}, {run.expected:,} events)",
            analytics_sql.check_run(names),
            {"days": run.days, "lo": lo, "hi": hi},
        )
        delete = analytics_sql.delete_range(names, "postgresql")
        out += _explain(conn, "its delete", delete, {"lo": lo, "hi": hi})
        conn.rollback()
    return "\n".join(out)


def bench(
    server: PgServer,
    kind_name: str,
    sizes: list[int],
    repeat: int,
    explain: bool,
    with_writer: bool = True,
) -> list[str]:
    kind = KINDS[kind_name]
    variants = VARIANTS
    rows_out: list[dict[str, Any]] = []
    writer_rows: list[dict[str, Any]] = []
    explains: list[str] = []
    for n in sizes:
        tpl, want = template(server, kind, n)
        results: dict[str, list[Result]] = {v: [] for v in variants}
        for rep in range(repeat):
            # Each rep in another order, so no variant always follows the same one (the one
            # before leaves dirty pages and WAL for the OS to write back).
            for variant in variants[rep % len(variants) :] + variants[: rep % len(variants)]:
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
        if with_writer:
            for variant in variants:
                server.create("run", template=tpl)
                ref = results["(b) batched = ANY"]
                with Writer(server, "run", kind.name, n) as writer:
                    r = _run_variant(server, "run", kind, variant, max(60.0, 10 * ref[-1].seconds))
                writer.remove_marked()
                verify(server, "run", kind, want, r)
                server.drop("run")
                lat = writer.latencies.summary()
                progress(f"{kind.job} n={n:,} {variant} with the app writing: {lat}")
                writer_rows.append(
                    {"size": f"{n:,}", "variant": variant, "seconds": r.seconds}
                    | {"longest tx s": r.longest_tx}
                    | lat
                    | {"verified": "ok" if r.ok else "FAILED " + r.note}
                )
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
        ref_a = median([r.seconds for r in results["(a) one DELETE"]])
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
                    "x of (a)": ref_a / secs if secs else None,
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
        "x of (a)",
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
    if writer_rows:
        out.append(
            table(
                f"{kind.job}: the app writing during the run (bench/writer.py, one more run "
                "of each variant)",
                writer_rows,
                list(writer_rows[0]),
            )
        )
    out += [f"\n```\n{e}\n```" for e in explains]
    out.append(_bars(kind.job, rows_out, writer_rows))
    return out


def _bars(job: str, rows: list[dict[str, Any]], writes: list[dict[str, Any]]) -> str:
    jobs = [r for r in rows if r["variant"] == "job"]
    lines = [f"\nBars for {job}:"]
    for r in jobs:
        lines.append(
            f"- {r['size']}: throughput {fmt(r['x of (a)'])}x of (a) one DELETE (issue 15 bar "
            f">= 0.80: {'met' if (r['x of (a)'] or 0) >= 0.8 else 'MISSED'}), {fmt(r['x of (b)'])}x "
            f"of (b) (issue 6 bar >= 0.80: {'met' if (r['x of (b)'] or 0) >= 0.8 else 'MISSED'}); "
            f"longest tx {fmt(r['longest tx s'], 3)} s (bar <= 0.2: "
            f"{'met' if (r['longest tx s'] or 99) <= 0.2 else 'MISSED'}); peak RSS "
            f"{fmt(r['peak RSS MB'], 1)} MB (bar < 100: {'met' if (r['peak RSS MB'] or 999) < 100 else 'MISSED'}); "
            f"verified: {r['verified']}"
        )
    for w in writes:
        if w["variant"] == "job" and w.get("writes"):
            lines.append(
                f"- {w['size']}, the app writing: its longest write {fmt(w['max ms'], 1)} ms, "
                f"{w['over 200 ms']} of {w['writes']} over 200 ms (bar: none over 200 ms: "
                f"{'met' if w['over 200 ms'] == 0 else 'MISSED'})"
            )
    rss = [r["peak RSS MB"] for r in jobs if r["peak RSS MB"]]
    if len(rss) >= 2:
        spread = max(rss) / min(rss) - 1
        lines.append(
            f"- peak RSS across sizes: {min(rss):.1f}..{max(rss):.1f} MB, spread {spread:.1%} "
            f"(bar <= 10%: {'met' if spread <= 0.10 else 'MISSED'})"
        )
    return "\n".join(lines)
