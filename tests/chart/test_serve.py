"""The chart's optional `cronctl serve` (Deployment, Service, ServiceAccount, viewer Role): off by
default; on, the same hardened pod as the CronJobs, read-only RBAC unless asked otherwise, valid
Kubernetes objects (kubernetes-validate, strict), no checkov finding, and bad combinations
refused with a message naming the value. Rendered by the real helm."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from chart_helpers import CHART, NAMESPACE, RELEASE, Render, by_kind, run_helm
from test_checkov import _failures, scan

from cronjobs.cronctl.permissions import RULES

ON = [
    "--set",
    "serve.enabled=true",
    "--set",
    "serve.image.repository=registry.example/cronjobs-web",
]
TOKENS = [*ON, "--set", "serve.auth=tokens", "--set", "serve.tokensSecret=dashboard-tokens"]
FULL = f"{RELEASE}"  # release "cronjobs": fullname is the release name


def serve_docs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        d["kind"]: d
        for d in docs
        if (d["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == "serve"
    }


def test_off_by_default(default_docs: list[dict[str, Any]]) -> None:
    assert serve_docs(default_docs) == {}
    assert not by_kind(default_docs, "Deployment") and not by_kind(default_docs, "Service")


def test_on_renders_a_hardened_read_only_dashboard(render: Render) -> None:
    docs = render(*ON)
    serve = serve_docs(docs)
    assert set(serve) == {
        "Deployment", "Service", "ServiceAccount", "RoleBinding", "NetworkPolicy"
    }  # fmt: skip
    # The one viewer Role of rbac.yaml (also bound to people from values), not a copy of its own.
    [role] = [r for r in by_kind(docs, "Role") if r["metadata"]["name"] == f"{FULL}-cronctl-viewer"]
    kubernetes_validate.validate(role, "1.30.0", strict=True)
    for doc in serve.values():
        kubernetes_validate.validate(doc, "1.30.0", strict=True)
    pod = serve["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    cronjob_pod = by_kind(docs, "CronJob")[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["securityContext"] == cronjob_pod["securityContext"]
    assert container["securityContext"] == cronjob_pod["containers"][0]["securityContext"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["image"] == "registry.example/cronjobs-web:0.1.0"
    assert container["args"] == [
        "serve", "--host", "0.0.0.0", "--port", "8080",
        "--selector", "app.kubernetes.io/name=cronjobs,app.kubernetes.io/instance=cronjobs",
    ]  # fmt: skip
    assert not any(e["name"].startswith("CRONCTL_SERVE_") for e in container["env"])  # read-only
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert pod["serviceAccountName"] == f"{FULL}-serve" and pod["automountServiceAccountToken"]
    # The Service selects the dashboard's pods, never a CronJob's.
    selector = serve["Service"]["spec"]["selector"]
    assert selector["app.kubernetes.io/component"] == "serve"
    labels = (
        cronjob_pod
        and by_kind(docs, "CronJob")[0]["spec"]["jobTemplate"]["spec"]["template"]["metadata"][
            "labels"
        ]
    )
    assert not all(labels.get(k) == v for k, v in selector.items())
    # Viewer: only the reads cronctl uses, bound to the dashboard's own ServiceAccount.
    binding = serve["RoleBinding"]
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    assert verbs == {"get", "list"}
    granted = {(rule["apiGroups"][0], res) for rule in role["rules"] for res in rule["resources"]}
    assert granted == {(g, r) for g, r, verbs in RULES if {"get", "list"} & set(verbs)} - {
        ("batch", "cronjobs/status")
    }
    assert binding["roleRef"]["name"] == f"{FULL}-cronctl-viewer"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": f"{FULL}-serve", "namespace": NAMESPACE}
    ]


def test_tokens_come_from_a_mounted_secret(render: Render) -> None:
    serve = serve_docs(render(*TOKENS))
    pod = serve["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert {"name": "CRONCTL_SERVE_TOKENS_FILE", "value": "/etc/cronctl/tokens"} in container["env"]
    assert {"name": "tokens", "mountPath": "/etc/cronctl", "readOnly": True} in container[
        "volumeMounts"
    ]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "tokens"]
    assert volume["secret"] == {
        "secretName": "dashboard-tokens",
        "items": [{"key": "tokens", "path": "tokens"}],
    }
    assert "secretKeyRef" not in json.dumps(serve["Deployment"])  # no token in the environment


PROXY = [
    "--set", "serve.trustedProxy[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=auth",
    "--set", "serve.trustedProxy[0].podSelector.matchLabels.app=oauth2-proxy",
]  # fmt: skip


def _selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in (selector or {}).get("matchLabels", {}).items())


def _reaches(policy: dict[str, Any], namespace: str, pod: dict[str, str]) -> bool:
    """Whether the NetworkPolicy's ingress admits a pod with these labels in `namespace`, as the
    API documents it (no `from`: every source; a peer with podSelector alone: the policy's own
    namespace; namespaceSelector and podSelector in one peer: both must match)."""
    ns_labels = {"kubernetes.io/metadata.name": namespace}
    for rule in policy["spec"]["ingress"]:
        if "from" not in rule:
            return True
        for peer in rule["from"]:
            if "ipBlock" in peer:
                continue
            in_ns = (
                _selects(peer["namespaceSelector"], ns_labels)
                if "namespaceSelector" in peer
                else namespace == policy["metadata"]["namespace"]
            )
            if in_ns and _selects(peer.get("podSelector"), pod):
                return True
    return False


def test_header_auth_is_reachable_only_from_the_trusted_proxy(render: Render) -> None:
    """Issue 23 item 3: with header auth, whoever reaches the pod names the user."""
    docs = render(*ON, "--set", "serve.auth=header", *PROXY)
    [policy] = [
        p for p in by_kind(docs, "NetworkPolicy") if p["metadata"]["name"] == f"{FULL}-serve"
    ]
    assert _reaches(policy, "auth", {"app": "oauth2-proxy"})
    assert not _reaches(policy, NAMESPACE, {"app": "oauth2-proxy"})
    assert not _reaches(policy, "auth", {"app": "grafana"})
    assert not _reaches(policy, "default", {"run": "curl"})
    [rule] = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    kubernetes_validate.validate(policy, "1.30.0", strict=True)
    # An ipBlock (a proxy outside the cluster) is a peer too; without header auth: any source.
    docs = render(
        *ON, "--set", "serve.auth=header", "--set", "serve.trustedProxy[0].ipBlock.cidr=10.1.0.0/16"
    )
    [policy] = [
        p for p in by_kind(docs, "NetworkPolicy") if p["metadata"]["name"] == f"{FULL}-serve"
    ]
    assert policy["spec"]["ingress"][0]["from"] == [{"ipBlock": {"cidr": "10.1.0.0/16"}}]
    [policy] = [
        p
        for p in by_kind(render(*TOKENS), "NetworkPolicy")
        if p["metadata"]["name"] == f"{FULL}-serve"
    ]
    assert _reaches(policy, "default", {"run": "curl"})


def test_header_auth_and_the_controller_role(render: Render) -> None:
    docs = render(
        *ON,
        *PROXY,
        "--set",
        "serve.auth=header",
        "--set",
        "serve.role=controller",
        "--set",
        "serve.userHeader=X-Auth-Request-User",
    )
    serve = serve_docs(docs)
    env = serve["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "CRONCTL_SERVE_TRUST_USER_HEADER", "value": "X-Auth-Request-User"} in env
    assert "Role" not in serve  # binds the chart's controller Role instead of the viewer one
    assert not [r for r in by_kind(docs, "Role") if r["metadata"]["name"].endswith("viewer")]
    assert serve["RoleBinding"]["roleRef"]["name"] == f"{FULL}-controller"


def test_network_policy_lets_the_dashboard_reach_the_api(render: Render) -> None:
    """With the jobs' NetworkPolicy on (it selects every pod of the release, so the dashboard's
    too), the dashboard's own policy adds ingress on its port and egress to the API server."""
    docs = render(*ON, "--set", "networkPolicy.enabled=true")
    policies = {p["metadata"]["name"]: p["spec"] for p in by_kind(docs, "NetworkPolicy")}
    pod_labels = serve_docs(docs)["Deployment"]["spec"]["template"]["metadata"]["labels"]
    for spec in policies.values():
        assert all(pod_labels.get(k) == v for k, v in spec["podSelector"]["matchLabels"].items())
    own = policies[f"{FULL}-serve"]
    assert own["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
    ports = {p["port"] for rule in own["egress"] for p in rule["ports"]}
    assert ports == {53, 443, 6443}


def test_the_dashboard_runs_from_the_jobs_image_unless_told_otherwise(render: Render) -> None:
    """The jobs image carries the web extra: serve.image.repository is optional."""
    jobs_image = ["--set", "image.repository=registry.example/cronjobs", "--set", "image.tag=1.2.3"]
    digest = "sha256:" + "a" * 64
    for extra, want, pinned in (
        ([], "registry.example/cronjobs:1.2.3", False),
        (["--set", f"image.digest={digest}"], f"registry.example/cronjobs:1.2.3@{digest}", True),
        (ON[2:], "registry.example/cronjobs-web:0.1.0", False),
        (
            [*ON[2:], "--set", f"image.digest={digest}"],
            "registry.example/cronjobs-web:0.1.0",
            False,
        ),
    ):
        deployment = serve_docs(render("--set", "serve.enabled=true", *jobs_image, *extra))[
            "Deployment"
        ]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["image"] == want
        skips = " ".join(deployment["metadata"]["annotations"].values())
        assert ("CKV_K8S_43" in skips) is not pinned, skips


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--set", "serve.enabled=true", "--set", "serve.image.tag=2.0.0"],
            "ERROR: serve.image.tag or serve.image.digest is set but serve.image.repository is empty",
        ),
        (
            [*ON, "--set", "serve.auth=tokens"],
            'ERROR: serve.auth is "tokens" but serve.tokensSecret is empty',
        ),
        (
            [*ON, "--set", "serve.role=controller"],
            'ERROR: serve.role is "controller" but serve.auth is "none"',
        ),
        (
            [*TOKENS, "--set", "serve.role=controller", "--set", "controller.rbac.create=false"],
            'ERROR: serve.role is "controller" but controller.rbac.create is false',
        ),
        (
            [*ON, "--set", "serve.role=admin"],
            "at '/serve/role': value must be one of 'viewer', 'controller'",
        ),
        (
            [*ON, "--set", "serve.auth=header"],
            "at '/serve/trustedProxy': minItems: got 0, want 1",
        ),
        (
            [*ON, "--set", "serve.auth=header", "--skip-schema-validation"],
            'ERROR: serve.auth is "header" but serve.trustedProxy is empty: the dashboard would '
            "take the user from X-Forwarded-User sent by any pod in the cluster. Set "
            "serve.trustedProxy to the NetworkPolicy peers of your auth proxy",
        ),
        (
            [*ON, "--set", "serve.auth=header", "--set", "serve.trustedProxy[0].hostNetwork=true"],
            "at '/serve/trustedProxy/0': additional properties 'hostNetwork' not allowed",
        ),
        (
            [*ON, "--set", "serve.auth=basic"],
            "at '/serve/auth': value must be one of 'none', 'tokens', 'header'",
        ),
    ],
)
def test_bad_combinations_are_refused(
    render_error: Callable[..., str], args: list[str], message: str
) -> None:
    assert message in render_error(*args)


def test_a_non_restricted_pod_is_refused_for_the_dashboard_too(
    render_error: Callable[..., str],
) -> None:
    error = render_error(*ON, "--set", "jobDefaults.securityContext.privileged=true")
    assert "jobDefaults.securityContext.privileged is true" in error


@pytest.mark.slow
def test_checkov_finds_nothing_with_the_dashboard(helm_bin: Path, tmp_path: Path) -> None:
    """The real checkov on the chart with every feature and the dashboard on (tokens auth)."""
    features = str(CHART / "ci" / "all-features-values.yaml")
    for name, args in (("defaults-image", TOKENS), ("all-features", ["-f", features, *TOKENS])):
        proc = run_helm(helm_bin, "template", RELEASE, str(CHART), "-n", NAMESPACE, *args)
        assert proc.returncode == 0, proc.stderr
        target = tmp_path / f"{name}.yaml"
        target.write_text(proc.stdout)
        report = scan(target, tmp_path)
        assert _failures(report) == [], name
        scanned = {
            c["resource"].split(".")[0]
            for r in report.values()
            for c in r["results"]["passed_checks"]
        }
        assert {"Deployment", "Service", "ServiceAccount"} <= scanned, name
