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
    "cronjobs health-check --help": [CRONJOBS, "health-check", "--help"],
    "cronctl --help": [CRONCTL, "--help"],
}

# Third-party libraries that cost start-up time (RECIPES.md: click 33 ms ... qdrant_client 651 ms).
HEAVY = (
    "sqlalchemy",
    "psycopg",
    "redis",
    "qdrant_client",
    "kubernetes",
    "croniter",
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


def wall_times(argv: list[str], runs: int) -> list[float]:
    subprocess.run(argv, capture_output=True)  # warm-up
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        out.append(time.perf_counter() - t0)
    return out


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
    for label, argv in TIMED.items():
        ts = wall_times(argv, runs)
        medians[label] = median(ts)
        progress(f"start-up {label}: median {medians[label] * 1000:.0f} ms")
    click_ms = medians['python -c "import click"']
    for label in TIMED:
        rows.append(
            {
                "command": label,
                "median ms": medians[label] * 1000,
                "vs import click ms": (medians[label] - click_ms) * 1000,
            }
        )
    bar_delta = (medians["cronjobs --help"] - click_ms) * 1000
    out = [
        table(
            f"Start-up: wall time of a fresh process (median of {runs}, after a warm-up run)",
            rows,
            ["command", "median ms", "vs import click ms"],
        )
    ]
    out.append(
        f"\nBar: `cronjobs --help` within 100 ms of bare click: {bar_delta:+.0f} ms "
        f"({'met' if bar_delta <= 100 else 'MISSED'})"
    )

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
        cases: list[tuple[str, list[str], dict[str, str], set[str]]] = [
            ("cronjobs --help", [CRONJOBS, "--help"], {}, set()),
            ("cronjobs list", [CRONJOBS, "list"], {}, set()),
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
            ("cronctl --help", [CRONCTL, "--help"], {}, {"croniter", "cron_descriptor"}),
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
