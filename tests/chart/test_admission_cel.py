"""The chart's ValidatingAdmissionPolicies, executed (issue 22 §3): their CEL runs in two real CEL
interpreters (see admission.py) against the objects they must admit and deny.

The trigger policy: the operator Role has `create jobs`, so without it the API server accepts an
operator's Job with any image, ServiceAccount and Secret. The Jobs to admit are the ones the real
tools build from the rendered CronJobs served by the API emulator (tests/cronctl): `cronctl
trigger --dry-run -o json` (with and without allowlisted arguments) and the real `kubectl create
job --from=cronjob/NAME --dry-run=client -o json`. The emulator stores objects as sent; the API
server defaults the CronJob's job template and the Job alike, so comparing them is the same here.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from admission import INTERPRETERS, Evaluate, Request, denials
from chart_helpers import CHART, RELEASE, Render, by_kind, parse_docs, run_helm

from cronjobs.cronctl import backfill
from tests.cronctl.conftest import Cluster
from tests.cronctl.emulator import EmulatorThread

SET = "--set"
OPERATORS = (
    SET, "controller.rbac.operator.subjects[0].kind=Group",
    SET, "controller.rbac.operator.subjects[0].name=oncall",
    SET, "controller.rbac.operator.subjects[1].kind=User",
    SET, "controller.rbac.operator.subjects[1].name=alice@example.com",
)  # fmt: skip
POLICY = (
    SET, "controller.rbac.admissionPolicy.enabled=true",
    *OPERATORS,
    SET, "controller.expiry.enabled=true",
    SET, "jobs.health-check.allowedTriggerArgs={--dry-run,--date=}",
    "--set-string", "jobs.cleanup-old-sessions.args={--batch-size,2000}",
    # Fewer CronJobs, fewer parameters to evaluate each policy against (cel-python is slow).
    SET, "jobs.aggregate-daily-analytics.enabled=false",
    SET, "jobs.cleanup-old-analytics.enabled=false",
)  # fmt: skip
HEALTH = f"{RELEASE}-health-check"
SESSIONS = f"{RELEASE}-cleanup-old-sessions"
EXPIRY = f"{RELEASE}-expiry"


@pytest.fixture(params=sorted(INTERPRETERS))
def evaluate(request: pytest.FixtureRequest) -> Evaluate:
    return INTERPRETERS[request.param]


def _policies(docs: list[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """{'operator'|'trigger': (policy, binding)}."""
    bindings = {
        b["spec"]["policyName"]: b for b in by_kind(docs, "ValidatingAdmissionPolicyBinding")
    }
    return {
        p["metadata"]["name"].rsplit("-", 1)[1]: (p, bindings[p["metadata"]["name"]])
        for p in by_kind(docs, "ValidatingAdmissionPolicy")
    }


@pytest.fixture(scope="module")
def installed(
    helm_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cluster, list[dict[str, Any]]]]:
    """The chart with the policy, the expiry CronJob and an allowlist, rendered for a namespace
    of an API emulator; its CronJobs stored there (with the uids the API server gives)."""
    with EmulatorThread() as server:
        path = tmp_path_factory.mktemp("admission") / "kubeconfig"
        path.write_text(yaml.safe_dump(server.kubeconfig("admission-cel")))
        cluster = Cluster(server, "admission-cel", path)
        done = run_helm(helm_bin, "template", RELEASE, str(CHART), "-n", cluster.namespace, *POLICY)
        assert done.returncode == 0, done.stderr
        docs = parse_docs(done.stdout)
        for cronjob in by_kind(docs, "CronJob"):
            server.put("batch/v1/cronjobs", cluster.namespace, cronjob)
        yield cluster, docs


def _stored(cluster: Cluster) -> list[dict[str, Any]]:
    items = cluster.server.call("GET", f"/apis/batch/v1/namespaces/{cluster.namespace}/cronjobs")
    return [{"apiVersion": "batch/v1", "kind": "CronJob", **c} for c in items["items"]]


def _cronctl_job(cluster: Cluster, name: str, *extra: str) -> dict[str, Any]:
    result = cluster.run(
        "trigger", name, "--dry-run", "-o", "json", *(("--", *extra) if extra else ())
    )
    assert result.exit_code == 0, result.stderr
    job: dict[str, Any] = json.loads(result.stdout)
    return job


def _kubectl_job(cluster: Cluster, kubectl: Path, name: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(kubectl), "--kubeconfig", str(cluster.kubeconfig), "-n", cluster.namespace,
         "create", "job", "by-kubectl", f"--from=cronjob/{name}", "--dry-run=client", "-o", "json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job: dict[str, Any] = json.loads(done.stdout)
    return job


def _create(cluster: Cluster, docs: list[dict[str, Any]], job: dict[str, Any], evaluate: Evaluate,
            user: str = "alice@example.com", groups: tuple[str, ...] = ()) -> list[str] | None:  # fmt: skip
    policy, binding = _policies(docs)["trigger"]
    request = Request("CREATE", "jobs", cluster.namespace, job, username=user,
                      groups=["system:authenticated", *groups])  # fmt: skip
    return denials(policy, binding, request, _stored(cluster), evaluate)


# -- the trigger policy: what it admits ---------------------------------------------------------


def test_trigger_policy_admits_what_cronctl_and_kubectl_build(
    installed: tuple[Cluster, list[dict[str, Any]]], kubectl_bin: Path, evaluate: Evaluate
) -> None:
    cluster, docs = installed
    for name in (HEALTH, SESSIONS, EXPIRY):
        assert _create(cluster, docs, _cronctl_job(cluster, name), evaluate) == [], name
        assert _create(cluster, docs, _kubectl_job(cluster, kubectl_bin, name), evaluate) == [], (
            name
        )
    # cronctl trigger NAME -- ARG...: the allowlisted arguments, appended ("--date X" normalised).
    job = _cronctl_job(cluster, HEALTH, "--dry-run", "--date", "2026-11-30")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][-2:] == [
        "--dry-run",
        "--date=2026-11-30",
    ]
    assert _create(cluster, docs, job, evaluate) == []
    # A member of the operator group is held to it too; the CronJob controller is not matched.
    assert _create(cluster, docs, job, evaluate, user="bob", groups=("oncall",)) == []
    rogue = copy.deepcopy(job)
    rogue["spec"]["template"]["spec"]["containers"][0]["image"] = "evil:latest"
    assert _create(cluster, docs, rogue, evaluate, user="bob", groups=("oncall",))
    controller = "system:serviceaccount:kube-system:cronjob-controller"
    assert _create(cluster, docs, rogue, evaluate, user=controller) is None


def test_trigger_policy_admits_a_backfill_run_with_its_tick(
    installed: tuple[Cluster, list[dict[str, Any]]], evaluate: Evaluate
) -> None:
    """cronctl backfill adds one pod annotation, the run's tick (jobs/cronjobs/cronctl/backfill.py)."""
    cluster, docs = installed
    tick = datetime(2026, 11, 1, 2, tzinfo=UTC)
    job = backfill.build_job(cluster.cronjob(SESSIONS), tick, "alice@example.com")
    annotations = job["spec"]["template"]["metadata"]["annotations"]
    assert annotations["cronjobs.dev/scheduled-at"] == "2026-11-01T02:00:00Z"
    assert _create(cluster, docs, job, evaluate) == []
    annotations["x"] = "y"  # anything more is still refused
    assert _create(cluster, docs, job, evaluate) == [
        "the Job's pod labels and annotations must be the CronJob's (the Job controller adds its "
        "own labels; cronctl trigger and backfill the run's tick, the cronjobs.dev/scheduled-at "
        "annotation)"
    ]


