"""The catalogue is the one source of truth, and `cronjobs --help` stays cheap."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from sqlalchemy import Engine

from cronjobs.builtin import catalogue
from cronjobs.cli import cli
from cronjobs.registry import cron_problem
from tests.jobs.helpers import REPO, cronjobs, invoke, modules_loaded_by

HEAVY = ("sqlalchemy", "redis", "qdrant_client", "kubernetes", "psycopg")


def test_list_json_is_the_catalogue() -> None:
    result = invoke("list", "-o", "json")
    assert result.exit_code == 0
    listed = json.loads(result.stdout)
    assert [j["command"] for j in listed] == [j.command for j in catalogue.JOBS]
    assert listed[0] == {
        "id": "cleanup_old_sessions",
        "command": "cleanup-old-sessions",
        "schedule": "0 2 * * *",
        "description": catalogue.JOBS[0].description,
        "every": None,
        "needs": ["database"],
        "mutating": True,
        "module": "cronjobs.builtin.sessions",
        "builtin": True,
    }


def test_seed_schedules_and_one_subcommand_per_job() -> None:
    assert {j.id: j.schedule for j in catalogue.JOBS} == {
        "cleanup_old_sessions": "0 2 * * *",
        "aggregate_daily_analytics": "0 1 * * *",
        "cleanup_old_analytics": "0 3 * * 0",
        "cleanup_redis_cache": "0 */6 * * *",
        "health_check_job": "*/30 * * * *",
    }
    for job in catalogue.JOBS:
        assert cron_problem(job.schedule) is None, job.schedule
        command = cli.get_command(click.Context(cli), job.command)
        assert command is not None
        mutating = any(p.name == "dry_run" for p in command.params)
        assert mutating == job.mutating, f"{job.command}: --dry-run iff it changes data"


def test_list_table() -> None:
    result = invoke("list")
    assert result.exit_code == 0
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["COMMAND", "SCHEDULE", "ID", "DESCRIPTION"]
    assert rows[4].startswith("health-check") and "*/30 * * * *" in rows[4]


@pytest.mark.parametrize("args", [["--help"], ["health-check", "--help"], ["list"]])
def test_help_imports_no_heavy_library(args: list[str]) -> None:
    code = (
        "import sys; from cronjobs.cli import main; sys.argv = ['cronjobs', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('LOADED', ' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO, check=True
    ).stdout
    loaded = set(out.rsplit("LOADED", 1)[1].split())
    assert not loaded & set(HEAVY), f"`cronjobs {' '.join(args)}` imported {loaded & set(HEAVY)}"


def test_help_reads_no_package_metadata_when_no_package_declares_jobs() -> None:
    """importlib.metadata (and the email parser under it) costs `--help` as much as the rest
    of it: it is imported only when some package's entry_points.txt names cronjobs.jobs."""
    code = (
        "import sys; from cronjobs.cli import main; sys.argv = ['cronjobs', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('importlib.metadata' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd="/", check=True
    ).stdout
    assert out.strip().endswith("False")


def test_package_metadata_is_read_where_a_package_may_declare_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cronjobs import discovery

    def site(*folders: str, text: str = "") -> Path:
        root = tmp_path / str(len(list(tmp_path.iterdir())))
        for folder in folders:
            (root / folder).mkdir(parents=True)
            (root / folder / "entry_points.txt").write_text(text)
        return root

    cases = {
        "nothing": (site("other-1.0.dist-info", text="[console_scripts]\nx = y:z\n"), False),
        "dist-info": (site("shop-1.0.dist-info", text="[cronjobs.jobs]\nshop = shop.jobs\n"), True),
        "egg-info": (site("shop.egg-info", text="[cronjobs.jobs]\nshop = shop.jobs\n"), True),
        "an .egg": (site("shop-1.0-py3.11.egg"), True),
    }  # fmt: skip
    zipped = tmp_path / "bundle.zip"
    zipped.write_bytes(b"PK\x05\x06" + bytes(18))
    cases["a zip on sys.path"] = (zipped, True)
    for name, (entry, expected) in cases.items():
        monkeypatch.setattr(sys, "path", [str(entry), "/nonexistent"])
        assert discovery._may_declare("cronjobs.jobs") is expected, name


# A database job's run, as a pod runs it (PostgreSQL, no CRONJOBS_PING_URL, nothing else set).
JOB_RUNS = [
    ["aggregate-daily-analytics", "--date", "2026-06-14"],
    ["cleanup-old-sessions"],
    ["cleanup-old-analytics"],
    ["health-check"],
]


@pytest.mark.parametrize("args", JOB_RUNS, ids=lambda a: a[0])
def test_a_job_run_without_a_ping_url_imports_no_http_client(
    args: list[str], pg_engine: Engine, pg_db_url: str
) -> None:
    """urllib.request (http.client, email's parser) is only for the dead-man's-switch ping."""
    loaded = modules_loaded_by(args, pg_db_url)
    assert not {"urllib.request", "http.client"} & loaded


@pytest.mark.parametrize("args", JOB_RUNS, ids=lambda a: a[0])
def test_a_job_run_imports_no_orm(args: list[str], pg_engine: Engine, pg_db_url: str) -> None:
    """The built-in jobs use SQLAlchemy Core only: sqlalchemy.orm is start-up they need not pay;
    and a run on PostgreSQL does not load SQLite's dialect."""
    loaded = modules_loaded_by(args, pg_db_url)
    assert "sqlalchemy.orm" not in loaded
    assert "sqlalchemy.dialects.sqlite" not in loaded


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
@pytest.mark.parametrize("args", [JOB_RUNS[0], JOB_RUNS[3]], ids=lambda a: a[0])
def test_the_sql_text_jobs_import_no_sqlalchemy(
    args: list[str], backend: str, pg_engine: Engine, pg_db_url: str, tmp_path: Path
) -> None:
    """aggregate-daily-analytics and health-check send SQL text on the run's own connection
    (cronjobs.dbapi): SQLAlchemy is start-up they do not pay (issue 27 item 3)."""
    url = pg_db_url
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/app.db"
        assert invoke("init-db", "--database-url", url).exit_code == 0
    loaded = modules_loaded_by(args, url)
    assert not {m for m in loaded if m.split(".")[0] == "sqlalchemy"}
    assert ("psycopg" in loaded) == (backend == "postgresql")


def test_help_documents_every_environment_variable() -> None:
    out = " ".join(invoke("health-check", "--help").stdout.split())
    for var in (
        "DATABASE_URL",
        "REDIS_URL",
        "QDRANT_URL",
        "QDRANT_API_KEY",
        "QDRANT_PATH",
        "CRONJOBS_TIMEOUT",
    ):
        assert f"env var: {var}" in out


def test_python_dash_m_and_version() -> None:
    result = cronjobs("--version")
    assert result.returncode == 0 and result.stdout.strip() == "cronjobs, version 0.1.0"
