"""Issue 27 item 3: what a pod pays for a short job, against a minimal script doing its SQL.

Each database job runs as a whole fresh process (interpreter, imports, settings, connect, the
SQL, exit) against a real PostgreSQL 15 holding a small seeded database, beside a minimal
script per job: psycopg only, the same connection settings and exactly the statements and
transactions the job sent (captured from one run of the job by bench/replay.py). Also
`cronjobs --help` and `cronctl --help` beside `python -c "import click"`. Every case in one run,
round-robin with the order rotated each rep (median of N), on a quiet machine and on one loaded
with a CPU-burning process per core (bench/live_writer.py's Burner). Then `-X importtime`
(median of 3) splits a job's imports by who pulled them in.

Each checkout's package is byte-compiled first (`compileall`), as pip leaves it in the image:
a dev venv with PYTHONDONTWRITEBYTECODE=1 would otherwise compile the package on every run.

    .venv/bin/python bench/job_startup.py                    # 11 reps, quiet and loaded
    .venv/bin/python bench/job_startup.py --reps 5 --loads quiet --checkout before=/tmp/main
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import emit, median, progress, table  # noqa: E402
from pg import PgServer  # noqa: E402

PY = sys.executable
YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).date()
JOBS: dict[str, list[str]] = {
    "aggregate-daily-analytics": ["aggregate-daily-analytics", "--date", YESTERDAY.isoformat()],
    "cleanup-old-sessions": ["cleanup-old-sessions"],
    "cleanup-old-analytics": ["cleanup-old-analytics"],
    "health-check (database only)": ["health-check"],
}
# What pip's console script does (`import re, sys; from cronjobs.entry import main; ...`), so a
# checkout given by --checkout runs exactly as the installed `cronjobs` does.
CRONJOBS = (
    "import re, sys; from cronjobs.entry import main; sys.argv[0] = 'cronjobs'; sys.exit(main())"
)
CRONCTL = (
    "import re, sys; from cronjobs.cronctl.cli import main; "
    "sys.argv[0] = 'cronctl'; sys.exit(main())"
)
# What a job on click, SQLAlchemy and psycopg cannot avoid importing, step by step: each a
# fresh `python -c`, so the differences are the wall time each step adds.
LADDER = {
    "python -c pass": "pass",
    "+ psycopg": "import psycopg",
    "+ click": "import psycopg, click",
    "+ sqlalchemy (core)": "import psycopg, click, sqlalchemy",
    "+ its psycopg dialect": "import psycopg, click, sqlalchemy.dialects.postgresql.psycopg",
    "+ sqlalchemy.orm": "import psycopg, click, sqlalchemy.dialects.postgresql.psycopg, "
    "sqlalchemy.orm",
}
CLEARED = ("REDIS_URL", "QDRANT_URL", "QDRANT_PATH", "QDRANT_API_KEY", "CRONJOBS_PING_URL")


def seed(server: PgServer, db: str) -> str:
    """A small database: the jobs' schema, 2,000 events over the last 3 days, 200 recent chat
    sessions with 5 messages each, 20 recent peptide sessions; nothing old enough to delete."""
    import seed as seeding

    server.create(db)
    url = server.url(db)
    seeding.init_schema(url)
    with server.connect(db) as conn:
        conn.execute(
            "INSERT INTO analytics_events (id, event_type, user_id, properties, occurred_at) "
            "SELECT g, (ARRAY['page_view','search','login','signup'])[1 + g % 4], "
            "'u' || (g % 300), NULL, now() - (g % 259200) * interval '1 second' "
            "FROM generate_series(1, 2000) g"
        )
        conn.execute(
            "INSERT INTO chat_sessions (id, user_id, title, created_at, updated_at) "
            "SELECT g, 'u' || g, 'chat', now() - interval '10 days', now() - interval '1 day' "
            "FROM generate_series(1, 200) g"
        )
        conn.execute(
            "INSERT INTO chat_messages (id, session_id, role, content, created_at) "
            "SELECT g, 1 + g % 200, 'user', 'hello', now() - interval '1 day' "
            "FROM generate_series(1, 1000) g"
        )
        conn.execute(
            "INSERT INTO peptide_info_sessions (id, user_id, peptide, data, created_at, updated_at) "
            "SELECT g, 'u' || g, 'BPC-157', NULL, now() - interval '5 days', NULL "
            "FROM generate_series(1, 20) g"
        )
        conn.execute("VACUUM ANALYZE")
    return url


def compile_package(root: Path) -> None:
    subprocess.run([PY, "-m", "compileall", "-q", str(root / "jobs" / "cronjobs")], check=True)


def env_for(root: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    path = [str(root / "jobs"), env.get("PYTHONPATH", "")]
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in path if p), "DATABASE_URL": url}


def capture(root: Path, url: str, args: list[str], out: Path) -> None:
    """Run the job once under bench/replay.py's hook; its minimal script goes to `out`."""
    env = env_for(root, url)
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(HERE)])
    env["BENCH_REPLAY_OUT"] = str(out)
    proc = subprocess.run(
        [PY, "-c", "import replay; replay.capture()", *args], env=env, capture_output=True
    )
    if proc.returncode != 0 or not out.exists():
        raise SystemExit(f"capturing {args} failed ({proc.returncode}): {proc.stderr[-2000:]!r}")


