"""The emulator itself: field ownership, server-side apply conflicts and the 204 log answer, as a
real kube-apiserver (v1.28) showed them. The cronctl and chart tests rely on these."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.cronctl.conftest import Cluster, cronjob_body

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"


def request(
    cluster: Cluster,
    method: str,
    path: str,
    body: Any = None,
    *,
    content_type: str = "application/json",
    agent: str = "OpenAPI-Generator/31.0.0/python",
) -> tuple[int, Any]:
    """One HTTP request to the emulator with this User-Agent: (status, decoded body)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        cluster.server.url + path,
        data=data,
        method=method,
        headers={"Content-Type": content_type, "User-Agent": agent},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def cronjobs(cluster: Cluster, name: str = "", query: str = "") -> str:
    path = f"/apis/batch/v1/namespaces/{cluster.namespace}/cronjobs"
    return path + (f"/{name}" if name else "") + (f"?{query}" if query else "")


def owners(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e["fieldsV1"] for e in obj["metadata"]["managedFields"]}


def config(name: str, **spec: Any) -> dict[str, Any]:
    """What Helm applies: the rendered CronJob, here the fields that matter for ownership."""
    body = cronjob_body(name)
    body["spec"].pop("suspend")
    body["spec"].update(spec)
    return body


def test_an_update_names_its_manager_from_field_manager_or_the_user_agent(
    cluster: Cluster,
) -> None:
    status, created = request(cluster, "POST", cronjobs(cluster), cronjob_body("a"))
    assert status < 300  # kmock answers a create 200 (the API server 201)
    # No fieldManager: the User-Agent's first part, as the official client shows up.
    assert ("OpenAPI-Generator", "Update") in owners(created)
    patch = {"spec": {"suspend": True}}
    status, _ = request(
        cluster, "PATCH", cronjobs(cluster, "a", "fieldManager=cronctl"), patch, content_type=MERGE
    )
    assert status == 200
    fields = owners(cluster.cronjob("a"))
    assert fields[("cronctl", "Update")] == {"f:spec": {"f:suspend": {}}}
    # The field it changed is no longer the creator's.
    assert "f:suspend" not in fields[("OpenAPI-Generator", "Update")]["f:spec"]
    assert "f:schedule" in fields[("OpenAPI-Generator", "Update")]["f:spec"]


def test_apply_creates_then_conflicts_on_a_field_another_manager_changed(
    cluster: Cluster,
) -> None:
    applied = config("b", suspend=False)
    status, created = request(
        cluster, "PATCH", cronjobs(cluster, "b", "fieldManager=helm"), applied, content_type=APPLY
    )
    assert status == 201 and created["spec"]["suspend"] is False
    assert "f:suspend" in owners(created)[("helm", "Apply")]["f:spec"]
    request(
        cluster, "PATCH", cronjobs(cluster, "b"), {"spec": {"suspend": True}}, content_type=MERGE
    )

    status, body = request(
        cluster,
        "PATCH",
        cronjobs(cluster, "b", "fieldManager=helm&force=false"),
        applied,
        content_type=APPLY,
    )

    assert status == 409
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Apply failed with 1 conflict: conflict with "OpenAPI-Generator" using batch/v1: '
        ".spec.suspend"
    )
    assert body["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "OpenAPI-Generator" using batch/v1',
            "field": ".spec.suspend",
        }
    ]
    assert cluster.cronjob("b")["spec"]["suspend"] is True  # nothing changed
    status, forced = request(
        cluster,
        "PATCH",
        cronjobs(cluster, "b", "fieldManager=helm&force=true"),
        applied,
        content_type=APPLY,
    )
    assert status == 200 and forced["spec"]["suspend"] is False
    assert ("OpenAPI-Generator", "Update") not in owners(forced)  # it lost its only field


def test_apply_of_the_live_value_shares_and_a_dropped_field_goes_unless_shared(
    cluster: Cluster,
) -> None:
    path = cronjobs(cluster, "c", "fieldManager=helm")
    request(
        cluster, "PATCH", path, config("c", suspend=False, timeZone="Etc/UTC"), content_type=APPLY
    )
    request(
        cluster,
        "PATCH",
        cronjobs(cluster, "c", "fieldManager=cronctl"),
        {"spec": {"suspend": True}},
        content_type=MERGE,
    )
    # The same value as live: no conflict, both own it.
    status, _ = request(cluster, "PATCH", path, config("c", suspend=True), content_type=APPLY)
    assert status == 200
    # Dropped from the applied configuration: timeZone (helm's alone) goes, suspend
    # (cronctl's too) stays.
    status, after = request(cluster, "PATCH", path, config("c"), content_type=APPLY)
    assert status == 200
    assert "timeZone" not in after["spec"]
    assert after["spec"]["suspend"] is True
    assert owners(after)[("cronctl", "Update")] == {"f:spec": {"f:suspend": {}}}


def test_apply_needs_a_field_manager(cluster: Cluster) -> None:
    status, body = request(
        cluster, "PATCH", cronjobs(cluster, "d"), config("d"), content_type=APPLY
    )
    assert status == 422 and "fieldManager: Required value" in body["message"]


def test_the_log_of_a_pod_not_on_a_node_is_204_and_empty(cluster: Cluster) -> None:
    cluster.add_pod("j", "j-pending", "", phase="Pending")
    cluster.add_pod("j", "j-running", "hello\n", phase="Running")
    base = f"/api/v1/namespaces/{cluster.namespace}/pods"

    pending = urllib.request.urlopen(cluster.server.url + f"{base}/j-pending/log", timeout=10)
    running = urllib.request.urlopen(cluster.server.url + f"{base}/j-running/log", timeout=10)

    assert (pending.status, pending.read()) == (204, b"")
    assert (running.status, running.read()) == (200, b"hello\n")


def test_a_client_side_apply_resets_a_field_it_renders(
    cluster: Cluster, kubectl_bin: Path, tmp_path: Path
) -> None:
    """kubectl apply (Helm 3 likewise): a three-way merge of its last-applied annotation, the
    manifest and the live object, sent as a strategic merge patch. A field the manifest sets
    back overrides another manager's change, and the applier takes the field over."""
    manifest = tmp_path / "cronjob.yaml"
    manifest.write_text(yaml.safe_dump({**cronjob_body("e"), "metadata": {"name": "e"}}))
    command = [str(kubectl_bin), "--kubeconfig", str(cluster.kubeconfig), "apply"]
    command += ["--validate=false", "-f", str(manifest)]
    assert subprocess.run(command, capture_output=True, timeout=60).returncode == 0
    request(
        cluster,
        "PATCH",
        cronjobs(cluster, "e", "fieldManager=cronctl"),
        {"spec": {"suspend": True}},
        content_type=MERGE,
    )

    assert subprocess.run(command, capture_output=True, timeout=60).returncode == 0

    after = cluster.cronjob("e")
    assert after["spec"]["suspend"] is False
    fields = owners(after)
    assert "f:suspend" in fields[("kubectl-client-side-apply", "Update")]["f:spec"]
    assert ("cronctl", "Update") not in fields
