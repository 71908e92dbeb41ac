"""tests/image/podman.py's reading of the chart's pod spec: the podman flags follow the chart's
values, and a field it cannot reproduce stops the tests instead of being dropped. No podman
needed: helm renders, the flags are compared."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CHART
from podman import NotMimicked, chart_pod_specs, pod_run, quantity_bytes


def _flag_pairs(flags: tuple[str, ...]) -> set[tuple[str, str]]:
    pairs = set()
    for i, flag in enumerate(flags):
        if flag.startswith("--") and i + 1 < len(flags) and not flags[i + 1].startswith("--"):
            pairs.add((flag, flags[i + 1]))
    return pairs


def test_the_default_chart_runs_read_only_unprivileged_with_its_tmp(helm_bin: Path) -> None:
    run = pod_run(chart_pod_specs(helm_bin, CHART)[0])
    assert {"--read-only", "--read-only-tmpfs=false"} <= set(run.flags)
    assert {
        ("--user", "10001:10001"),
        ("--cap-drop", "ALL"),
        ("--security-opt", "no-new-privileges"),
        ("--tmpfs", f"/tmp:rw,exec,mode=1777,size={64 * 2**20}"),
        ("--memory", str(512 * 2**20)),
    } <= _flag_pairs(run.flags)
    assert run.env["CRONJOBS_LOG_FORMAT"] == "json"
    assert run.termination_message_path == "/dev/termination-log"


def test_a_changed_security_context_changes_the_flags(helm_bin: Path) -> None:
    (pod, *_) = chart_pod_specs(
        helm_bin, CHART, "CronJob",
        "jobDefaults.securityContext.runAsUser=20002",
        "jobDefaults.securityContext.readOnlyRootFilesystem=false",
    )  # fmt: skip
    run = pod_run(pod)
    assert ("--user", "20002:10001") in _flag_pairs(run.flags)
    assert "--read-only" not in run.flags


def test_a_field_it_cannot_mimic_is_an_error(helm_bin: Path) -> None:
    (pod, *_) = chart_pod_specs(helm_bin, CHART)
    pod["containers"][0]["securityContext"]["procMount"] = "Unmasked"
    with pytest.raises(NotMimicked, match="procMount"):
        pod_run(pod)
    pod["volumes"].append({"name": "extra", "hostPath": {"path": "/"}})
    pod["containers"][0]["volumeMounts"].append({"name": "extra", "mountPath": "/host"})
    del pod["containers"][0]["securityContext"]["procMount"]
    with pytest.raises(NotMimicked, match="hostPath"):
        pod_run(pod)


def test_quantities() -> None:
    assert quantity_bytes("64Mi") == 64 * 2**20
    assert quantity_bytes("1G") == 10**9
    assert quantity_bytes(1000) == 1000
    with pytest.raises(NotMimicked):
        quantity_bytes("1.5Gi")
