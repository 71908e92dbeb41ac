"""The chart's part of issue 13 (operating safely): the trigger allowlist annotation, the
dead-man's-switch ping URL from a Secret, and the bad values the schema rejects."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from chart_helpers import cronjobs_by_component, granted

from cronjobs.cronctl import params
from cronjobs.cronctl.model import ALLOWED_ARGS
from cronjobs.pings import TIMEOUT_ENV, URL_ENV

SET = "--set"


def _env(cronjob: dict[str, Any]) -> dict[str, Any]:
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e for e in container["env"]}


def test_the_trigger_allowlist_is_an_annotation_cronctl_reads(render: Any) -> None:
    docs = render(SET, "jobs.cleanup-old-sessions.allowedTriggerArgs={--dry-run,--batch-size=}")

    cronjobs = cronjobs_by_component(docs)
    sessions = cronjobs["cleanup-old-sessions"]
    assert json.loads(sessions["metadata"]["annotations"][ALLOWED_ARGS]) == [
        "--dry-run",
        "--batch-size=",
    ]
    assert params.check(sessions, ("--batch-size", "500")) == ("--batch-size=500",)
    assert ALLOWED_ARGS not in cronjobs["health-check"]["metadata"]["annotations"]


def test_ping_urls_come_from_a_secret_per_job_over_the_defaults(render: Any) -> None:
    docs = render(
        SET,
        "jobDefaults.ping.timeout=3",
        SET,
        "jobs.health-check.ping.secretKey=PING_HEALTH_CHECK",
        SET,
        "jobs.cleanup-old-sessions.ping.secretKey=PING_SESSIONS",
        SET,
        "jobs.cleanup-old-sessions.ping.secretName=monitoring",
    )

    cronjobs = cronjobs_by_component(docs)
    health = _env(cronjobs["health-check"])
    assert health[URL_ENV]["valueFrom"]["secretKeyRef"] == {
        "name": "cronjobs-connection",
        "key": "PING_HEALTH_CHECK",
        "optional": True,
    }
    assert health[TIMEOUT_ENV]["value"] == "3"  # merged: the default's timeout, the job's key
    sessions = _env(cronjobs["cleanup-old-sessions"])
    assert sessions[URL_ENV]["valueFrom"]["secretKeyRef"]["name"] == "monitoring"
    assert URL_ENV not in _env(cronjobs["cleanup-redis-cache"])  # no key: no pings


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("jobs.health-check.allowedTriggerArgs={rm -rf}", "does not match pattern"),
        ("jobs.health-check.ping.timeout=0", "ping/timeout"),
        ("jobs.health-check.ping.secretKey=has space", "ping/secretKey"),
        ("jobs.health-check.ping.url=https://hc-ping.com/x", "additional properties 'url'"),
    ],
)
def test_bad_operating_values_are_rejected(
    render_error: Callable[..., str], value: str, message: str
) -> None:
    assert message in render_error(SET, value)


def _test_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    [pod] = [d for d in docs if d["kind"] == "Pod"]
    return pod


def test_helm_test_runs_health_check_with_the_jobs_settings_and_pod_spec(render: Any) -> None:
    assert [d for d in render() if d["kind"] == "Pod"] == []  # off by default
    docs = render(
        SET,
        "helmTest.enabled=true",
        SET,
        "extraEnv[0].name=HTTPS_PROXY",
        SET,
        "extraEnv[0].value=http://proxy:3128",
    )

    pod = _test_pod(docs)
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    [container] = pod["spec"]["containers"]
    assert container["args"] == ["health-check"]
    job_pod = cronjobs_by_component(docs)["health-check"]["spec"]["jobTemplate"]["spec"]["template"]
    [job_container] = job_pod["spec"]["containers"]
    ticks = {
        "CRONJOBS_CRONJOB",
        "CRONJOBS_JOB_NAME",
        "CRONJOBS_SCHEDULED_AT",
    }  # a run's, not a test's
    job_env = [e for e in job_container["env"] if e["name"] not in ticks]
    assert container["env"] == job_env  # the connection Secret and extraEnv alike
    assert container["image"] == job_container["image"]
    for key in ("securityContext", "resources", "volumeMounts"):
        assert container[key] == job_container[key], key
    for key in ("securityContext", "serviceAccountName", "automountServiceAccountToken", "volumes"):
        assert pod["spec"][key] == job_pod["spec"][key], key


def test_helm_test_pod_passes_the_restricted_profile_and_validates(render: Any) -> None:
    import kubernetes_validate
    from test_security import _restricted_violations

    on = (SET, "helmTest.enabled=true")
    pod = _test_pod(
        render(*on, SET, "connection.mode=existingSecret", SET, "connection.existingSecret=c")
    )

    assert _restricted_violations(pod) == []
    for version in ("1.30.0", "1.35.0"):
        kubernetes_validate.validate(pod, version, strict=True)
    assert pod["spec"]["containers"][0]["env"][1]["valueFrom"]["secretKeyRef"]["name"] == "c"


def test_helm_test_uses_a_health_check_job_under_another_key(render: Any) -> None:
    docs = render(
        SET,
        "helmTest.enabled=true",
        SET,
        "jobs.health-check.enabled=false",
        SET,
        "jobs.ping-deps.subcommand=health-check",
        SET,
        "jobs.ping-deps.schedule=*/5 * * * *",
        SET,
        "jobs.ping-deps.resources.limits.memory=64Mi",
    )

    pod = _test_pod(docs)
    assert pod["spec"]["containers"][0]["resources"]["limits"]["memory"] == "64Mi"


def test_helm_test_pod_has_no_checkov_finding(helm_bin: Any, tmp_path: Any) -> None:

    from chart_helpers import CHART, NAMESPACE, run_helm
    from test_checkov import scan

    rendered = run_helm(
        helm_bin,
        "template",
        "cronjobs",
        str(CHART),
        "-n",
        NAMESPACE,
        "--set",
        "helmTest.enabled=true",
    )
    assert rendered.returncode == 0, rendered.stderr
    target = tmp_path / "rendered.yaml"
    target.write_text(rendered.stdout)
    report = scan(target, tmp_path)["kubernetes"]
    failed = [
        f"{c['check_id']} {c['resource']}"
        for c in report["results"]["failed_checks"]
        if "test-health" in c["resource"]
    ]
    assert failed == []


def test_viewer_and_operator_roles_are_bound_from_values(render: Any) -> None:
    from chart_helpers import by_kind

    from cronjobs.cronctl.permissions import OPERATOR_RULES, VIEWER_RULES

    assert not [r for r in by_kind(render(), "Role") if "cronctl-" in r["metadata"]["name"]]
    docs = render(
        SET,
        "controller.rbac.viewer.subjects[0].kind=Group",
        SET,
        "controller.rbac.viewer.subjects[0].name=devs",
        SET,
        "controller.rbac.operator.subjects[0].kind=User",
        SET,
        "controller.rbac.operator.subjects[0].name=oncall@example.com",
    )

    roles = {r["metadata"]["name"]: r for r in by_kind(docs, "Role")}

    rules = granted

    def expected(table: Any) -> set[tuple[str, str, str]]:
        return {(g, res, v) for g, res, verbs in table for v in verbs}

    assert rules(roles["cronjobs-cronctl-viewer"]) == expected(VIEWER_RULES)
    assert rules(roles["cronjobs-cronctl-operator"]) == expected(OPERATOR_RULES)
    bindings = {b["metadata"]["name"]: b for b in by_kind(docs, "RoleBinding")}
    assert [s["name"] for s in bindings["cronjobs-cronctl-viewer"]["subjects"]] == [
        "devs",
        "oncall@example.com",
    ]
    assert [s["name"] for s in bindings["cronjobs-cronctl-operator"]["subjects"]] == [
        "oncall@example.com"
    ]