# -- the trigger policy: what it denies ---------------------------------------------------------


def _container(job: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = job["spec"]["template"]["spec"]["containers"][0]
    return container


def _other_image(job: dict[str, Any]) -> None:
    _container(job)["image"] = "attacker/tools:latest"


def _other_sa(job: dict[str, Any]) -> None:
    job["spec"]["template"]["spec"]["serviceAccountName"] = "default"


def _env_from_another_secret(job: dict[str, Any]) -> None:
    _container(job).setdefault("envFrom", []).append({"secretRef": {"name": "payments-db"}})


def _env_var_from_another_secret(job: dict[str, Any]) -> None:
    _container(job)["env"].append(
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "payments-db", "key": "url"}}}
    )


def _changed_command(job: dict[str, Any]) -> None:
    _container(job)["command"] = ["sh", "-c", "env"]


def _changed_args(job: dict[str, Any]) -> None:
    _container(job)["args"] = ["run", "os:system"]


def _args_not_allowlisted(job: dict[str, Any]) -> None:
    _container(job)["args"].append("--rules=/tmp/x")


def _allowlisted_arg_first(job: dict[str, Any]) -> None:
    _container(job)["args"].insert(0, "--dry-run")


def _sidecar(job: dict[str, Any]) -> None:
    job["spec"]["template"]["spec"]["containers"].append({"name": "x", "image": "busybox"})


