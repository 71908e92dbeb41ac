"""The chart's opt-in controls around cronctl (issue 13, items 1 and 7): the expiry CronJob that
runs `cronctl resume --expired --yes` in-cluster with its own minimal Role; the
ValidatingAdmissionPolicy that holds the operator Role to `spec.suspend` and cronctl's
annotations; and the one viewer Role shared by people and the dashboard. Rendered by the real
helm, validated by kubernetes-validate (strict) and scanned by the real checkov.

No API server can run here: these tests check the schema and what the expressions refer to (the
operator subjects from values, every CronJob spec field of the API's schema but `suspend`,
cronctl's annotation prefix); test_admission_cel.py runs the CEL in real interpreters."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
from chart_helpers import (
    CHART,
    NAMESPACE,
    RELEASE,
    Render,
    by_kind,
    cronjobs_by_component,
    granted,
    run_helm,
)
from test_checkov import _failures, scan
from test_security import _restricted_violations

from cronjobs.cronctl.controller import DEFAULT_SELECTOR
from cronjobs.cronctl.model import PREFIX
from cronjobs.cronctl.permissions import EXPIRY_RULES

SET = "--set"
EXPIRY = (SET, "controller.expiry.enabled=true")
OPERATORS = (
    SET, "controller.rbac.operator.subjects[0].kind=Group",
    SET, "controller.rbac.operator.subjects[0].name=oncall",
    SET, "controller.rbac.operator.subjects[1].kind=User",
    SET, "controller.rbac.operator.subjects[1].name=alice@example.com",
    SET, "controller.rbac.operator.subjects[2].kind=ServiceAccount",
    SET, "controller.rbac.operator.subjects[2].name=chatops",
    SET, "controller.rbac.operator.subjects[2].namespace=bots",
)  # fmt: skip
POLICY = (SET, "controller.rbac.admissionPolicy.enabled=true", *OPERATORS)
VERSIONS = ("1.30.0", "1.35.0")


def _expiry(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        d["kind"]: d
        for d in docs
        if (d["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == "expiry"
    }


def _matches(selector: str, labels: dict[str, str]) -> bool:
    """An equality-only label selector (`k=v,k=v`), as cronctl's -l passes it."""
    return all(labels.get(k) == v for k, v in (t.split("=", 1) for t in selector.split(",")))


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector of matchLabels and `In` expressions, as the policy's binding has."""
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()) and all(
        e["operator"] == "In" and labels.get(e["key"]) in e["values"]
        for e in selector.get("matchExpressions", [])
    )


_rules = granted


# -- the expiry CronJob -------------------------------------------------------------------------


def test_expiry_is_off_by_default(default_docs: list[dict[str, Any]]) -> None:
    assert _expiry(default_docs) == {}
    assert not [d for d in default_docs if "expiry" in d["metadata"]["name"]]


def test_expiry_cronjob_runs_resume_expired_for_this_release_only(render: Render) -> None:
    docs = render(*EXPIRY)
    expiry = _expiry(docs)

    assert set(expiry) == {"CronJob", "ServiceAccount", "Role", "RoleBinding"}
    cronjob = expiry["CronJob"]
    assert cronjob["metadata"]["name"] == f"{RELEASE}-expiry"
    assert cronjob["spec"]["schedule"] == "*/15 * * * *"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"] == ["cronctl"]
    selector = "app.kubernetes.io/name=cronjobs,app.kubernetes.io/instance=cronjobs"
    assert container["args"] == ["resume", "--expired", "--yes", "-l", selector]
    # The jobs' image (it carries cronctl), and no kubeconfig: cronctl loads the pod's config.
    jobs = {k: cj for k, cj in cronjobs_by_component(docs).items() if k != "expiry"}
    assert set(jobs) >= {"health-check", "cleanup-old-sessions"}
    job_pod = jobs["health-check"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert container["image"] == job_pod["containers"][0]["image"]
    assert not any(e["name"] == "KUBECONFIG" for e in container.get("env", []))
    # Its selector takes every job CronJob of this release, and not another release's.
    for job in jobs.values():
        assert _matches(selector, job["metadata"]["labels"]), job["metadata"]["name"]
    other = cronjobs_by_component(render(release="other"))["health-check"]
    assert not _matches(selector, other["metadata"]["labels"])
    # Neither its selector, nor cronctl's default, nor the jobs' NetworkPolicy selects the
    # expiry CronJob itself: `cronctl suspend --all` cannot stop what ends suspensions.
    for sel in (selector, DEFAULT_SELECTOR):
        assert not _matches(sel, cronjob["metadata"]["labels"])
        assert not _matches(sel, cronjob["spec"]["jobTemplate"]["metadata"]["labels"])


def test_expiry_has_its_own_account_and_exactly_the_role_resume_expired_uses(
    render: Render,
) -> None:
    expiry = _expiry(render(*EXPIRY))
    name = f"{RELEASE}-expiry"
    pod = expiry["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]

    assert pod["serviceAccountName"] == name and pod["automountServiceAccountToken"] is True
    assert expiry["ServiceAccount"]["metadata"]["name"] == name
    assert expiry["ServiceAccount"]["automountServiceAccountToken"] is False
    # tests/cronctl/test_expiry_job.py proves resume --expired needs exactly EXPIRY_RULES.
    assert _rules(expiry["Role"]) == {(g, r, v) for g, r, verbs in EXPIRY_RULES for v in verbs}
    binding = expiry["RoleBinding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": name,
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}]


def test_expiry_pod_is_hardened_like_the_jobs_and_valid(render: Render) -> None:
    docs = render(*EXPIRY, SET, "networkPolicy.enabled=true")
    expiry = _expiry(docs)
    cronjob = expiry["CronJob"]
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]
    job_pod = cronjobs_by_component(docs)["health-check"]["spec"]["jobTemplate"]["spec"]["template"]

    assert _restricted_violations(pod) == []
    assert pod["spec"]["securityContext"] == job_pod["spec"]["securityContext"]
    container, job_container = pod["spec"]["containers"][0], job_pod["spec"]["containers"][0]
    assert container["securityContext"] == job_container["securityContext"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["resources"]["limits"]["memory"] == "128Mi"
    for doc in expiry.values():
        for version in VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)
    # With the jobs' NetworkPolicy on, its own lets it reach DNS and the API server only.
    egress = expiry["NetworkPolicy"]["spec"]["egress"]
    assert {"port": 443, "protocol": "TCP"} in egress[-1]["ports"]
    assert expiry["NetworkPolicy"]["spec"]["ingress"] == []
    assert _matches(
        ",".join(
            f"{k}={v}"
            for k, v in expiry["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"].items()
        ),
        pod["metadata"]["labels"],
    )


