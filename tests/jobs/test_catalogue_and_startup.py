"""The catalogue is the one source of truth, and `cronjobs --help` stays cheap."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from cronjobs.builtin import catalogue
from cronjobs.cli import cli
from cronjobs.registry import cron_problem
from tests.jobs.helpers import REPO, cronjobs, invoke

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
