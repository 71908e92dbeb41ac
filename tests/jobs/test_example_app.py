"""The example app (examples/app) end to end: its own jobs, found through its entry point, in a
fresh virtual environment beside this package, run against a real PostgreSQL.

The venv sees this environment's packages through a .pth file, and gets the example installed
into it with pip, as an app's image would have it: without the network (`--no-index`), its build
backend (setuptools) being the one `make deps` installed here (`--no-build-isolation`).
"""

from __future__ import annotations

import json
import os
import signal
import site
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, func, insert, select

from tests.jobs.helpers import REPO

EXAMPLE = REPO / "examples" / "app"
sys.path.insert(0, str(EXAMPLE))
from app.models import Base, SearchDocument, UserSession  # noqa: E402

sys.path.remove(str(EXAMPLE))


@pytest.fixture(scope="module")
def app_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("example") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    target = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    parents = "; ".join(f"site.addsitedir({p!r})" for p in site.getsitepackages())
    Path(target, "_parent_env.pth").write_text(f"import site; {parents}\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
         "--disable-pip-version-check", "--no-deps", "--no-index", "--no-build-isolation",
         str(EXAMPLE)],
        check=True, capture_output=True, cwd=REPO,
    )  # fmt: skip
    return python


def cronjobs_in(python: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CRONJOBS_"))}
    full.update({"CRONJOBS_LOG_FORMAT": "json", **(env or {})})
    return subprocess.run(
        [str(python), "-m", "cronjobs", *args], capture_output=True, text=True, env=full,
        cwd="/", timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture
def app_db(pg_db_url: str) -> str:
    engine = create_engine(pg_db_url.replace("postgresql://", "postgresql+psycopg://"))
    Base.metadata.create_all(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(UserSession),
            [{"last_seen_at": now - timedelta(days=d)} for d in (1, 5, 31, 40, 90)],
        )
        conn.execute(insert(SearchDocument), [{"title": f"doc {i}"} for i in range(20)])
    engine.dispose()
    return pg_db_url


def test_the_apps_jobs_are_listed_with_their_own_help(app_python: Path) -> None:
    listed = cronjobs_in(app_python, "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    jobs = {j["command"]: j for j in json.loads(listed.stdout)}
    assert jobs["purge-expired-tokens"]["schedule"] == "0 */4 * * *"
    assert jobs["purge-expired-tokens"]["module"] == "app.services.cron_jobs"
    assert jobs["refresh-search-index"]["every"] == "15m"
    assert jobs["refresh-search-index"]["schedule"] == "*/15 * * * *"
    assert jobs["health-check"]["builtin"] is True
    help_text = cronjobs_in(app_python, "purge-expired-tokens", "--help")
    assert help_text.returncode == 0
    assert "Delete sign-in sessions not seen for 30 days" in help_text.stdout
    assert "--dry-run" in help_text.stdout and "DATABASE_URL" in help_text.stdout


def test_a_run_against_postgresql_then_a_second_is_a_no_op(app_python: Path, app_db: str) -> None:
    dry = cronjobs_in(app_python, "purge-expired-tokens", "--dry-run", "-o", "json",
                      env={"DATABASE_URL": app_db})  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["returned"] == {"would_delete": 3}
    first = cronjobs_in(app_python, "purge-expired-tokens", env={"DATABASE_URL": app_db})
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "deleted: 3"
    logged = [json.loads(line) for line in first.stderr.splitlines()]
    assert {e["job"] for e in logged} == {"purge-expired-tokens"}
    assert len({e["run_id"] for e in logged}) == 1
    again = cronjobs_in(app_python, "purge-expired-tokens", env={"DATABASE_URL": app_db})
    assert again.stdout.strip() == "deleted: 0"


def test_sigterm_cancels_the_async_job_at_an_await_and_keeps_its_work(
    app_python: Path, app_db: str
) -> None:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CRONJOBS_"))}
    proc = subprocess.Popen(
        [str(app_python), "-m", "cronjobs", "refresh-search-index"],
        env={**full, "DATABASE_URL": app_db, "CRONJOBS_LOG_FORMAT": "json"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/",
    )  # fmt: skip
    assert proc.stderr is not None
    seen = 0
    for line in proc.stderr:  # wait until it has indexed a few documents
        if "indexing document" in line:
            seen += 1
            if seen == 4:
                break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 4, err
    assert "cancelling the job at its next await" in err
    assert "interrupted by SIGTERM" in out
    engine = create_engine(app_db.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        done = conn.scalar(
            select(func.count())
            .select_from(SearchDocument)
            .where(SearchDocument.indexed_at.is_not(None))
        )
    engine.dispose()
    assert 3 <= (done or 0) < 20, "work before the signal stays; the rest is left for next time"


def test_run_module_function_runs_an_unregistered_function(app_python: Path) -> None:
    result = cronjobs_in(
        app_python, "--log-format", "text", "run", "app.services.cron_jobs:send_weekly_digest"
    )
    assert result.returncode == 0, result.stderr
    assert "weekly digest sent" in result.stderr and result.stdout.strip() == "done"
    missing = cronjobs_in(app_python, "run", "app.services.cron_jobs:nope")
    assert missing.returncode == 2
    assert "app.services.cron_jobs has no function 'nope'" in missing.stderr


def test_chart_values_of_the_app_render_and_validate(
    app_python: Path, helm_bin: Path, tmp_path: Path
) -> None:
    import kubernetes_validate

    values = cronjobs_in(app_python, "chart-values")
    assert values.returncode == 0, values.stderr
    parsed = yaml.safe_load(values.stdout)
    assert parsed["jobs"]["refresh-search-index"]["every"] == "15m"
    (tmp_path / "values.yaml").write_text(values.stdout)
    rendered = subprocess.run(
        [str(helm_bin), "template", "shop", str(REPO / "charts" / "cronjobs"),
         "-f", str(tmp_path / "values.yaml"), "--show-only", "templates/cronjob.yaml"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    by_key = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in docs}
    assert set(by_key) >= {"purge-expired-tokens", "refresh-search-index", "health-check"}
    index = by_key["refresh-search-index"]
    assert index["spec"]["schedule"] == "*/15 * * * *"
    container = index["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["refresh-search-index"]
    for doc in docs:
        kubernetes_validate.validate(doc, "1.30.0", strict=True)


def test_import_apscheduler_maps_registered_functions_to_their_subcommands(
    app_python: Path,
) -> None:
    """Where the app is installed, a function it registered with @job runs as its own
    subcommand; one it did not (send_weekly_digest) through `cronjobs run`."""
    result = cronjobs_in(app_python, "import-apscheduler", str(EXAMPLE / "main.py"))
    assert result.returncode == 0, result.stderr
    jobs = yaml.safe_load(result.stdout)["jobs"]
    assert jobs["purge-expired-tokens"]["subcommand"] == "purge-expired-tokens"
    assert "args" not in jobs["purge-expired-tokens"]
    assert jobs["send-weekly-digest"]["subcommand"] == "run"
    assert jobs["send-weekly-digest"]["args"] == ["app.services.cron_jobs:send_weekly_digest"]
