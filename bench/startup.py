"""Item 4: start-up cost. Wall time of fresh processes (median of N, after one warm-up run, so
.pyc files and the page cache are warm, as in a running image), and `-X importtime` evidence of
which heavy libraries each command imports, checked against what it uses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import median, progress, script, table

PY = sys.executable
CRONJOBS = script("cronjobs")
CRONCTL = script("cronctl")

TIMED = {
    "python -c pass": [PY, "-c", "pass"],
    'python -c "import click"': [PY, "-c", "import click"],
    "cronjobs --help": [CRONJOBS, "--help"],
    "cronjobs list": [CRONJOBS, "list"],
    "cronjobs health-check --help": [CRONJOBS, "health-check", "--help"],
    "cronctl --help": [CRONCTL, "--help"],
}

# The same commands with the app's jobs registered (issue 15: discovery, jobs/cronjobs/discovery.py), by
# each of its two ways: a module named in CRONJOBS_JOB_MODULES, and an installed package's
# entry point (a dist-info folder on PYTHONPATH, as pip would leave it).
REGISTERED = {
    "cronjobs --help, 1 job module (CRONJOBS_JOB_MODULES)": ([CRONJOBS, "--help"], "env"),
    "cronjobs list, 1 job module (CRONJOBS_JOB_MODULES)": ([CRONJOBS, "list"], "env"),
    "cronjobs --help, 1 job module (entry point)": ([CRONJOBS, "--help"], "entry point"),
    "cronjobs list, 1 job module (entry point)": ([CRONJOBS, "list"], "entry point"),
}

# A tiny app job module, as an app would write it (jobs/cronjobs/registry.py's docstring).
APP_MODULE = '''"""The bench's stand-in for an app's job module."""

from cronjobs import JobContext, job


@job(schedule="0 */4 * * *", description="Expire stale carts.", mutating=True, needs=("database",))
def expire_carts(ctx: JobContext) -> dict[str, int]:
    return {"expired": 0}


@job(schedule="15 3 * * *", description="Send the daily digest.")
def send_digest() -> None:
    return None
'''


def app_dir(root: Path) -> dict[str, dict[str, str]]:
    """Write the app module under `root`; the environments registering it each way."""
    (root / "env").mkdir()
    (root / "env" / "benchapp_jobs.py").write_text(APP_MODULE)
    (root / "ep").mkdir()
    (root / "ep" / "benchapp_ep_jobs.py").write_text(APP_MODULE.replace("cart", "basket"))
    dist = root / "ep" / "benchapp-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: benchapp\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[cronjobs.jobs]\nbenchapp = benchapp_ep_jobs\n")
    path = os.environ.get("PYTHONPATH", "")
    return {
        "env": {
            "CRONJOBS_JOB_MODULES": "benchapp_jobs",
            "PYTHONPATH": os.pathsep.join(p for p in (str(root / "env"), path) if p),
        },
        "entry point": {"PYTHONPATH": os.pathsep.join(p for p in (str(root / "ep"), path) if p)},
    }


# Third-party libraries that cost start-up time (RECIPES.md: click 33 ms ... qdrant_client 651 ms).
HEAVY = (
    "sqlalchemy",
    "psycopg",
    "redis",
    "qdrant_client",
    "kubernetes",
    "cron_descriptor",
    "yaml",
    "urllib3",
    "requests",
    "grpc",
    "httpx",
    "pydantic",
    "numpy",
    "aiohttp",
    "kmock",
)


def interleaved(
    cases: dict[str, tuple[list[str], dict[str, str]]], runs: int
) -> dict[str, list[float]]:
    """Wall times of every case, round-robin (case 1, case 2, ..., case 1, ...): a burst of load
    from the machine's other users then hits all cases alike, not one of them."""
    times: dict[str, list[float]] = {label: [] for label in cases}
    for argv, env in cases.values():
        subprocess.run(argv, capture_output=True, env={**os.environ, **env})  # warm-up
    for _ in range(runs):
        for label, (argv, env) in cases.items():
            times[label] += wall_time(argv, env)
    return times