Case = tuple[list[str], dict[str, str]]


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one fresh process. CPU is the child's user + system time (wait4):
    what it cost a core, far less shaken than wall time by the machine's other load (and the
    same for a job and its minimal script in what the server does, which is not counted)."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"{argv} exited {status}: {err.read()[-1500:]!r}")
    return wall, usage.ru_utime + usage.ru_stime


def timed(cases: dict[str, Case], reps: int) -> dict[str, dict[str, float]]:
    """Median wall and CPU milliseconds of each case as a fresh process: a warm-up run each,
    then `reps` rounds, each in a rotated order, so a burst of load hits every case alike."""
    labels = list(cases)
    for argv, env in cases.values():
        run_once(argv, env)
    walls: dict[str, list[float]] = {k: [] for k in labels}
    cpus: dict[str, list[float]] = {k: [] for k in labels}
    for rep in range(reps):
        for label in labels[rep % len(labels) :] + labels[: rep % len(labels)]:
            wall, cpu = run_once(*cases[label])
            walls[label].append(wall * 1000)
            cpus[label].append(cpu * 1000)
    return {
        k: {
            "wall": median(walls[k]),
            "cpu": median(cpus[k]),
            "wall lo": min(walls[k]),
            "wall hi": max(walls[k]),
        }
        for k in labels
    }


# -X importtime, attributed: a module's own time goes to its package's group; a standard-library
# module goes to the group of whoever imported it first (asyncio under SQLAlchemy is SQLAlchemy's
# cost), and to "python" when nothing of ours or a library's imported it.
GROUPS = (
    ("sqlalchemy.orm", "sqlalchemy.orm"),
    ("sqlalchemy.ext", "sqlalchemy.orm"),
    ("sqlalchemy.dialects", "sqlalchemy dialects"),
    ("sqlalchemy", "sqlalchemy core"),
    ("psycopg", "psycopg"),
    ("psycopg_binary", "psycopg"),
    ("click", "click"),
    ("cronjobs", "cronjobs (ours)"),
)
COLUMNS = (
    "python",
    "click",
    "cronjobs (ours)",
    "sqlalchemy core",
    "sqlalchemy dialects",
    "sqlalchemy.orm",
    "psycopg",
    "other libraries",
)


def group_of(name: str) -> str | None:
    top = name.split(".")[0]
    for prefix, group in GROUPS:
        if name == prefix or name.startswith(prefix + "."):
            return group
    if top in sys.stdlib_module_names or top.startswith("_") or top == "encodings":
        return None
    return "other libraries"


