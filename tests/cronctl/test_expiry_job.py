"""What the chart's expiry CronJob (`controller.expiry`) runs: `cronctl resume --expired --yes -l
SELECTOR`, with nothing but the Role the chart gives it (`permissions.EXPIRY_RULES`; the chart
test checks that the rendered Role equals it). Against the API emulator (no API server can run
here), which answers 403, as RBAC would, to every other verb on every resource cronctl knows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import product
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from kubernetes.config import incluster_config

from cronjobs.cronctl import api
from cronjobs.cronctl.model import HISTORY, SUSPENDED_BY, SUSPENDED_UNTIL
from cronjobs.cronctl.permissions import EXPIRY_RULES
from tests.cronctl.conftest import Cluster, ts

SELECTOR = "app.kubernetes.io/name=cronjobs,app.kubernetes.io/instance=web"
ARGS = ("resume", "--expired", "--yes", "-l", SELECTOR)  # the chart's args for release "web"
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")
RESOURCES = (
    "batch/cronjobs",
    "batch/cronjobs/status",
    "batch/jobs",
    "/pods",
    "/pods/log",
    "/events",
)
EXPIRED, LATER = "web-cronjobs-health-check", "web-cronjobs-cleanup-old-sessions"
SERVICE_ACCOUNT = "system:serviceaccount:maint:web-cronjobs-expiry"


def _granted() -> set[tuple[str, str]]:
    return {(verb, f"{group}/{res}") for group, res, verbs in EXPIRY_RULES for verb in verbs}


def _suspended(cluster: Cluster, name: str, until: datetime) -> None:
    annotations = {SUSPENDED_BY: "bob", SUSPENDED_UNTIL: ts(until)}
    cluster.add_cronjob(name, suspend=True, annotations=annotations)


def _used(calls: list[tuple[str, str]], namespace: str) -> set[tuple[str, str]]:
    """(verb, "group/resource") of each request, as RBAC names it."""
    used = set()
    for method, url in calls:
        parts = urlsplit(url).path.strip("/").split("/")
        if parts[:2] == ["apis", "authorization.k8s.io"] or parts[:2] == [
            "apis",
            "authentication.k8s.io",
        ]:
            used.add(("create", f"{parts[1]}/{parts[3]}"))
            continue
        group = "" if parts[0] == "api" else parts[1]
        rest = parts[parts.index(namespace) + 1 :]
        resource, named = "/".join([rest[0], *rest[2:]]), len(rest) > 1
        verb = {"GET": "get" if named else "list", "PATCH": "patch", "POST": "create"}[method]
        used.add((verb, f"{group}/{resource}"))
    return used


def test_resume_expired_needs_exactly_the_expiry_role(cluster: Cluster) -> None:
    now = datetime.now(UTC)
    _suspended(cluster, EXPIRED, now - timedelta(minutes=5))
    _suspended(cluster, LATER, now + timedelta(hours=2))

    def other_client() -> None:  # a concurrent change: cronctl's patch meets a 409, reads again
        cj = cluster.emulator.objects["batch/v1/cronjobs", cluster.namespace, EXPIRED]
        cj.patch({"metadata": {"resourceVersion": "999999", "labels": {"touched": "yes"}}})

    denied = set(product(VERBS, RESOURCES)) - _granted()
    emulator = cluster.emulator
    start = len(emulator.calls)
    emulator.forbidden |= denied
    emulator.identity, emulator.before_patch = SERVICE_ACCOUNT, other_client
    try:
        result = cluster.run(*ARGS, env={"KUBECONFIG": str(cluster.kubeconfig)})
    finally:
        emulator.forbidden -= denied
        emulator.identity = emulator.before_patch = None
    calls = emulator.calls[start:]

    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"cronjob.batch/{EXPIRED} resumed\n"
    assert cluster.cronjob(EXPIRED)["spec"]["suspend"] is False
    assert cluster.cronjob(LATER)["spec"]["suspend"] is True  # not expired yet: left alone
    [entry] = json.loads(cluster.cronjob(EXPIRED)["metadata"]["annotations"][HISTORY])
    assert entry["action"] == "resume" and entry["by"] == SERVICE_ACCOUNT
    # Every rule of the Role is used (get: the re-read after the 409), nothing else but the two
    # reviews every authenticated user may create without a Role.
    assert _used(calls, cluster.namespace) == _granted() | {
        ("create", "authorization.k8s.io/selfsubjectaccessreviews"),
        ("create", "authentication.k8s.io/selfsubjectreviews"),
    }


def test_resume_expired_with_nothing_expired_changes_nothing_and_exits_0(
    cluster: Cluster,
) -> None:
    _suspended(cluster, LATER, datetime.now(UTC) + timedelta(hours=2))

    result = cluster.run(*ARGS)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and "Nothing to resume." in result.stderr
    assert cluster.cronjob(LATER)["spec"]["suspend"] is True


def test_in_the_pod_it_loads_the_in_cluster_configuration_and_prints_no_config_noise(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CronJob's pod has no kubeconfig: cronctl takes the API address from
    KUBERNETES_SERVICE_HOST/PORT (HTTPS) and the ServiceAccount's token, and stdout stays empty
    (kubernetes.config.load_config() would print there). The emulator speaks plain HTTP, so the
    run ends at the TLS handshake: exit 1, naming the in-cluster address."""
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text("a.b.c")
    (sa / "ca.crt").write_text("not used before a request\n")
    (sa / "namespace").write_text(f"{cluster.namespace}\n")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(sa / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(sa / "ca.crt"))
    monkeypatch.setattr(api, "SA_DIR", sa)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    env = {
        "KUBECONFIG": None,
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(cluster.server.port),
    }

    result = cluster.run(*ARGS, env=env)  # type: ignore[arg-type]

    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"cannot reach the Kubernetes API at https://127.0.0.1:{cluster.server.port}" in (
        result.stderr
    )