def wall_time(argv: list[str], env: dict[str, str]) -> list[float]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, env={**os.environ, **env}, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr[-1000:]}")
    return [time.perf_counter() - t0]


def imports(argv: list[str], env: dict[str, str]) -> tuple[int, dict[str, tuple[float, str]]]:
    """Exit code, and the heavy top-level packages imported: {name: (cumulative ms, root)}, where
    root is the outermost import that pulled it in (the module at depth 0 below it)."""
    # -X importtime on the interpreter running the console script (PYTHONIMPORTTIME is not
    # honoured by this pyenv build).
    proc = subprocess.run(
        [PY, "-X", "importtime", *argv], capture_output=True, text=True, env={**os.environ, **env}
    )
    entries: list[tuple[int, str, int]] = []  # (depth, name, cumulative us), in output order
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        if not cumulative.strip().isdigit():
            continue
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        entries.append((depth, name.strip(), int(cumulative)))
    found: dict[str, tuple[float, str]] = {}
    for i, (_depth, name, cumulative) in enumerate(entries):
        if name in HEAVY and name not in found:
            # A module's line is printed after its children: its importer comes later.
            root = next((n for d, n, _ in entries[i:] if d == 0), name)
            found[name] = (cumulative / 1000, root)
    return proc.returncode, found


