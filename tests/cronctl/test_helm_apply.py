"""`helm upgrade` and cronctl share `spec.suspend`: the rendered chart (real `helm template`),
applied by the real kubectl as Helm applies it, before and after `cronctl suspend`/`resume`.

Server-side: `kubectl apply --server-side --field-manager=helm` sends what Helm 4 sends by
default (PATCH application/apply-patch+yaml, force=false). Client-side: `kubectl apply`'s
three-way merge (its last-applied annotation as the original; Helm 3 and
`helm upgrade --server-side=false` use the previous release's manifest). Real helm cannot talk to
the emulator (it needs the OpenAPI documents), so kubectl stands in for it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cronctl.conftest import Cluster

CHART = Path(__file__).resolve().parents[2] / "charts" / "cronjobs"
NAME = "web-cronjobs-health-check"
MODES = {
    "server-side (Helm 4)": ["--server-side", "--field-manager=helm"],
    "client-side (Helm 3)": [],
}


def render(helm: Path, namespace: str, tmp_path: Path, *values: str) -> Path:
    """The chart's CronJobs as `helm template` renders them (release `web`)."""
    out = subprocess.run(
        [str(helm), "template", "web", str(CHART), "-n", namespace, *values],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    docs = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "CronJob"]
    path = tmp_path / f"cronjobs-{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path


def apply(
    kubectl: Path, cluster: Cluster, manifest: Path, mode: list[str], *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(kubectl),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "apply",
            "--validate=false",  # the emulator serves no OpenAPI documents
            *mode,
            *extra,
            "-f",
            str(manifest),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def managers_of_suspend(cronjob: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (e["manager"], e["operation"])
        for e in cronjob["metadata"]["managedFields"]
        if "f:suspend" in e["fieldsV1"].get("f:spec", {})
    }


@pytest.mark.parametrize("mode", MODES.values(), ids=list(MODES))
def test_an_upgrade_keeps_the_suspend_cronctl_made(
    cluster: Cluster, helm_bin: Path, kubectl_bin: Path, tmp_path: Path, mode: list[str]
) -> None:
    manifest = render(helm_bin, cluster.namespace, tmp_path)
    installed = apply(kubectl_bin, cluster, manifest, mode)
    assert installed.returncode == 0, installed.stderr
    suspended = cluster.run("suspend", NAME, "--reason", "db migration")
    assert suspended.exit_code == 0, suspended.stderr
    assert managers_of_suspend(cluster.cronjob(NAME)) == {("cronctl", "Update")}

    upgraded = apply(kubectl_bin, cluster, manifest, mode)

    assert upgraded.returncode == 0, upgraded.stderr
    after = cluster.cronjob(NAME)
    assert after["spec"]["suspend"] is True
    assert managers_of_suspend(after) == {("cronctl", "Update")}
    listed = cluster.run("list", "-o", "json")
    assert '"suspend_reason": "db migration"' in listed.stdout
    resumed = cluster.run("resume", NAME)
    assert resumed.exit_code == 0 and "values" not in resumed.stderr
    assert apply(kubectl_bin, cluster, manifest, mode).returncode == 0
    assert cluster.cronjob(NAME)["spec"]["suspend"] is False  # and resume survives too


@pytest.mark.parametrize("mode", MODES.values(), ids=list(MODES))
def test_values_that_suspend_a_job_own_the_field(
    cluster: Cluster, helm_bin: Path, kubectl_bin: Path, tmp_path: Path, mode: list[str]
) -> None:
    """`jobs.<key>.suspend: true`: cronctl resume warns; the next upgrade suspends it again
    (server-side only with --force-conflicts: the field is cronctl's since the resume)."""
    manifest = render(
        helm_bin, cluster.namespace, tmp_path, "--set", "jobs.health-check.suspend=true"
    )
    assert apply(kubectl_bin, cluster, manifest, mode).returncode == 0
    assert cluster.cronjob(NAME)["spec"]["suspend"] is True

    resumed = cluster.run("resume", NAME)

    assert resumed.exit_code == 0, resumed.stderr
    assert cluster.cronjob(NAME)["spec"]["suspend"] is False
    warning = " ".join(resumed.stderr.split())
    assert "the chart's values suspend it (jobs.health-check.suspend: true)" in warning
    assert "the next helm upgrade suspends it again" in warning
    upgraded = apply(kubectl_bin, cluster, manifest, mode)
    if mode:
        assert upgraded.returncode != 0
        assert 'conflict with "cronctl" using batch/v1: .spec.suspend' in upgraded.stderr
        upgraded = apply(kubectl_bin, cluster, manifest, mode, "--force-conflicts")
    assert upgraded.returncode == 0, upgraded.stderr
    assert cluster.cronjob(NAME)["spec"]["suspend"] is True
