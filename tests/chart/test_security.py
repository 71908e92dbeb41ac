"""Security defaults: the pods pass the "restricted" Pod Security Standard; RBAC is exact.

The restricted profile's rules are checked on every pod template of every render (the rules as
the Pod Security admission controller applies them, for the fields our pods use).
"""

from __future__ import annotations

from typing import Any

import pytest
from chart_helpers import by_kind

from cronjobs.cronctl.permissions import REMOVE_RULES, RULES


def _restricted_violations(pod: dict[str, Any]) -> list[str]:
    spec = pod["spec"]
    psc = spec.get("securityContext", {})
    problems = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            problems.append(key)
    for volume in spec.get("volumes", []):
        allowed = {
            "name",
            "configMap",
            "csi",
            "downwardAPI",
            "emptyDir",
            "ephemeral",
            "persistentVolumeClaim",
            "projected",
            "secret",
        }
        if set(volume) - allowed:
            problems.append(f"volume {volume['name']}: {set(volume) - allowed}")
    if psc.get("seccompProfile", {}).get("type") not in ("RuntimeDefault", "Localhost"):
        problems.append("pod seccompProfile")
    for c in spec.get("initContainers", []) + spec["containers"]:
        sc = c.get("securityContext", {})
        name = c["name"]
        if sc.get("privileged"):
            problems.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation must be false")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{name}: must drop ALL capabilities")
        if set(sc.get("capabilities", {}).get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities")
        if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
            problems.append(f"{name}: runAsNonRoot")
        if sc.get("runAsUser", psc.get("runAsUser")) in (0, None):
            problems.append(f"{name}: needs a numeric non-zero runAsUser")
        if sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type") not in (
            "RuntimeDefault",
            "Localhost",
        ):
            problems.append(f"{name}: seccompProfile")
        if c.get("ports") and any(p.get("hostPort") for p in c["ports"]):
            problems.append(f"{name}: hostPort")
    return problems


def test_every_pod_passes_the_restricted_profile(
    all_renders: dict[str, list[dict[str, Any]]],
) -> None:
    pods = 0
    for name, docs in all_renders.items():
        for cj in by_kind(docs, "CronJob"):
            pod = cj["spec"]["jobTemplate"]["spec"]["template"]
            assert _restricted_violations(pod) == [], f"{name}: {cj['metadata']['name']}"
            pods += 1
        for deployment in by_kind(docs, "Deployment"):  # the keeper's
            pod = deployment["spec"]["template"]
            assert _restricted_violations(pod) == [], f"{name}: {deployment['metadata']['name']}"
            pods += 1
    assert pods == 32


def test_restricted_check_catches_a_weakened_pod(render: Any) -> None:
    """The check above can fail: a job that re-enables privilege escalation is flagged (rendered
    with the opt-out, as the chart rejects it otherwise: test_pod_security.py)."""
    docs = render(
        "--set",
        "jobs.health-check.securityContext.allowPrivilegeEscalation=true",
        "--set",
        "podSecurity.allowNonRestricted=true",
    )
    (cj,) = [
        d for d in by_kind(docs, "CronJob") if d["metadata"]["name"] == "cronjobs-health-check"
    ]
    # A per-job securityContext is merged into the default: only the rule it breaks is flagged.
    problems = _restricted_violations(cj["spec"]["jobTemplate"]["spec"]["template"])
    assert problems == ["cronjobs: allowPrivilegeEscalation must be false"]


def _health_check_pod(render: Any, *sets: str) -> dict[str, Any]:
    args = [arg for s in sets for arg in ("--set", s)]
    docs = render(*args, "--show-only", "templates/cronjob.yaml")
    (cj,) = [
        d for d in by_kind(docs, "CronJob") if d["metadata"]["name"] == "cronjobs-health-check"
    ]
    return cj["spec"]["jobTemplate"]["spec"]["template"]


