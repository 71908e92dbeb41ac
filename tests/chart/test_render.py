"""The chart lints, renders, and every rendered document is a valid Kubernetes object.

Real helm 4 binary; schemas from kubernetes-validate (strict: unknown fields are errors). That
library checks neither cron syntax, enum values nor time zones: the other test modules do.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from chart_helpers import CHART, CI_VALUES, by_kind, cronjobs_by_component, run_helm

from cronjobs.builtin.catalogue import JOBS
from cronjobs.cronctl.model import VALUES_SUSPEND

K8S_VERSIONS = ("1.30.0", "1.35.0")
CATALOGUE_KEYS = {job.command for job in JOBS}

# PrometheusRule is a CRD kubernetes-validate has no schema for: the part of the Prometheus
# Operator's CRD (monitoring.coreos.com/v1) the chart uses, strict.
PROMETHEUS_RULE_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["groups"],
            "properties": {
                "groups": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "rules"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "rules": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["alert", "expr"],
                                    "properties": {
                                        "alert": {"type": "string", "pattern": "^[A-Za-z_]\\w*$"},
                                        "expr": {"type": "string", "minLength": 1},
                                        "for": {
                                            "type": "string",
                                            "pattern": "^[0-9]+(ms|s|m|h|d|w|y)$",
                                        },
                                        "labels": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                        "annotations": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}

# ServiceMonitor, the same: the part the chart uses (the keeper's Service, by its labels).
SERVICE_MONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"matchNames": {"type": "array", "items": {"type": "string"}}},
                },
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["matchLabels"],
                    "properties": {
                        "matchLabels": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        }
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["port"],
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                        },
                    },
                },
            },
        },
    },
}

# What each render must contain: kind -> count (a CronJob and a PrometheusRule per built-in job).
N = len(JOBS)
EXPECTED_KINDS = {
    "defaults": {"CronJob": N, "ServiceAccount": 1, "Secret": 1, "Role": 1},
    "all-features-values": {
        "CronJob": N,
        "ServiceAccount": 1,
        "Secret": 1,
        "Role": 1,
        "RoleBinding": 1,
        "NetworkPolicy": 1,
        "PrometheusRule": N,
    },
    "existing-secret-values": {"CronJob": N},
    "custom-job-values": {"CronJob": N, "ServiceAccount": 1, "Secret": 1, "Role": 1},
    "every-values": {"CronJob": N + 1, "ServiceAccount": 1, "Secret": 1, "Role": 1},
    "keeper-values": {
        "CronJob": N,
        "ServiceAccount": 2,
        "Secret": 1,
        "Role": 2,
        "RoleBinding": 1,
        "Deployment": 1,
        "Service": 1,
        "NetworkPolicy": 1,
        "ServiceMonitor": 1,
        "PrometheusRule": N + 1,  # and the keeper's own (down, stalled)
    },
}


def test_every_ci_values_file_has_expectations() -> None:
    assert {p.stem for p in CI_VALUES} == set(EXPECTED_KINDS) - {"defaults"}


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda p: p.stem if p else "defaults")
def test_helm_lint_strict(helm_bin: Path, values: Path | None) -> None:
    args = ["lint", "--strict", str(CHART)] + (["-f", str(values)] if values else [])
    proc = run_helm(helm_bin, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout


def test_renders_have_the_expected_kinds(all_renders: dict[str, list[dict[str, Any]]]) -> None:
    for name, docs in all_renders.items():
        assert dict(Counter(doc["kind"] for doc in docs)) == EXPECTED_KINDS[name], name


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_document_is_valid_kubernetes(
    all_renders: dict[str, list[dict[str, Any]]], version: str
) -> None:
    checked = 0
    for name, docs in all_renders.items():
        for doc in docs:
            where = f"{name}: {doc['kind']}/{doc['metadata']['name']}"
            if doc["kind"] == "PrometheusRule":
                jsonschema.validate(doc, PROMETHEUS_RULE_SCHEMA)
            elif doc["kind"] == "ServiceMonitor":
                jsonschema.validate(doc, SERVICE_MONITOR_SCHEMA)
            else:
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except kubernetes_validate.ValidationError as e:
                    pytest.fail(f"{where} is not valid for Kubernetes {version}: {e.message}")
            checked += 1
    assert checked == sum(sum(kinds.values()) for kinds in EXPECTED_KINDS.values())


def test_resource_names_are_within_kubernetes_limits(
    all_renders: dict[str, list[dict[str, Any]]],
) -> None:
    for docs in all_renders.values():
        for doc in docs:
            limit = 52 if doc["kind"] == "CronJob" else 63
            assert len(doc["metadata"]["name"]) <= limit, doc["metadata"]["name"]


def test_default_cronjobs_have_safe_settings(default_docs: list[dict[str, Any]]) -> None:
    cronjobs = cronjobs_by_component(default_docs)
    assert set(cronjobs) == CATALOGUE_KEYS
    for key, cj in cronjobs.items():
        spec = cj["spec"]
        assert cj["metadata"]["name"] == f"cronjobs-{key}"
        assert spec["timeZone"] == "Etc/UTC"
        assert spec["concurrencyPolicy"] == "Forbid"
        assert "suspend" not in spec  # not rendered unless true: cronctl's survives upgrades
        assert spec["startingDeadlineSeconds"] == 300
        assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 5)
        job = spec["jobTemplate"]["spec"]
        assert job["backoffLimit"] == 2
        assert job["ttlSecondsAfterFinished"] == 604800
        assert job["template"]["spec"]["restartPolicy"] == "Never"
        # Exit 2 (config error) and 3 (skipped, lock held) fail at once; drains are ignored.
        assert job["podFailurePolicy"]["rules"] == [
            {
                "action": "FailJob",
                "onExitCodes": {"containerName": "cronjobs", "operator": "In", "values": [2, 3]},
            },
            {
                "action": "Ignore",
                "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
            },
        ]
        containers = job["template"]["spec"]["containers"]
        assert [c["name"] for c in containers] == ["cronjobs"]
        assert containers[0]["image"] == "cronjobs:0.1.0"
        # The run's one-line JSON summary outlives its logs (cronctl history reads it).
        assert containers[0]["terminationMessagePath"] == "/dev/termination-log"
        assert containers[0]["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_exit_codes_in_pod_failure_policy_match_the_entrypoint(
    default_docs: list[dict[str, Any]],
) -> None:
    from cronjobs.exitcodes import ExitCode

    for cj in by_kind(default_docs, "CronJob"):
        rule = cj["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"][0]
        assert rule["onExitCodes"]["values"] == [ExitCode.USAGE, ExitCode.SKIPPED]


def test_labels_let_cronctl_select_the_cronjobs(
    all_renders: dict[str, list[dict[str, Any]]],
) -> None:
    for docs in all_renders.values():
        for cj in by_kind(docs, "CronJob"):
            component = cj["metadata"]["labels"]["app.kubernetes.io/component"]
            for labels in (
                cj["metadata"]["labels"],
                cj["spec"]["jobTemplate"]["metadata"]["labels"],
                cj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"],
            ):
                assert labels["app.kubernetes.io/name"] == "cronjobs"
                assert labels["app.kubernetes.io/instance"] == "cronjobs"
                assert labels["app.kubernetes.io/managed-by"] == "Helm"
                assert labels["app.kubernetes.io/version"] == "0.1.0"
                assert labels["helm.sh/chart"] == "cronjobs-0.1.0"
                assert labels["app.kubernetes.io/component"] == component
            assert cj["metadata"]["name"].endswith(component)


def test_connection_settings_come_from_the_secret(
    all_renders: dict[str, list[dict[str, Any]]],
) -> None:
    expected_secret = {
        "existing-secret-values": (
            "app-connection",
            {
                "DATABASE_URL": "database-url",
                "REDIS_URL": "redis-url",
                "QDRANT_URL": "qdrant-url",
            },
        ),
    }
    default = (
        "cronjobs-connection",
        {v: v for v in ("DATABASE_URL", "REDIS_URL", "QDRANT_URL", "QDRANT_API_KEY")},
    )
    for name, docs in all_renders.items():
        secret_name, keys = expected_secret.get(name, default)
        for cj in by_kind(docs, "CronJob"):
            env = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
            assert env[0] == {"name": "CRONJOBS_LOG_FORMAT", "value": "json"}
            refs = {
                e["name"]: e["valueFrom"]["secretKeyRef"]
                for e in env
                if "valueFrom" in e and "secretKeyRef" in e["valueFrom"]
            }
            assert {k: r["key"] for k, r in refs.items()} == keys, name
            assert {r["name"] for r in refs.values()} == {secret_name}
            assert all(r["optional"] is True for r in refs.values())
        if name == "existing-secret-values":
            assert by_kind(docs, "Secret") == []


def test_chart_secret_holds_the_given_values(ci_docs: dict[str, list[dict[str, Any]]]) -> None:
    (secret,) = by_kind(ci_docs["all-features-values"], "Secret")
    assert secret["metadata"]["name"] == "cronjobs-connection"
    assert secret["stringData"]["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert set(secret["stringData"]) == {
        "DATABASE_URL",
        "REDIS_URL",
        "QDRANT_URL",
        "QDRANT_API_KEY",
    }


def test_every_is_rendered_as_cron(ci_docs: dict[str, list[dict[str, Any]]]) -> None:
    cronjobs = cronjobs_by_component(ci_docs["every-values"])
    assert cronjobs["health-check"]["spec"]["schedule"] == "*/15 * * * *"
    assert cronjobs["cleanup-redis-cache"]["spec"]["schedule"] == "0 */2 * * *"
    assert cronjobs["daily-health-check"]["spec"]["schedule"] == "0 0 * * *"
    assert cronjobs["daily-health-check"]["spec"]["timeZone"] == "UTC"


EVERY_AS_CRON = {
    "1m": "* * * * *",
    "5m": "*/5 * * * *",
    "30m": "*/30 * * * *",
    "60m": "0 * * * *",
    "1h": "0 * * * *",
    "120m": "0 */2 * * *",
    "8h": "0 */8 * * *",
    "24h": "0 0 * * *",
    "1d": "0 0 * * *",
    "7d": "0 0 * * 0",
}


def test_every_conversions(render: Any) -> None:
    """One render, one extra job per interval (jobs without a deadline of their own)."""
    args = []
    for every in EVERY_AS_CRON:
        args += ["--set", f"jobs.every-{every}.subcommand=health-check"]
        args += ["--set", f"jobs.every-{every}.every={every}"]
    cronjobs = cronjobs_by_component(render(*args, "--show-only", "templates/cronjob.yaml"))
    for every, cron in EVERY_AS_CRON.items():
        assert cronjobs[f"every-{every}"]["spec"]["schedule"] == cron, every


def test_custom_job_runs_its_subcommand(ci_docs: dict[str, list[dict[str, Any]]]) -> None:
    cronjobs = cronjobs_by_component(ci_docs["custom-job-values"])
    assert "cleanup-old-analytics" not in cronjobs  # enabled: false
    assert cronjobs["cleanup-redis-cache"]["spec"]["suspend"] is True
    extra = cronjobs["sessions-dry-run"]
    assert extra["metadata"]["name"] == "cronjobs-sessions-dry-run"
    assert extra["spec"]["schedule"] == "30 1 * * 1-5"
    container = extra["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["cleanup-old-sessions", "--dry-run", "--batch-size", "1000"]
    assert extra["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 1800


def test_set_suspend_on_one_job(render: Any) -> None:
    docs = render("--set", "jobs.health-check.suspend=true")
    cronjobs = cronjobs_by_component(docs)
    suspended = {k: cj["spec"].get("suspend") for k, cj in cronjobs.items()}
    assert suspended == {key: True if key == "health-check" else None for key in CATALOGUE_KEYS}
    marked = {k for k, cj in cronjobs.items() if cj["metadata"]["annotations"].get(VALUES_SUSPEND)}
    assert marked == {"health-check"}  # cronctl resume warns that the values own it


def test_explicit_zero_is_honoured(ci_docs: dict[str, list[dict[str, Any]]]) -> None:
    cj = cronjobs_by_component(ci_docs["all-features-values"])["cleanup-old-sessions"]
    assert cj["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
    assert cj["spec"]["jobTemplate"]["spec"]["ttlSecondsAfterFinished"] == 0
    assert cj["spec"]["concurrencyPolicy"] == "Replace"


def test_all_features_plumbing(ci_docs: dict[str, list[dict[str, Any]]]) -> None:
    docs = ci_docs["all-features-values"]
    cronjobs = cronjobs_by_component(docs)
    health = cronjobs["health-check"]
    assert health["spec"]["timeZone"] == "America/Argentina/Buenos_Aires"
    assert cronjobs["cleanup-old-sessions"]["spec"]["timeZone"] == "Europe/Berlin"
    pod = cronjobs["cleanup-old-sessions"]["spec"]["jobTemplate"]["spec"]["template"]
    assert pod["metadata"]["labels"]["tier"] == "maintenance"
    assert pod["metadata"]["labels"]["team"] == "platform"
    assert pod["metadata"]["annotations"] == {"example.com/owner": "platform"}
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "maintenance-jobs"
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert spec["priorityClassName"] == "low-priority"
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert spec["tolerations"][0]["key"] == "dedicated"
    assert "nodeAffinity" in spec["affinity"]
    assert {v["name"] for v in spec["volumes"]} == {"tmp", "ca-bundle"}
    (container,) = spec["containers"]
    assert container["image"] == (
        "registry.example.com/platform/cronjobs:0.1.0-rc1@"
        "sha256:fc2e5657807da8718c223e04bb392bf2293ae18ee1d229a1b47238d0be703e97"
    )
    assert container["imagePullPolicy"] == "Always"
    names = [e["name"] for e in container["env"]]
    assert names[-2:] == ["CRONJOBS_EXTRA", "EXTRA_FOR_SESSIONS"]  # chart-wide, then the job's
    assert container["envFrom"] == [{"configMapRef": {"name": "cronjobs-tuning", "optional": True}}]
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp", "/etc/ssl/custom"}
    health_container = health["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert health_container["resources"]["limits"] == {"memory": "128Mi"}
    assert health_container["args"] == ["health-check", "-o", "json"]


def test_network_policy_allows_only_dns_and_the_backends(
    ci_docs: dict[str, list[dict[str, Any]]],
) -> None:
    (policy,) = by_kind(ci_docs["all-features-values"], "NetworkPolicy")
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "cronjobs",
        "app.kubernetes.io/instance": "cronjobs",
    }
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == []
    ports = [sorted((p["port"], p["protocol"]) for p in rule["ports"]) for rule in spec["egress"]]
    assert ports == [
        [(53, "TCP"), (53, "UDP")],
        [(5432, "TCP")],
        [(6379, "TCP")],
        [(6333, "TCP"), (6334, "TCP")],
        [(443, "TCP")],
    ]
    assert all(rule.get("to") for rule in spec["egress"])  # every peer configured in this file
    assert spec["egress"][0]["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert spec["egress"][1]["to"][0]["podSelector"]["matchLabels"] == {"app": "postgres"}


def test_prometheus_rules_per_job(ci_docs: dict[str, list[dict[str, Any]]]) -> None:
    docs = ci_docs["all-features-values"]
    rules = {doc["metadata"]["name"]: doc for doc in by_kind(docs, "PrometheusRule")}
    assert set(rules) == {cj["metadata"]["name"] for cj in by_kind(docs, "CronJob")}
    health = rules["cronjobs-health-check"]
    assert health["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (group,) = health["spec"]["groups"]
    alerts = {rule["alert"]: rule for rule in group["rules"]}
    assert set(alerts) == {
        "CronJobLastRunFailed",
        "CronJobNoRecentSuccess",
        "CronJobSuspendedTooLong",
    }
    failed = alerts["CronJobLastRunFailed"]["expr"]
    assert 'kube_job_failed{namespace="maint", condition="true"}' in failed
    assert 'owner_kind="CronJob", owner_name="cronjobs-health-check"' in failed
    no_success = alerts["CronJobNoRecentSuccess"]["expr"]
    assert "kube_cronjob_status_last_successful_time" in no_success
    assert "> 5400" in no_success  # health-check's window: 90m
    suspended = alerts["CronJobSuspendedTooLong"]
    assert (
        suspended["expr"]
        == 'kube_cronjob_spec_suspend{namespace="maint", cronjob="cronjobs-health-check"} == 1'
    )
    assert suspended["for"] == "6h"
    for rule in group["rules"]:
        assert rule["labels"]["severity"] == "critical"
        assert rule["labels"]["cronjob"] == "cronjobs-health-check"
        assert rule["expr"].count("(") == rule["expr"].count(")")
    weekly = rules["cronjobs-cleanup-old-analytics"]["spec"]["groups"][0]["rules"][1]["expr"]
    assert "> 691200" in weekly  # 8d
    # Prometheus templating must survive Helm's: $labels is left for Prometheus to expand.
    assert "{{ $labels.job_name }}" in alerts["CronJobLastRunFailed"]["annotations"]["description"]


def test_network_policy_without_peers_limits_egress_to_the_ports(render: Any) -> None:
    docs = render(
        "--set", "networkPolicy.enabled=true", "--show-only", "templates/networkpolicy.yaml"
    )
    (policy,) = docs
    egress = policy["spec"]["egress"]
    assert len(egress) == 4  # DNS, database, Redis, Qdrant; nothing else
    assert "to" in egress[0]  # DNS: kube-dns only
    assert all("to" not in rule for rule in egress[1:])  # any destination, on these ports only
    assert [p["port"] for p in egress[1]["ports"]] == [5432]


def test_retention_rules_become_a_read_only_configmap(render: Any, tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[cleanup-old-analytics]\ntable = "events"\nage = "at"\ndays = 400\n')
    docs = render("--set-file", f"retentionRules={rules}")
    (configmap,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert configmap["data"] == {"rules.toml": rules.read_text()}
    for cj in cronjobs_by_component(docs).values():
        pod = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert {"name": "CRONJOBS_RULES", "value": "/etc/cronjobs/rules.toml"} in container["env"]
        assert {"name": "rules", "mountPath": "/etc/cronjobs", "readOnly": True} in container[
            "volumeMounts"
        ]
        assert {"name": "rules", "configMap": {"name": configmap["metadata"]["name"]}} in pod[
            "volumes"
        ]
    for doc in docs:
        kubernetes_validate.validate(doc, "1.30.0", strict=True)
    plain = render()
    assert not [d for d in plain if d["kind"] == "ConfigMap"]
    env = cronjobs_by_component(plain)["health-check"]["spec"]["jobTemplate"]["spec"]["template"][
        "spec"
    ]["containers"][0]["env"]
    assert "CRONJOBS_RULES" not in {e["name"] for e in env}