def bench(runs: int = 11) -> list[str]:
    rows: list[dict[str, Any]] = []
    medians: dict[str, float] = {}
    apps = Path(tempfile.mkdtemp(prefix="cronjobs-bench-app-"))
    try:
        envs = app_dir(apps)
        cases = {label: (argv, {}) for label, argv in TIMED.items()}
        cases.update({label: (argv, envs[how]) for label, (argv, how) in REGISTERED.items()})
        for label, ts in interleaved(cases, runs).items():
            medians[label] = median(ts)
            progress(f"start-up {label}: median {medians[label] * 1000:.0f} ms")
        listed = subprocess.run(
            [CRONJOBS, "list"], capture_output=True, text=True, env={**os.environ, **envs["env"]}
        ).stdout
        listed += subprocess.run(
            [CRONJOBS, "list"],
            capture_output=True,
            text=True,
            env={**os.environ, **envs["entry point"]},
        ).stdout
        if "expire-carts" not in listed or "expire-baskets" not in listed:
            raise SystemExit(f"the bench's app job is not listed: {listed[-500:]}")
    finally:
        shutil.rmtree(apps, ignore_errors=True)
    click_ms = medians['python -c "import click"']
    for label in cases:
        rows.append(
            {
                "command": label,
                "median ms": medians[label] * 1000,
                "vs import click ms": (medians[label] - click_ms) * 1000,
            }
        )
    out = [
        table(
            f"Start-up: wall time of a fresh process (median of {runs}, round-robin, after a "
            "warm-up run each)",
            rows,
            ["command", "median ms", "vs import click ms"],
        )
    ]
    bars = ['\nBar: `cronjobs --help` within 100 ms of bare click (`python -c "import click"`):']
    for label in ["cronjobs --help", *(k for k in REGISTERED if k.startswith("cronjobs --help"))]:
        delta = (medians[label] - click_ms) * 1000
        bars.append(f"- {label}: {delta:+.0f} ms ({'met' if delta <= 100 else 'MISSED'})")
    out.append("\n".join(bars))

    # -X importtime: which heavy libraries each command imports, against what it uses.
    work = Path(tempfile.mkdtemp(prefix="cronjobs-bench-imports-"))
    try:
        db = f"sqlite:///{work / 'app.db'}"
        subprocess.run(
            [CRONJOBS, "init-db"],
            env={**os.environ, "DATABASE_URL": db},
            capture_output=True,
            check=True,
        )
        sql = {"DATABASE_URL": db}
        (work / "app").mkdir()
        (work / "qdrant").mkdir()  # health-check refuses a QDRANT_PATH that is not a folder
        app = app_dir(work / "app")
        cases: list[tuple[str, list[str], dict[str, str], set[str]]] = [
            ("cronjobs --help", [CRONJOBS, "--help"], {}, set()),
            ("cronjobs list", [CRONJOBS, "list"], {}, set()),
            ("cronjobs --help, 1 job module (env)", [CRONJOBS, "--help"], app["env"], set()),
            ("cronjobs list, 1 job module (env)", [CRONJOBS, "list"], app["env"], set()),
            (
                "cronjobs --help, 1 job module (entry point)",
                [CRONJOBS, "--help"],
                app["entry point"],
                set(),
            ),
            ("cronjobs health-check --help", [CRONJOBS, "health-check", "--help"], {}, set()),
            (
                "cronjobs cleanup-old-sessions --help",
                [CRONJOBS, "cleanup-old-sessions", "--help"],
                {},
                set(),
            ),
            (
                "cronjobs cleanup-redis-cache --help",
                [CRONJOBS, "cleanup-redis-cache", "--help"],
                {},
                set(),
            ),
            (
                "cronjobs cleanup-old-sessions --dry-run",
                [CRONJOBS, "cleanup-old-sessions", "--dry-run"],
                sql,
                {"sqlalchemy"},
            ),
            (
                "cronjobs cleanup-old-analytics --dry-run",
                [CRONJOBS, "cleanup-old-analytics", "--dry-run"],
                sql,
                {"sqlalchemy"},
            ),
            (
                "cronjobs aggregate-daily-analytics --dry-run",
                [CRONJOBS, "aggregate-daily-analytics", "--dry-run"],
                sql,
                {"sqlalchemy"},
            ),
            (
                "cronjobs health-check (database only)",
                [CRONJOBS, "health-check"],
                sql,
                {"sqlalchemy"},
            ),
            # qdrant_client's local mode uses portalocker, whose __init__ imports redis whenever
            # redis is installed: third-party, not the job's code (see the "via" column).
            (
                "cronjobs health-check (Qdrant path only)",
                [CRONJOBS, "health-check"],
                {"QDRANT_PATH": str(work / "qdrant")},
                {
                    "qdrant_client",
                    "grpc",
                    "httpx",
                    "pydantic",
                    "numpy",
                    "urllib3",
                    "yaml",
                    "redis@portalocker",
                },
            ),
            (
                "cronjobs cleanup-redis-cache (unreachable)",
                [CRONJOBS, "cleanup-redis-cache"],
                {"REDIS_URL": "redis://127.0.0.1:9/0", "CRONJOBS_TIMEOUT": "0.5"},
                {"redis"},
            ),
            ("cronctl --help", [CRONCTL, "--help"], {}, {"cron_descriptor"}),
        ]
        env_clear = {
            k: ""
            for k in ("DATABASE_URL", "REDIS_URL", "QDRANT_URL", "QDRANT_PATH", "QDRANT_API_KEY")
        }
        rows = []
        violations = []
        for label, argv, env, allowed in cases:
            rc, found = imports(argv, {**env_clear, **env})
            extra = sorted(
                k
                for k, (_, root) in found.items()
                if k not in allowed and f"{k}@{root}" not in allowed
            )
            if extra:
                violations.append(f"{label}: {', '.join(extra)}")
            rows.append(
                {
                    "command": label,
                    "exit": rc,
                    "heavy imports (cumulative ms)": ", ".join(
                        f"{k} {ms:.0f}" + (f" (via {root})" if root != k else "")
                        for k, (ms, root) in sorted(found.items(), key=lambda kv: -kv[1][0])
                    )
                    or "none",
                    "unexpected": ", ".join(extra) or "none",
                }
            )
            progress(f"importtime {label}: {rows[-1]['heavy imports (cumulative ms)']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out.append(
        table(
            "`-X importtime`: heavy top-level packages each command imports",
            rows,
            ["command", "exit", "heavy imports (cumulative ms)", "unexpected"],
        )
    )
    out.append(
        "\nBar: no subcommand imports a library it does not use: "
        + ("met" if not violations else "MISSED — " + "; ".join(violations))
    )
    return out
