"""The keeper in the chart: off by default; on, a Deployment running `cronctl keeper` on this
release's CronJobs with its own ServiceAccount and a Role of exactly what jobs/cronjobs/keeper uses, a
Service for /metrics, a NetworkPolicy, and no expiry CronJob (the keeper ends expired
suspensions); each job's `keeper:` values rendered as the policy the keeper reads back; bad
policy values refused at install time."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chart_helpers import by_kind, cronjobs_by_component, granted

from cronjobs.cronctl.permissions import KEEPER_RULES
from cronjobs.keeper import ledger, policy

SET = "--set"


def test_off_by_default(default_docs: list[dict[str, Any]]) -> None:
    assert by_kind(default_docs, "Deployment") == []
    for cj in by_kind(default_docs, "CronJob"):
        assert policy.POLICY not in (cj["metadata"].get("annotations") or {})


def test_on_it_runs_cronctl_keeper_with_its_own_least_privilege_role(
    ci_docs: dict[str, list[dict[str, Any]]],
) -> None:
    docs = ci_docs["keeper-values"]
    [deployment] = by_kind(docs, "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert container["command"] == ["cronctl"]
    args = container["args"]
    assert args[0] == "keeper"
    assert args[args.index("--selector") + 1] == (
        "app.kubernetes.io/name=cronjobs,app.kubernetes.io/instance=cronjobs"
    )
    assert args[args.index("--interval") + 1] == "20"
    assert deployment["spec"]["replicas"] == 2
    lease = args[args.index("--lease") + 1]
    role = next(r for r in by_kind(docs, "Role") if r["metadata"]["name"] == lease)
    assert granted(role) == {(g, r, v) for g, r, verbs in KEEPER_RULES for v in verbs}
    by_name = [rule for rule in role["rules"] if rule.get("resourceNames")]
    assert by_name == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": [lease], "verbs": ["get", "patch"]}
    ]  # fmt: skip
    for cj in by_kind(docs, "CronJob"):  # cronctl trigger may ask the keeper (its Lease named)
        assert cj["metadata"]["annotations"]["cronjobs.dev/keeper"] == lease
    [binding] = by_kind(docs, "RoleBinding")
    assert binding["roleRef"]["name"] == lease
    assert binding["subjects"][0]["name"] == spec["serviceAccountName"] == lease
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {p["path"] for p in (container["livenessProbe"]["httpGet"], container["readinessProbe"]["httpGet"])} == {"/healthz", "/readyz"}  # fmt: skip


def test_the_keeper_replaces_the_expiry_cronjob(render: Any) -> None:
    with_expiry = render(SET, "controller.expiry.enabled=true")
    assert any("expiry" in cj["metadata"]["name"] for cj in by_kind(with_expiry, "CronJob"))
    both = render(SET, "controller.expiry.enabled=true", SET, "keeper.enabled=true")
    assert not any("expiry" in cj["metadata"]["name"] for cj in by_kind(both, "CronJob"))


def test_a_jobs_policy_is_the_annotation_the_keeper_reads(
    ci_docs: dict[str, list[dict[str, Any]]],
) -> None:
    cj = cronjobs_by_component(ci_docs["keeper-values"])["cleanup-old-sessions"]
    read = policy.read(cj)
    assert read.problems == ()
    assert read.pause_after_failures == 3 and read.idle_runs == 5
    assert read.max_duration is not None and read.max_duration.total_seconds() == 3600
    [blackout] = read.blackouts
    assert (blackout.schedule, blackout.duration.total_seconds(), blackout.time_zone) == (
        "0 2 * * 6", 7200, "Europe/Berlin",
    )  # fmt: skip
    other = cronjobs_by_component(ci_docs["keeper-values"])["health-check"]
    assert json.loads(other["metadata"]["annotations"][policy.POLICY]) == {"slowFactor": 3}


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ("jobs.health-check.keeper.pauseAfterFailures=-1", "pauseAfterFailures"),
        ("jobs.health-check.keeper.blackouts[0].schedule=0 2 * * *", "duration"),
        ("jobs.health-check.keeper.maxDuration=soon", "maxDuration"),
        ("keeper.replicas=0", "replicas"),
        ("jobs.health-check.keeper.nap=1", "nap"),
    ],
)
def test_bad_keeper_values_are_refused(render_error: Any, values: str, says: str) -> None:
    message = render_error(SET, "keeper.enabled=true", SET, values)
    assert says in message


def test_operators_may_trigger_through_the_keeper_only(render: Any) -> None:
    """With keeper.operatorsTriggerThroughKeeper the operator Role has no `create jobs`: cronctl
    trigger then asks the keeper (tests/keeper/test_request_path.py)."""
    operator = "controller.rbac.operator.subjects[0].kind=User"
    who = "controller.rbac.operator.subjects[0].name=oncall@example.com"

    def operator_verbs(*extra: str) -> set[tuple[str, str]]:
        docs = render(SET, operator, SET, who, *extra)
        [role] = [
            r for r in by_kind(docs, "Role") if r["metadata"]["name"].endswith("-cronctl-operator")
        ]
        return {
            (res, v) for rule in role["rules"] for res in rule["resources"] for v in rule["verbs"]
        }

    assert ("jobs", "create") in operator_verbs(SET, "keeper.enabled=true")
    through = operator_verbs(
        SET, "keeper.enabled=true", SET, "keeper.operatorsTriggerThroughKeeper=true"
    )
    assert ("jobs", "create") not in through and ("cronjobs", "patch") in through
    # Without the keeper nothing would start the requested runs: the Role keeps its create.
    assert ("jobs", "create") in operator_verbs(SET, "keeper.operatorsTriggerThroughKeeper=true")


def test_the_viewer_may_read_the_ledger_of_every_cronjob_the_keeper_keeps(render: Any) -> None:
    """A job with several `schedules` renders several CronJobs, each with a ledger of its own
    (named by cronjobs.keeper.ledger): the viewer Role names exactly those, and nothing else,
    so `cronctl history` reads every one of them; a disabled job has neither."""
    docs = render(
        SET, "keeper.enabled=true",
        SET, "controller.rbac.viewer.subjects[0].kind=User",
        SET, "controller.rbac.viewer.subjects[0].name=ana@example.com",
        SET, "jobs.cleanup-old-sessions.schedules={0 2 * * *,30 14 * * 1-5,0 23 * * 0}",
        SET, "jobs.health-check.enabled=false",
    )  # fmt: skip
    [deployment] = by_kind(docs, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    selector = dict(term.split("=") for term in args[args.index("--selector") + 1].split(","))
    kept = [
        cj["metadata"]["name"]
        for cj in by_kind(docs, "CronJob")
        if selector.items() <= cj["metadata"]["labels"].items()
    ]
    assert sum(name.startswith("cronjobs-cleanup-old-sessions") for name in kept) == 3
    [viewer] = [
        r for r in by_kind(docs, "Role") if r["metadata"]["name"].endswith("-cronctl-viewer")
    ]
    [rule] = [rule for rule in viewer["rules"] if rule.get("resources") == ["configmaps"]]
    assert sorted(rule["resourceNames"]) == sorted(ledger.configmap_name(n) for n in kept)
    assert rule["verbs"] == ["get"]
