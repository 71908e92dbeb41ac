"""Clusters people run (issue 22 §5): the chart installs on every Kubernetes version where the
CronJob `timeZone` field is GA (1.27+); the admission policies, which need
admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy (GA in 1.30), are rendered only where
the cluster has it, and the install notes say when they were left out. Rendered by the real helm
(`--kube-version`, `--api-versions` as a cluster's discovery would answer), validated with
kubernetes-validate at each version's schemas."""

from __future__ import annotations

import shutil
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
from chart_helpers import CHART, NAMESPACE, RELEASE, Render, by_kind, parse_docs, run_helm
from test_render import PROMETHEUS_RULE_SCHEMA

SET = "--set"
VAP = "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy"
EVERYTHING = (
    SET, "controller.rbac.admissionPolicy.enabled=true",
    SET, "controller.rbac.operator.subjects[0].kind=Group",
    SET, "controller.rbac.operator.subjects[0].name=oncall",
    SET, "controller.rbac.viewer.subjects[0].kind=Group",
    SET, "controller.rbac.viewer.subjects[0].name=devs",
    SET, "controller.expiry.enabled=true",
    SET, "networkPolicy.enabled=true",
    SET, "metrics.prometheusRule.enabled=true",
    SET, "helmTest.enabled=true",
    SET, "serve.enabled=true",
    SET, "retentionRules=[tables]",
    SET, "upgradeHooks.quiesce.enabled=true",
)  # fmt: skip


def _policies(docs: list[dict[str, object]]) -> int:
    return len(
        by_kind(docs, "ValidatingAdmissionPolicy")
        + by_kind(docs, "ValidatingAdmissionPolicyBinding")
    )


@pytest.mark.parametrize("minor", range(27, 34))
def test_every_feature_renders_valid_objects_from_1_27(render: Render, minor: int) -> None:
    version = f"1.{minor}.0"
    docs = render("--kube-version", version, *EVERYTHING)
    # The policies only where v1 is served (1.30+): a 1.27-1.29 API server would refuse them.
    assert _policies(docs) == (4 if minor >= 30 else 0)
    assert by_kind(docs, "CronJob") and by_kind(docs, "Deployment")
    for doc in docs:
        if doc["kind"] == "PrometheusRule":
            jsonschema.validate(doc, PROMETHEUS_RULE_SCHEMA)
        else:
            kubernetes_validate.validate(doc, version, strict=True)


def test_a_cluster_that_lists_the_api_gets_the_policies(render: Render) -> None:
    docs = render("--kube-version", "1.29.0", "--api-versions", VAP, *EVERYTHING)
    assert _policies(docs) == 4
    assert {d["apiVersion"] for d in by_kind(docs, "ValidatingAdmissionPolicy")} == {
        "admissionregistration.k8s.io/v1"
    }


def test_older_than_1_27_is_refused(helm_bin: Path) -> None:
    done = run_helm(
        helm_bin, "template", RELEASE, str(CHART), "-n", NAMESPACE, "--kube-version", "1.26.9"
    )
    assert done.returncode != 0
    assert ">=1.27.0-0" in done.stderr


def _notes(helm: Path, chart: Path, *args: str) -> str:
    """NOTES.txt as a cluster of `--kube-version` would get it: `helm install --dry-run` takes no
    --kube-version, so a copy of the chart renders it into a ConfigMap for `helm template`."""
    done = run_helm(helm, "template", RELEASE, str(chart), "-n", NAMESPACE, *args)
    assert done.returncode == 0, done.stderr
    [probe] = [d for d in parse_docs(done.stdout) if d["metadata"]["name"] == "notes-probe"]
    return " ".join(probe["data"]["notes"].split())


@pytest.fixture(scope="module")
def probe_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chart = tmp_path_factory.mktemp("chart") / "cronjobs"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "notes-probe.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes-probe\ndata:\n"
        '  notes: {{ include (print $.Template.BasePath "/NOTES.txt") . | quote }}\n'
    )
    return chart


def test_notes_say_when_the_policies_were_left_out(helm_bin: Path, probe_chart: Path) -> None:
    warning = (
        "WARNING: controller.rbac.admissionPolicy.enabled is true, but this cluster "
        "(Kubernetes v1.28.0) does not serve admissionregistration.k8s.io/v1 "
        "ValidatingAdmissionPolicy (GA in 1.30), so the admission policies were NOT installed"
    )
    old = _notes(helm_bin, probe_chart, "--kube-version", "1.28.0", *EVERYTHING)
    assert warning in old
    assert "create any Job there (any image, ServiceAccount or Secret)" in old
    for args in (("--kube-version", "1.30.0", *EVERYTHING), ("--kube-version", "1.28.0")):
        notes = _notes(helm_bin, probe_chart, *args)
        assert "CronJob(s)" in notes
        assert "controller.rbac.admissionPolicy" not in notes