def test_expiry_schedule_and_pod_security_are_checked(
    render_error: Callable[..., str], render: Render
) -> None:
    bad = render_error(*EXPIRY, SET, "controller.expiry.schedule=every 15 minutes")
    assert "controller.expiry.schedule" in bad
    hourly = render(*EXPIRY, SET, "controller.expiry.schedule=@hourly")
    assert _expiry(hourly)["CronJob"]["spec"]["schedule"] == "@hourly"
    root = render_error(
        *EXPIRY,
        SET,
        "jobDefaults.securityContext.runAsUser=0",
        SET,
        "jobs.health-check.enabled=false",
    )
    assert "jobDefaults.securityContext.runAsUser is 0 (root)" in root


# -- the one viewer Role ------------------------------------------------------------------------


def test_the_dashboard_and_people_share_one_viewer_role(render: Render) -> None:
    docs = render(
        SET, "serve.enabled=true",
        SET, "serve.image.repository=registry.example/cronjobs-web",
        SET, "controller.rbac.viewer.subjects[0].kind=Group",
        SET, "controller.rbac.viewer.subjects[0].name=devs",
    )  # fmt: skip

    viewers = [r for r in by_kind(docs, "Role") if "viewer" in r["metadata"]["name"]]
    assert [r["metadata"]["name"] for r in viewers] == [f"{RELEASE}-cronctl-viewer"]
    bindings = {b["metadata"]["name"]: b for b in by_kind(docs, "RoleBinding")}
    assert bindings[f"{RELEASE}-serve"]["roleRef"]["name"] == f"{RELEASE}-cronctl-viewer"
    assert bindings[f"{RELEASE}-cronctl-viewer"]["roleRef"]["name"] == f"{RELEASE}-cronctl-viewer"
    assert [s["name"] for s in bindings[f"{RELEASE}-cronctl-viewer"]["subjects"]] == ["devs"]
    # The dashboard alone: the Role, and no binding for people.
    alone = render(SET, "serve.enabled=true", SET, "serve.image.repository=x")
    assert [
        r["metadata"]["name"] for r in by_kind(alone, "Role") if "viewer" in r["metadata"]["name"]
    ] == [f"{RELEASE}-cronctl-viewer"]
    assert f"{RELEASE}-cronctl-viewer" not in {
        b["metadata"]["name"] for b in by_kind(alone, "RoleBinding")
    }


# -- the ValidatingAdmissionPolicy --------------------------------------------------------------