def test_a_one_key_override_keeps_the_hardened_defaults(render: Any) -> None:
    """`--set` of one security key merges: the pod still passes the restricted profile."""
    pod = _health_check_pod(
        render,
        "jobs.health-check.securityContext.runAsUser=2000",
        "jobs.health-check.podSecurityContext.fsGroup=3000",
    )
    assert _restricted_violations(pod) == []
    (c,) = pod["spec"]["containers"]
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 2000,
        "runAsGroup": 10001,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["spec"]["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 3000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def test_an_explicit_false_in_a_job_is_honoured(render: Any) -> None:
    """A merge must not treat false as unset: the job's readOnlyRootFilesystem=false wins."""
    pod = _health_check_pod(
        render, "jobs.health-check.securityContext.readOnlyRootFilesystem=false"
    )
    (c,) = pod["spec"]["containers"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_a_jobs_capability_list_replaces_the_default_list(render: Any) -> None:
    """Lists are not merged: a job that drops only NET_RAW no longer drops ALL (and is flagged;
    rendered with the opt-out, as the chart rejects it otherwise)."""
    pod = _health_check_pod(
        render,
        "podSecurity.allowNonRestricted=true",
        "jobs.health-check.securityContext.capabilities.drop={NET_RAW}",
        "jobs.health-check.securityContext.capabilities.add={NET_BIND_SERVICE}",
    )
    (c,) = pod["spec"]["containers"]
    assert c["securityContext"]["capabilities"] == {
        "drop": ["NET_RAW"],
        "add": ["NET_BIND_SERVICE"],
    }
    assert _restricted_violations(pod) == ["cronjobs: must drop ALL capabilities"]


def test_pods_are_hardened_beyond_the_profile(all_renders: dict[str, list[dict[str, Any]]]) -> None:
    for docs in all_renders.values():
        for cj in by_kind(docs, "CronJob"):
            pod = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            assert pod["automountServiceAccountToken"] is False
            (c,) = pod["containers"]
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            assert c["securityContext"]["runAsUser"] == 10001
            assert pod["securityContext"]["runAsGroup"] == 10001
            tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
            assert "emptyDir" in tmp
            assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
            assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    for docs in all_renders.values():
        for sa in by_kind(docs, "ServiceAccount"):
            assert sa["automountServiceAccountToken"] is False


def _rules(role: dict[str, Any]) -> set[tuple[str, str, tuple[str, ...]]]:
    out = set()
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, "no resourceNames, no extras"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.add((group, resource, tuple(sorted(rule["verbs"]))))
    return out


def _expected(
    *rule_sets: tuple[tuple[str, str, tuple[str, ...]], ...],
) -> set[tuple[str, str, tuple[str, ...]]]:
    merged: dict[tuple[str, str], set[str]] = {}
    for rules in rule_sets:
        for group, resource, verbs in rules:
            merged.setdefault((group, resource), set()).update(verbs)
    return {(g, r, tuple(sorted(v))) for (g, r), v in merged.items()}


def test_controller_role_grants_exactly_what_cronctl_uses(
    default_docs: list[dict[str, Any]],
) -> None:
    (role,) = by_kind(default_docs, "Role")
    assert role["metadata"]["name"] == "cronjobs-controller"
    assert _rules(role) == _expected(RULES)
    assert by_kind(default_docs, "RoleBinding") == []  # no subjects given


def test_allow_remove_adds_only_delete_on_cronjobs(
    ci_docs: dict[str, list[dict[str, Any]]],
) -> None:
    docs = ci_docs["all-features-values"]
    (role,) = by_kind(docs, "Role")
    assert _rules(role) == _expected(RULES, REMOVE_RULES)
    (binding,) = by_kind(docs, "RoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "cronjobs-controller",
    }
    assert [s["name"] for s in binding["subjects"]] == ["platform-oncall", "cronctl"]


@pytest.mark.parametrize("verb", ["watch", "update", "deletecollection", "*"])
def test_role_has_no_broader_verbs(default_docs: list[dict[str, Any]], verb: str) -> None:
    (role,) = by_kind(default_docs, "Role")
    assert all(verb not in rule["verbs"] for rule in role["rules"])


def test_rbac_can_be_left_out(ci_docs: dict[str, list[dict[str, Any]]]) -> None:
    assert by_kind(ci_docs["existing-secret-values"], "Role") == []