def _init_container(job: dict[str, Any]) -> None:
    job["spec"]["template"]["spec"]["initContainers"] = [{"name": "x", "image": "busybox"}]


def _host_volume(job: dict[str, Any]) -> None:
    job["spec"]["template"]["spec"]["volumes"].append({"name": "h", "hostPath": {"path": "/"}})


def _token(job: dict[str, Any]) -> None:
    job["spec"]["template"]["spec"]["automountServiceAccountToken"] = True


def _pod_label(job: dict[str, Any]) -> None:
    job["spec"]["template"]["metadata"]["labels"]["role"] = "db-client"


def _pod_annotation(job: dict[str, Any]) -> None:
    job["spec"]["template"]["metadata"]["annotations"] = {"x": "y"}


def _pod_annotation_beside_the_tick(job: dict[str, Any]) -> None:
    """cronctl's tick annotation is the one the pod may add; another beside it is not."""
    annotations = job["spec"]["template"]["metadata"].setdefault("annotations", {})
    annotations.update({"cronjobs.dev/scheduled-at": "2026-12-01T01:00:00Z", "x": "y"})


def _parallel(job: dict[str, Any]) -> None:
    job["spec"]["parallelism"] = 50


def _no_deadline(job: dict[str, Any]) -> None:
    del job["spec"]["activeDeadlineSeconds"]


def _no_owner(job: dict[str, Any]) -> None:
    del job["metadata"]["ownerReferences"]


def _owner_not_controller(job: dict[str, Any]) -> None:
    job["metadata"]["ownerReferences"][0]["controller"] = False


def _owner_other_uid(job: dict[str, Any]) -> None:
    job["metadata"]["ownerReferences"][0]["uid"] = "00000000-0000-0000-0000-000000000000"


def _two_owners(job: dict[str, Any]) -> None:
    refs = job["metadata"]["ownerReferences"]
    refs.append({**refs[0], "name": SESSIONS, "controller": False})


def _owner_another_release_cronjob(job: dict[str, Any]) -> None:
    job["metadata"]["ownerReferences"][0]["name"] = "other-cronjobs-health-check"


def _owner_another_of_ours(job: dict[str, Any]) -> None:
    """The health-check's run, claiming to be a run of cleanup-old-sessions."""
    job["metadata"]["ownerReferences"][0]["name"] = SESSIONS


DENIED = [
    _other_image, _other_sa, _env_from_another_secret, _env_var_from_another_secret,
    _changed_command, _changed_args, _args_not_allowlisted, _allowlisted_arg_first, _sidecar,
    _init_container, _host_volume, _token, _pod_label, _pod_annotation,
    _pod_annotation_beside_the_tick, _parallel, _no_deadline,
    _no_owner, _owner_not_controller, _owner_other_uid, _two_owners,
    _owner_another_release_cronjob, _owner_another_of_ours,
]  # fmt: skip


@pytest.fixture(scope="module")
def health_run(installed: tuple[Cluster, list[dict[str, Any]]]) -> dict[str, Any]:
    """`cronctl trigger <release>-health-check --dry-run -o json`: the Job to change."""
    return _cronctl_job(installed[0], HEALTH)


