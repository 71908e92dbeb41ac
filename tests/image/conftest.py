"""Fixtures for the image tests: the image's contents, rebuilt without Docker.

No container engine runs here, so `image_venv` replays the Dockerfile on this machine, once per
session: it copies the files the builder stage COPYs from the build context (the repo filtered by
.dockerignore, as `docker build` sends it), installs the pinned build backend
(requirements/build.txt) and builds the wheel with the builder's `pip wheel --no-deps
--no-build-isolation`, writes the wheel's hashed requirement line, then installs the lock
(requirements/image.txt) and that line in hash-checking mode, wheels only, into a fresh venv
without pip, as the final stage does.

What differs from the image, and why:
- The interpreter is a Python 3.12 (the image's minor) when this machine has one (python3.12 on
  PATH or under pyenv), else this machine's Python (3.11): the lock is universal from 3.11, so
  the same file installs on both (numpy is the one package pinned per Python version).
- The install uses `uv pip install` with the same flags when uv is present: pip takes 60-80 s
  here for the ~50 wheels, uv under 10 s. Without uv the test falls back to pip.
- `image_run` runs a command as the chart's CronJob runs the image: the venv's `cronjobs` as
  the entrypoint, HOME and TMPDIR at the only writable folder, in a private mount namespace where
  the root filesystem and the venv are remounted read-only (readOnlyRootFilesystem), from a
  read-only working directory (as a normal user: inside a user namespace, where it may mount).
  It runs as root in that namespace, not as uid 10001: the
  interpreter lives under /root, which uid 10001 cannot read; a read-only mount refuses writes
  whatever the uid.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from image_helpers import (
    BUILD_LOCK,
    DOCKERFILE,
    IMAGE_LOCK,
    REPO,
    DockerIgnore,
    Stage,
    copy_sources,
    stages,
)


@pytest.fixture(scope="session")
def dockerfile_stages() -> list[Stage]:
    return stages(DOCKERFILE.read_text())


@pytest.fixture(scope="session")
def final_stage(dockerfile_stages: list[Stage]) -> Stage:
    return dockerfile_stages[-1]


def find_python312() -> str | None:
    """A working Python 3.12 interpreter on this machine, or None."""
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = [
        shutil.which("python3.12") or "",
        *sorted(glob.glob(f"{root}/versions/3.12*/bin/python3.12")),
    ]
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys, venv; print(sys.version_info[:2] == (3, 12))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


def find_uv() -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found]
    except ImportError:
        return None
    return str(find_uv_bin())


def _run(*argv: str | Path, timeout: float = 300, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )
    assert proc.returncode == 0, f"{' '.join(map(str, argv))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _install(python: Path, uv: str | None, *args: str | Path) -> None:
    if uv:
        _run(uv, "pip", "install", "--quiet", "--python", python, *args)
    else:
        _run(python, "-m", "pip", "install", "--quiet", "--no-cache-dir", *args)


@dataclass(frozen=True)
class ImageVenv:
    root: Path  # the venv (the image's /usr/local)
    python_version: str
    installer: str
    wheel: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"


@pytest.fixture(scope="session")
def image_venv(
    tmp_path_factory: pytest.TempPathFactory, dockerfile_stages: list[Stage]
) -> ImageVenv:
    builder = dockerfile_stages[0]
    base = tmp_path_factory.mktemp("image")
    python = find_python312() or sys.executable
    uv = find_uv()

    # The build context and the builder's COPYs.
    context = set(DockerIgnore.read().context_files())
    src = base / "src"
    src.mkdir()
    for ins in builder.all("COPY"):
        for source in copy_sources(ins):
            wanted = [f for f in context if f == source or f.startswith(source.rstrip("/") + "/")]
            assert wanted, f"the builder's `COPY {ins.args}` finds no {source} in the build context"
            for rel in wanted:
                target = src / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(REPO / rel, target)

    # Builder stage: the pinned build backend, then the wheel without build isolation.
    build_env = base / "build-venv"
    _run(python, "-m", "venv", build_env)
    build_python = build_env / "bin" / "python"
    _install(build_python, uv, "--require-hashes", "--only-binary", ":all:", "-r", BUILD_LOCK)
    wheels = base / "wheels"
    _run(
        build_python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--wheel-dir", wheels, ".", cwd=src,
    )  # fmt: skip
    (wheel,) = wheels.glob("cronjobs-*.whl")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    requirement = wheels / "cronjobs.txt"
    requirement.write_text(f"cronjobs @ {wheel.as_uri()} --hash=sha256:{digest}\n")

    # Final stage: a fresh venv (without pip when uv installs: the image removes pip), the lock
    # and the wheel in hash-checking mode, wheels only; then the dependency check.
    venv = base / "venv"
    _run(python, "-m", "venv", *(["--without-pip"] if uv else []), venv)
    venv_python = venv / "bin" / "python"
    _install(
        venv_python, uv, "--require-hashes", "--only-binary", ":all:",
        "-r", IMAGE_LOCK, "-r", requirement,
    )  # fmt: skip
    if uv:
        _run(uv, "pip", "check", "--python", venv_python)
    else:
        _run(venv_python, "-m", "pip", "check")
    version = _run(venv_python, "-c", "import platform; print(platform.python_version())").strip()
    return ImageVenv(venv, version, "uv" if uv else "pip", wheel)


# Inside a private mount namespace: keep the scratch folder writable, make / and the venv
# read-only, run from / (read-only). Arguments: scratch, venv, command...
_READ_ONLY_ROOT = """
set -e
scratch=$1; venv=$2; shift 2
mount --bind "$scratch" "$scratch"
mount --bind "$venv" "$venv"
mount -o remount,bind,ro "$venv"
mount -o remount,bind,ro /
cd /
exec "$@"
"""


@dataclass(frozen=True)
class ImageRun:
    returncode: int
    stdout: str
    stderr: str


ImageRunner = Callable[..., ImageRun]


@pytest.fixture(scope="session")
def image_run(image_venv: ImageVenv, tmp_path_factory: pytest.TempPathFactory) -> ImageRunner:
    """`image_run(*argv, scratch=..., env=...)`: argv[0] is `cronjobs` or `cronctl` (or `sh`)."""
    if not shutil.which("unshare"):
        pytest.fail("`unshare` (util-linux) is needed to mimic the read-only root filesystem")
    # A mount namespace needs CAP_SYS_ADMIN: a normal user gets it inside a user namespace of
    # its own, where it is root (and nothing more outside).
    userns = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]

    def run(
        *argv: str,
        scratch: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> ImageRun:
        scratch = scratch or tmp_path_factory.mktemp("tmp")
        command = [
            "unshare", *userns, "--mount", "--propagation", "private",
            "sh", "-c", _READ_ONLY_ROOT, "sh", str(scratch), str(image_venv.root), *argv,
        ]  # fmt: skip
        full_env = {
            # The image's ENV, with its /tmp moved to the scratch folder.
            "PATH": f"{image_venv.bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(scratch),
            "TMPDIR": str(scratch),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "LANG": "C.UTF-8",
            # What the chart's CronJob sets.
            "CRONJOBS_LOG_FORMAT": "json",
            **(env or {}),
        }
        proc = subprocess.run(
            command, capture_output=True, text=True, env=full_env, timeout=timeout, check=False
        )
        return ImageRun(proc.returncode, proc.stdout, proc.stderr)

    return run
