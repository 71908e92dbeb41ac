"""The choke point (cronjobs.cronctl.api): client-version independence, auth, in-cluster loading."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s_client
from kubernetes.config import incluster_config

from cronjobs.cronctl import api
from cronjobs.cronctl.model import SUSPENDED_BY, TRIGGERED_BY
from tests.cronctl.conftest import Cluster


def test_requests_do_not_depend_on_the_clients_call_api_signature(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyproject allows kubernetes>=29: `ApiClient.param_serialize` exists only in 37, and
    `call_api` takes other arguments before it, so cronctl must use neither."""

    def absent(*args: Any, **kwargs: Any) -> Any:
        raise AttributeError("not in this kubernetes client version")

    monkeypatch.setattr(k8s_client.ApiClient, "param_serialize", absent, raising=False)
    monkeypatch.setattr(k8s_client.ApiClient, "call_api", absent)
    cj = cluster.add_cronjob("web-cronjobs-health-check")
    cluster.add_job(cj, "web-cronjobs-health-check-1")

    listed = cluster.run("list", "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    assert '"last_result": "Succeeded"' in listed.stdout
    suspended = cluster.run("suspend", "web-cronjobs-health-check")
    assert suspended.exit_code == 0, suspended.stderr
    assert cluster.cronjob("web-cronjobs-health-check")["spec"]["suspend"] is True


@pytest.fixture()
def identity(cluster: Cluster) -> Iterator[None]:
    cluster.emulator.identity = "alice@example.com"
    yield
    cluster.emulator.identity = None


def test_audit_identity_is_the_api_servers_view_asked_once(
    cluster: Cluster, identity: None
) -> None:
    cluster.add_cronjob("web-cronjobs-health-check", policy="Allow")
    calls = cluster.emulator.calls
    before = len(calls)
    controller = cluster.controller()
    try:
        controller.suspend(("web-cronjobs-health-check",))
        triggered = controller.trigger("web-cronjobs-health-check")
    finally:
        controller.close()

    annotations = cluster.cronjob("web-cronjobs-health-check")["metadata"]["annotations"]
    assert annotations[SUSPENDED_BY] == "alice@example.com"  # not the kubeconfig's "tester"
    assert triggered.job["metadata"]["annotations"][TRIGGERED_BY] == "alice@example.com"
    reviews = [c for c in calls[before:] if "selfsubjectreviews" in c[1]]
    assert reviews == [
        ("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews?fieldManager=cronctl")
    ]


def test_audit_identity_falls_back_to_the_kubeconfig_user(cluster: Cluster) -> None:
    """An API server without SelfSubjectReview (404, before 1.28) or failing it: no error."""
    cluster.add_cronjob("web-cronjobs-health-check")
    result = cluster.run("suspend", "web-cronjobs-health-check")
    assert result.exit_code == 0, result.stderr
    annotations = cluster.cronjob("web-cronjobs-health-check")["metadata"]["annotations"]
    assert annotations[SUSPENDED_BY] == "tester"


def _token(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


def test_in_cluster_configuration(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a pod (KUBERNETES_SERVICE_HOST set, no --kubeconfig/--context): the API at the
    service address over HTTPS, the ServiceAccount token, the pod's namespace, and the
    ServiceAccount as the fallback identity. (The emulator speaks plain HTTP, so the request
    itself is checked up to the TLS handshake.)"""
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    subject = "system:serviceaccount:maintenance:web-cronjobs-controller"
    (sa / "token").write_text(_token({"sub": subject}))
    (sa / "ca.crt").write_text("not used before a request\n")
    (sa / "namespace").write_text("maintenance\n")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(sa / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(sa / "ca.crt"))
    monkeypatch.setattr(api, "SA_DIR", sa)
    monkeypatch.delenv("KUBECONFIG", raising=False)  # $KUBECONFIG would win, as in kubectl
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(cluster.server.port))

    kube = api.KubeApi(api.ClientSettings())
    try:
        assert kube.host == f"https://127.0.0.1:{cluster.server.port}"
        assert kube.namespace == "maintenance"
        assert kube._auth_headers() == {"authorization": f"bearer {_token({'sub': subject})}"}
        assert kube.user == subject  # SelfSubjectReview unreachable here: the fallback
    finally:
        kube.close()

    (sa / "token").write_text("not-a-jwt")
    kube = api.KubeApi(api.ClientSettings(request_timeout=2))
    try:
        assert kube._fallback_user == os.environ.get("USER", kube._fallback_user)
    finally:
        kube.close()

    # --kubeconfig wins over the pod's configuration.
    kube = api.KubeApi(api.ClientSettings(kubeconfig=str(cluster.kubeconfig)))
    try:
        assert kube.namespace == cluster.namespace and kube.host == cluster.server.url
    finally:
        kube.close()