@pytest.mark.parametrize("change", DENIED, ids=lambda f: f.__name__.strip("_"))
def test_trigger_policy_denies_any_other_job(
    installed: tuple[Cluster, list[dict[str, Any]]],
    health_run: dict[str, Any],
    evaluate: Evaluate,
    change: Any,
) -> None:
    cluster, docs = installed
    job = copy.deepcopy(health_run)
    assert _create(cluster, docs, job, evaluate) == []
    change(job)
    failed = _create(cluster, docs, job, evaluate)
    assert failed, f"{change.__name__} was admitted"


def test_trigger_policy_names_what_is_wrong(
    installed: tuple[Cluster, list[dict[str, Any]]], evaluate: Evaluate
) -> None:
    cluster, docs = installed
    job = _cronctl_job(cluster, HEALTH)
    _other_image(job)
    assert _create(cluster, docs, job, evaluate) == [
        "the Job's container must be the CronJob's (image, command, env, envFrom, volume "
        "mounts...): run it with cronctl trigger NAME"
    ]
    job = _cronctl_job(cluster, HEALTH)
    _no_owner(job)
    [message] = _create(cluster, docs, job, evaluate) or ["admitted"]
    assert message.startswith(
        "the cronctl operator Role may create only a run of one of this release's CronJobs"
    )


def test_trigger_policy_denies_every_job_when_no_cronjob_is_there(
    installed: tuple[Cluster, list[dict[str, Any]]], evaluate: Evaluate
) -> None:
    cluster, docs = installed
    job = _cronctl_job(cluster, HEALTH)
    policy, binding = _policies(docs)["trigger"]
    assert denials(policy, binding, Request("CREATE", "jobs", cluster.namespace, job), [], evaluate)


# -- the CronJob update policy, every CronJob of the release (issue 22 §3, second bullet) -------


def _update(docs: list[dict[str, Any]], namespace: str, old: dict[str, Any], new: dict[str, Any],
            evaluate: Evaluate) -> list[str] | None:  # fmt: skip
    policy, binding = _policies(docs)["operator"]
    return denials(
        policy, binding, Request("UPDATE", "cronjobs", namespace, new, old), (), evaluate
    )


def test_update_policy_holds_every_cronjob_the_release_renders(
    render: Render, evaluate: Evaluate
) -> None:
    docs = render(*POLICY, SET, "networkPolicy.enabled=true", SET, "metrics.prometheusRule.enabled=true",
                  SET, "serve.enabled=true", SET, "helmTest.enabled=true")  # fmt: skip
    cronjobs = by_kind(docs, "CronJob")
    assert EXPIRY in {c["metadata"]["name"] for c in cronjobs}
    namespace = cronjobs[0]["metadata"]["namespace"]
    for old in cronjobs:
        name = old["metadata"]["name"]
        suspended = copy.deepcopy(old)
        suspended["spec"]["suspend"] = True
        suspended["metadata"]["annotations"]["cronctl.cronjobs.dev/suspended-by"] = "alice"
        assert _update(docs, namespace, old, suspended, evaluate) == [], name
        rescheduled = copy.deepcopy(old)
        rescheduled["spec"]["schedule"] = "* * * * *"
        assert _update(docs, namespace, old, rescheduled, evaluate), name
        reimaged = copy.deepcopy(old)
        _container({"spec": reimaged["spec"]["jobTemplate"]["spec"]})["image"] = "evil:1"
        assert _update(docs, namespace, old, reimaged, evaluate), name
        widened = copy.deepcopy(old)
        widened["metadata"]["annotations"]["cronctl.cronjobs.dev/allowed-args"] = '["--rules="]'
        assert _update(docs, namespace, old, widened, evaluate), name
    # Another release's CronJob is not this policy's business.
    [other] = [
        c
        for c in by_kind(render(release="other"), "CronJob")
        if c["metadata"]["name"].endswith("health-check")
    ]
    moved = copy.deepcopy(other)
    moved["spec"]["schedule"] = "* * * * *"
    assert _update(docs, namespace, other, moved, evaluate) is None
