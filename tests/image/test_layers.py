"""A rebuild after a change holds the change: podman's builder (buildah) reuses a cached layer
when the step's inputs look the same, and it judged a `RUN --mount=type=bind` step by its text
alone, so a rebuild after a code or lock change "succeeded" in seconds with the old code inside.
These rebuilds run on the cache of the `image` fixture's build (no --no-cache), from a copy of
the build context with one file changed."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

from image_helpers import REPO, DockerIgnore
from podman import RLIMITS, Podman


def _context_copy(tmp_path: Path) -> Path:
    """The build context (the repository as .dockerignore filters it) and the Dockerfile."""
    context = tmp_path / "context"
    for rel in [*DockerIgnore.read().context_files(), "Dockerfile", ".dockerignore"]:
        target = context / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, target)
    return context


def test_a_code_change_reaches_the_rebuilt_image(
    podman: Podman, image: str, base_image: str, tmp_path: Path
) -> None:
    context = _context_copy(tmp_path)
    marker = uuid.uuid4().hex
    (context / "jobs" / "cronjobs" / "_layer_probe.py").write_text(f'VALUE = "{marker}"\n')
    tag = "localhost/cronjobs:layer-probe"
    build = podman.build(context, tag, {"PYTHON_IMAGE": base_image})
    try:
        assert "Using cache" in build.stdout + build.stderr, "the rebuild used no cache at all"
        proc = subprocess.run(
            podman.argv(
                "run", "--rm", "--no-healthcheck", *RLIMITS, "--network", "none",
                "--entrypoint", "python",
                tag, "-c", "from cronjobs._layer_probe import VALUE; print(VALUE)",
            ),
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert (proc.returncode, proc.stdout.strip()) == (0, marker), proc.stderr
    finally:
        podman("rmi", "--force", tag, check=False)


def test_a_lock_change_reaches_the_rebuild(
    podman: Podman, image: str, base_image: str, tmp_path: Path
) -> None:
    """A line pip cannot read, added to requirements/image.txt, fails the rebuild: the install
    step ran again on the new lock instead of answering with the cached layer."""
    context = _context_copy(tmp_path)
    lock = context / "requirements" / "image.txt"
    lock.write_text(lock.read_text() + "this is not a requirement\n")
    build = podman.build(context, "localhost/cronjobs:lock-probe", {"PYTHON_IMAGE": base_image},
                         check=False)  # fmt: skip
    podman("rmi", "--force", "localhost/cronjobs:lock-probe", check=False)
    assert build.returncode != 0, "the rebuild kept the old install layer"
    assert "this is not a requirement" in build.stdout + build.stderr