def import_groups(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    proc = subprocess.run([PY, "-X", "importtime", *argv], env=env, capture_output=True, text=True)
    entries = []  # (depth, name, self us), in output order: a module after its children
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        own_us, _, name = line[len("import time:") :].split("|")
        if own_us.strip().isdigit():
            depth = (len(name) - len(name.lstrip()) - 1) // 2
            entries.append((depth, name.strip(), int(own_us)))
    totals = dict.fromkeys(COLUMNS, 0.0)
    stack: list[str] = []
    for depth, name, own in reversed(entries):  # parents before children
        del stack[depth:]
        group = group_of(name) or (stack[-1] if stack else "python")
        stack.append(group)
        totals[group] += own / 1000
    return totals


def bench(reps: int, loads: list[str], checkouts: dict[str, Path]) -> list[str]:
    roots = {"": HERE.parent, **checkouts}
    work = Path(tempfile.mkdtemp(prefix="cronjobs-bench-startup-"))
    try:
        return _bench(reps, loads, roots, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bench(reps: int, loads: list[str], roots: dict[str, Path], work: Path) -> list[str]:
    from live_writer import Burner

    this = HERE.parent
    with PgServer() as server:
        url = seed(server, "startup")
        for root in roots.values():
            compile_package(root)
        cases: dict[str, Case] = {}
        plain = env_for(this, url)
        for i, (job, args) in enumerate(JOBS.items()):
            script = work / f"minimal_{i}.py"
            capture(this, url, args, script)
            cases[f"{job}: minimal"] = ([PY, str(script)], plain)
            for tag, root in roots.items():
                cases[f"{job}: job{f' ({tag})' if tag else ''}"] = (
                    [PY, "-c", CRONJOBS, *args],
                    env_for(root, url),
                )
        cases['python -c "import click"'] = ([PY, "-c", "import click"], plain)
        for label, code in LADDER.items():
            cases[label] = ([PY, "-c", code], plain)
        for tag, root in roots.items():
            suffix = f" ({tag})" if tag else ""
            cases[f"cronjobs --help{suffix}"] = ([PY, "-c", CRONJOBS, "--help"], env_for(root, url))
            cases[f"cronctl --help{suffix}"] = ([PY, "-c", CRONCTL, "--help"], env_for(root, url))
        results: dict[str, dict[str, dict[str, float]]] = {}
        for load in loads:
            progress(f"{load}: {len(cases)} cases x {reps} reps")
            if load == "loaded":
                with Burner():
                    results[load] = timed(cases, reps)
            else:
                results[load] = timed(cases, reps)
            for k, t in results[load].items():
                progress(
                    f"  {load} {k}: wall {t['wall']:.0f} ms ({t['wall lo']:.0f}..{t['wall hi']:.0f})"
                    f", CPU {t['cpu']:.0f} ms"
                )
        groups: dict[str, dict[str, float]] = {}
        for job, args in JOBS.items():
            for tag, root in roots.items():
                label = f"{job}{f' ({tag})' if tag else ''}"
                runs = [
                    import_groups(["-c", CRONJOBS, *args], env_for(root, url)) for _ in range(3)
                ]
                groups[label] = {c: statistics.median(r[c] for r in runs) for c in COLUMNS}
        minimal_imports = {
            job: import_groups([str(work / f"minimal_{i}.py")], plain) for i, job in enumerate(JOBS)
        }
    return report(reps, loads, roots, results, groups, minimal_imports)


def report(
    reps: int,
    loads: list[str],
    roots: dict[str, Path],
    results: dict[str, dict[str, dict[str, float]]],
    groups: dict[str, dict[str, float]],
    minimal_imports: dict[str, dict[str, float]],
) -> list[str]:
    out = []
    rows = []
    for load in loads:
        r = results[load]
        for job in JOBS:
            mini = r[f"{job}: minimal"]
            for tag in roots:
                it = r[f"{job}: job{f' ({tag})' if tag else ''}"]
                rows.append(
                    {
                        "load": load,
                        "job": job + (f" ({tag})" if tag else ""),
                        "minimal wall ms": mini["wall"],
                        "job wall ms": it["wall"],
                        "wall x": it["wall"] / mini["wall"],
                        "minimal CPU ms": mini["cpu"],
                        "job CPU ms": it["cpu"],
                        "CPU x": it["cpu"] / mini["cpu"],
                        "bar 1.5x": "met" if it["cpu"] <= 1.5 * mini["cpu"] else "MISSED",
                    }
                )
    cols = ["load", "job", "minimal wall ms", "job wall ms", "wall x", "minimal CPU ms"]
    cols += ["job CPU ms", "CPU x", "bar 1.5x"]
    out.append(
        table(
            f"A job's whole process against a minimal psycopg script replaying its SQL (median "
            f"of {reps}, interleaved; the bar on CPU time)",
            rows,
            cols,
        )
    )
    rows = []
    quiet_click = results[loads[0]]['python -c "import click"']["wall"]
    for load in loads:
        r = results[load]
        click = r['python -c "import click"']
        rows.append({"load": load, "command": "python -c pass", **_ms(r["python -c pass"])})
        rows.append({"load": load, "command": 'python -c "import click"', **_ms(click)})
        for tag in roots:
            for cmd in ("cronjobs --help", "cronctl --help"):
                it = r[cmd + (f" ({tag})" if tag else "")]
                # The +100 ms bar, held as a ratio: (x of click - 1) times click's quiet time.
                scaled = (it["wall"] / click["wall"] - 1) * quiet_click
                rows.append(
                    {
                        "load": load,
                        "command": cmd + (f" ({tag})" if tag else ""),
                        **_ms(it),
                        "wall x of click": it["wall"] / click["wall"],
                        "wall - click ms": it["wall"] - click["wall"],
                        "as ms over quiet click": scaled,
                        "CPU x of click": it["cpu"] / click["cpu"],
                        "bar +100 ms": "met" if scaled <= 100 else "MISSED",
                    }
                )
    cols = ["load", "command", "wall ms", "CPU ms", "wall x of click", "wall - click ms"]
    cols += ["as ms over quiet click", "CPU x of click", "bar +100 ms"]
    out.append(
        table(
            f"`--help` against bare click (median of {reps}, interleaved; the bar: wall ratio "
            f"to click minus 1, times click's quiet wall time, within 100 ms)",
            rows,
            cols,
        )
    )
    rows = []
    for load in loads:
        r = results[load]
        previous: dict[str, float] = {"wall": 0.0, "cpu": 0.0}
        for label in LADDER:
            rows.append(
                {
                    "load": load,
                    "process": label,
                    **_ms(r[label]),
                    "adds wall ms": r[label]["wall"] - previous["wall"],
                    "adds CPU ms": r[label]["cpu"] - previous["cpu"],
                }
            )
            previous = r[label]
    out.append(
        table(
            f"The floor of a job on click + SQLAlchemy + psycopg: fresh `python -c` imports "
            f"(median of {reps}, interleaved with the above)",
            rows,
            ["load", "process", "wall ms", "CPU ms", "adds wall ms", "adds CPU ms"],
        )
    )
    rows = [{"process": k, **v, "imports ms": sum(v.values())} for k, v in groups.items()]
    rows += [
        {"process": f"{k}: minimal", **v, "imports ms": sum(v.values())}
        for k, v in minimal_imports.items()
    ]
    out.append(
        table(
            "`-X importtime` by group, ms (median of 3, quiet; importtime's own overhead "
            "inflates every figure; a standard-library module counts for whoever imports it "
            'first; "python" is the interpreter\'s own start-up imports)',
            rows,
            ["process", *COLUMNS, "imports ms"],
        )
    )
    return out


def _ms(t: dict[str, float]) -> dict[str, float]:
    return {"wall ms": t["wall"], "CPU ms": t["cpu"]}


def main() -> int:
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=11)
    parser.add_argument("--loads", default="quiet,loaded", help="quiet, loaded or both")
    parser.add_argument(
        "--checkout",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="also run the jobs and --help from another checkout (git worktree add DIR REV)",
    )
    args = parser.parse_args()
    checkouts = {}
    for spec in args.checkout:
        label, _, path = spec.partition("=")
        checkouts[label] = Path(path).resolve()
    loads = [x.strip() for x in args.loads.split(",") if x.strip()]
    emit(f"Command: python3 bench/job_startup.py {' '.join(sys.argv[1:])}".rstrip())
    for block in bench(args.reps, loads, checkouts):
        emit(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
