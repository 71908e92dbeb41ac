"""Fixtures for the image tests: the real image, built by podman from the Dockerfile unchanged,
and run as the chart's pods run it.

- `base_image`: a stand-in for `python:3.12.x-slim-bookworm` (image registries cannot be reached
  here): Debian bookworm from Debian's mirror with its Python 3.11 as a venv at /usr/local
  (tests/image/base.sh), cached in podman's store under a tag keyed by base.sh.
- `image`: `podman build --format docker --build-arg PYTHON_IMAGE=<base>` of the repository,
  as docs/image.md shows (its cache makes a rebuild without changes take seconds).
- `cronjob_pod` / `run_image`: the podman flags for the pod spec that `helm template
  charts/cronjobs` renders (tests/image/podman.py), and a runner that uses them.

The build and the runs need root here: debootstrap makes the base, and the chart's uid 10001
needs subordinate ids that this machine does not give normal users. As a normal user the tests
that need podman are skipped, saying so; the rest (hadolint, the locks, .dockerignore) run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_postgresql import factories

sys.path.insert(0, str(Path(__file__).resolve().parent))

from image_helpers import DOCKERFILE, REPO, Stage, stages
from podman import Podman, PodRun, chart_pod_specs, ensure_base, pod_run, run_argv

CHART = REPO / "charts" / "cronjobs"
IMAGE = "localhost/cronjobs:image-test"
PG_CTL = REPO / "tests" / "pg_ctl"

postgresql_proc = factories.postgresql_proc(executable=str(PG_CTL))
postgresql = factories.postgresql("postgresql_proc")

NEEDS_ROOT = (
    "the image tests build and run the image with podman as root: debootstrap makes the "
    "stand-in base image, and running it as the chart's uid 10001 needs subordinate ids "
    "(/etc/subuid, /etc/subgid) that this user does not have. Run them as root: "
    "sudo make image-test"
)


@pytest.fixture(scope="session")
def dockerfile_stages() -> list[Stage]:
    return stages(DOCKERFILE.read_text())


@pytest.fixture(scope="session")
def final_stage(dockerfile_stages: list[Stage]) -> Stage:
    return dockerfile_stages[-1]


@pytest.fixture(scope="session")
def podman() -> Podman:
    if os.geteuid() != 0:
        pytest.skip(NEEDS_ROOT)
    for tool in ("podman", "runc", "debootstrap"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is not installed: run scripts/install-system-deps (make deps)")
    return Podman()


@pytest.fixture(scope="session")
def base_image(podman: Podman) -> str:
    return ensure_base(podman)


@pytest.fixture(scope="session")
def image(podman: Podman, base_image: str) -> str:
    podman.build(REPO, IMAGE, {"PYTHON_IMAGE": base_image})
    return IMAGE


@pytest.fixture(scope="session")
def cronjob_pod(helm_bin: Path) -> PodRun:
    """How the chart's CronJobs (default values) run their container: the same flags for every
    one (their env differs: each names its CronJob), so the first one's."""
    runs = [pod_run(pod) for pod in chart_pod_specs(helm_bin, CHART)]
    assert runs, "the chart renders no CronJob"
    assert len({r.flags for r in runs}) == 1, "the CronJobs' pods differ in their flags"
    return runs[0]


ImageRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def run_image(podman: Podman, image: str, cronjob_pod: PodRun) -> ImageRunner:
    """`run_image(*args, env=..., network=..., termination_log=..., entrypoint=...)`: one
    container of the image, as a CronJob's pod runs it; returns the finished process."""

    def run(
        *args: str, timeout: float = 180, **options: object
    ) -> subprocess.CompletedProcess[str]:
        argv = run_argv(podman, cronjob_pod, image, args, **options)  # type: ignore[arg-type]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)

    return run


@pytest.fixture
def termination_log(tmp_path: Path) -> Path:
    """The file the kubelet mounts at the chart's terminationMessagePath (world-writable, as
    the kubelet makes it)."""
    path = tmp_path / "termination-log"
    path.touch()
    path.chmod(0o666)
    return path


@pytest.fixture
def pg_url(postgresql: object, postgresql_proc: object) -> str:
    """An empty PostgreSQL database of the suite's server, reachable from a container on the
    host network."""
    from tests.jobs.helpers import pg_url as url

    return url(postgresql_proc, postgresql.info.dbname)  # type: ignore[attr-defined]
