"""k8s/render.sh replaces the plain manifests only when helm succeeds (issue 21 §3): without
helm, or when helm fails part-way, k8s/cronjobs.yaml is left as it was, with a message saying
what to do. Each test runs a copy of the script in a folder of its own (no .tools/bin/helm
beside it), with a PATH that has no helm."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OLD = "# the manifests as they were\nkind: CronJob\n"


def render(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    (tmp_path / "k8s").mkdir()
    shutil.copy(REPO / "k8s" / "render.sh", tmp_path / "k8s" / "render.sh")
    (tmp_path / "charts").symlink_to(REPO / "charts")
    out = tmp_path / "k8s" / "cronjobs.yaml"
    out.write_text(OLD)
    base = {k: v for k, v in os.environ.items() if k != "HELM"}
    proc = subprocess.run(
        ["sh", str(tmp_path / "k8s" / "render.sh")],
        capture_output=True, text=True, timeout=60, env={**base, "PATH": "/usr/bin:/bin", **env},
    )  # fmt: skip
    return proc, out


def test_without_helm_the_manifests_are_left_alone(tmp_path: Path) -> None:
    assert shutil.which("helm", path="/usr/bin:/bin") is None
    proc, out = render(tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"Error: cannot find helm ('helm'): {out} was not changed.")
    assert "Install Helm 3 (https://helm.sh/docs/intro/install/) or set HELM=" in proc.stderr
    assert out.read_text() == OLD
    assert sorted(p.name for p in out.parent.iterdir()) == ["cronjobs.yaml", "render.sh"]


def test_a_helm_that_fails_part_way_leaves_the_manifests_alone(tmp_path: Path) -> None:
    fake = tmp_path / "failing-helm"
    fake.write_text("#!/bin/sh\necho 'apiVersion: v1'\necho 'Error: chart broken' >&2\nexit 1\n")
    fake.chmod(0o755)
    proc, out = render(tmp_path, HELM=str(fake))
    assert proc.returncode == 1
    assert "Error: chart broken" in proc.stderr
    assert out.read_text() == OLD
    assert sorted(p.name for p in out.parent.iterdir()) == ["cronjobs.yaml", "render.sh"]


def test_with_helm_the_manifests_are_replaced(tmp_path: Path, helm_bin: Path) -> None:
    proc, out = render(tmp_path, HELM=str(helm_bin))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == (REPO / "k8s" / "cronjobs.yaml").read_text()
    assert oct(out.stat().st_mode & 0o777) == "0o644"
