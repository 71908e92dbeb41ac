"""k8s/: the plain manifests stay in sync with the chart, and kustomize builds them (real kubectl).

Nothing here applies anything: no cluster can run on these machines (k8s/README.md has the steps
for a local kind cluster).
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from chart_helpers import ROOT, by_kind, parse_docs

K8S = ROOT / "k8s"


def kustomize(kubectl: Path, directory: Path) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [str(kubectl), "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    docs = parse_docs(proc.stdout)
    assert docs
    return docs


@pytest.fixture(scope="module")
def k8s_docs(kubectl_bin: Path) -> list[dict[str, Any]]:
    return kustomize(kubectl_bin, K8S)


@pytest.fixture(scope="module")
def dev_docs(kubectl_bin: Path) -> list[dict[str, Any]]:
    return kustomize(kubectl_bin, K8S / "dev")


def test_rendered_manifests_are_up_to_date(helm_bin: Path, tmp_path: Path) -> None:
    out = tmp_path / "cronjobs.yaml"
    subprocess.run(
        ["sh", str(K8S / "render.sh"), str(out)],
        check=True,
        timeout=60,
        env={**os.environ, "HELM": str(helm_bin)},
    )
    assert out.read_text() == (K8S / "cronjobs.yaml").read_text(), (
        "k8s/cronjobs.yaml is stale: run `sh k8s/render.sh` and commit the result"
    )


def test_plain_manifests_carry_no_secret() -> None:
    docs = parse_docs((K8S / "cronjobs.yaml").read_text())
    assert by_kind(docs, "Secret") == []
    refs = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for cj in by_kind(docs, "CronJob")
        for e in cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert refs == {"cronjobs-connection"}


def test_kustomize_builds_the_release_into_its_namespace(k8s_docs: list[dict[str, Any]]) -> None:
    assert Counter(d["kind"] for d in k8s_docs) == {
        "Namespace": 1,
        "ServiceAccount": 1,
        "Role": 1,
        "CronJob": 5,
    }
    (namespace,) = by_kind(k8s_docs, "Namespace")
    assert namespace["metadata"]["name"] == "cronjobs"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for doc in k8s_docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "cronjobs"
            assert doc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kustomize"
    for cj in by_kind(k8s_docs, "CronJob"):
        pod = cj["spec"]["jobTemplate"]["spec"]["template"]
        assert pod["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kustomize"
        assert pod["spec"]["containers"][0]["image"] == "cronjobs:0.1.0"


@pytest.mark.parametrize("version", ["1.30.0", "1.35.0"])
def test_kustomize_output_is_valid_kubernetes(
    k8s_docs: list[dict[str, Any]], dev_docs: list[dict[str, Any]], version: str
) -> None:
    for doc in k8s_docs + dev_docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_image_and_namespace_can_be_patched(kubectl_bin: Path, tmp_path: Path) -> None:
    overlay = {
        "resources": [os.path.relpath(K8S, tmp_path)],
        "namespace": "maintenance",
        "images": [
            {"name": "cronjobs", "newName": "registry.example.com/cronjobs", "newTag": "1.2.3"}
        ],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    docs = kustomize(kubectl_bin, tmp_path)
    assert {
        cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"]
        for cj in by_kind(docs, "CronJob")
    } == {"registry.example.com/cronjobs:1.2.3"}
    assert {d["metadata"].get("namespace", d["metadata"]["name"]) for d in docs} == {"maintenance"}


def test_dev_stack_serves_the_chart_default_ports(dev_docs: list[dict[str, Any]]) -> None:
    values = yaml.safe_load((ROOT / "charts" / "cronjobs" / "values.yaml").read_text())
    services = {s["metadata"]["name"]: s for s in by_kind(dev_docs, "Service")}
    deployments = {d["metadata"]["name"]: d for d in by_kind(dev_docs, "Deployment")}
    assert set(services) == set(deployments) == {"postgres", "redis", "qdrant"}
    for name, peer in (("postgres", "database"), ("redis", "redis"), ("qdrant", "qdrant")):
        service = services[name]
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        service_ports = {p["port"] for p in service["spec"]["ports"]}
        assert service_ports == {p["port"] for p in values["networkPolicy"][peer]["ports"]}
        assert service["metadata"]["namespace"] == "cronjobs-dev"


def test_kind_config() -> None:
    config = yaml.safe_load((K8S / "dev" / "kind-config.yaml").read_text())
    assert config["kind"] == "Cluster"
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert [n["role"] for n in config["nodes"]] == ["control-plane"]