def _policy(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The CronJob update policy and its binding (the trigger policy: test_admission_cel.py)."""
    [policy] = [
        p
        for p in by_kind(docs, "ValidatingAdmissionPolicy")
        if p["metadata"]["name"].endswith("-cronctl-operator")
    ]
    [binding] = [
        b
        for b in by_kind(docs, "ValidatingAdmissionPolicyBinding")
        if b["spec"]["policyName"] == policy["metadata"]["name"]
    ]
    return policy, binding


def _cronjob_spec_fields(version: str) -> set[str]:
    """The properties of batch/v1 CronJobSpec in kubernetes-validate's bundled schema."""
    folder = (
        Path(kubernetes_validate.__file__).parent
        / "kubernetes-json-schema"
        / f"v{version}-local-strict"
    )
    schema = json.loads((folder / "cronjobspec-batch-v1.json").read_text())
    return set(schema["properties"])


def test_policy_is_off_by_default_and_needs_operators(
    default_docs: list[dict[str, Any]], render_error: Callable[..., str]
) -> None:
    assert not by_kind(default_docs, "ValidatingAdmissionPolicy")
    assert not by_kind(default_docs, "ValidatingAdmissionPolicyBinding")
    message = render_error(SET, "controller.rbac.admissionPolicy.enabled=true")
    assert (
        "ERROR: controller.rbac.admissionPolicy.enabled is true but controller.rbac.operator.subjects is empty"
        in message
    )


def test_policy_and_binding_are_schema_valid(render: Render) -> None:
    docs = render(*POLICY, *EXPIRY)
    policies = by_kind(docs, "ValidatingAdmissionPolicy") + by_kind(
        docs, "ValidatingAdmissionPolicyBinding"
    )
    assert len(policies) == 4  # the CronJob update policy, the trigger policy, their bindings
    for doc in policies:
        for version in VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_policy_matches_the_operator_subjects_and_this_releases_cronjobs(render: Render) -> None:
    docs = render(*POLICY)
    policy, binding = _policy(docs)

    [rule] = policy["spec"]["matchConstraints"]["resourceRules"]
    assert (rule["apiGroups"], rule["resources"], rule["operations"]) == (
        ["batch"],
        ["cronjobs"],
        ["UPDATE"],
    )
    [condition] = policy["spec"]["matchConditions"]
    users, groups = re.findall(r"\[[^\]]*\]", condition["expression"])
    assert json.loads(users) == ["alice@example.com", "system:serviceaccount:bots:chatops"]
    assert json.loads(groups) == ["oncall"]
    assert "request.userInfo.username in" in condition["expression"]
    assert "request.userInfo.groups.exists(" in condition["expression"]
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    match = binding["spec"]["matchResources"]
    assert match["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": NAMESPACE}
    selector = match["objectSelector"]
    for job in by_kind(render(*POLICY, *EXPIRY), "CronJob"):
        assert _selects(selector, job["metadata"]["labels"]), job["metadata"]["name"]
    assert not _selects(
        selector,
        cronjobs_by_component(render(release="other"))["health-check"]["metadata"]["labels"],
    )
    # Cluster-scoped: one per release and namespace.
    assert "namespace" not in policy["metadata"]
    assert policy["metadata"]["name"] == f"{RELEASE}-{NAMESPACE}-cronctl-operator"


def test_policy_compares_everything_but_suspend_and_cronctls_annotations(render: Render) -> None:
    policy, _ = _policy(render(*POLICY))
    expressions = [v["expression"] for v in policy["spec"]["validations"]]
    spec_rule, meta_rule, annotation_rule = expressions

    compared = set(re.findall(r"object\.spec\.(\w+) == oldObject\.spec\.(\w+)", spec_rule))
    assert all(a == b for a, b in compared)
    for version in ("1.30.0", "1.35.0", "1.37.0"):
        assert {a for a, _ in compared} == _cronjob_spec_fields(version) - {"suspend"}, version
    assert "suspend" not in " ".join(expressions)
    for field in ("labels", "finalizers", "ownerReferences"):
        assert f"object.metadata.{field} == oldObject.metadata.{field}" in meta_rule
    [prefix] = [v["expression"] for v in policy["spec"]["variables"] if v["name"] == "prefix"]
    assert prefix == f"'{PREFIX}'"
    # Annotations: a new or changed one must carry the prefix, and so must a removed one.
    # (test_admission_cel.py runs these expressions in a CEL interpreter.)
    exempt = "(k.startsWith(variables.prefix) && k != variables.allowedArgs) ||"
    assert f"object.metadata.annotations.all(k, {exempt}" in annotation_rule
    assert f"oldObject.metadata.annotations.all(k, {exempt}" in annotation_rule
    assert all(v["reason"] == "Forbidden" and v["message"] for v in policy["spec"]["validations"])


def test_policy_refuses_a_subject_kind_rbac_does_not_know(render_error: Callable[..., str]) -> None:
    message = render_error(
        SET, "controller.rbac.admissionPolicy.enabled=true",
        SET, "controller.rbac.operator.subjects[0].kind=Team",
        SET, "controller.rbac.operator.subjects[0].name=x",
    )  # fmt: skip
    assert 'kind "Team" is not an RBAC subject kind' in message


# -- checkov ------------------------------------------------------------------------------------


def test_checkov_finds_nothing_with_expiry_and_policy_on(helm_bin: Path, tmp_path: Path) -> None:
    args = (*EXPIRY, *POLICY, SET, "networkPolicy.enabled=true")
    rendered = run_helm(helm_bin, "template", RELEASE, str(CHART), "-n", NAMESPACE, *args)
    assert rendered.returncode == 0, rendered.stderr
    target = tmp_path / "rendered.yaml"
    target.write_text(rendered.stdout)

    report = scan(target, tmp_path)["kubernetes"]
    assert _failures({"kubernetes": report}) == []
    scanned = {c["resource"] for c in report["results"]["passed_checks"]}
    assert f"CronJob.{NAMESPACE}.{RELEASE}-expiry" in scanned
    for check in report["results"]["skipped_checks"]:
        if "expiry" in check["resource"]:
            assert len(check["check_result"]["suppress_comment"]) > 20
