"""Deploy-safe cron around `helm upgrade` (issue 22 §2): with `upgradeHooks.quiesce.enabled`, a
pre-upgrade hook Job suspends the release's CronJobs as one maintenance run and waits (bounded)
for their running Jobs; a post-upgrade hook Job resumes exactly what that run suspended. Rendered
by the real helm; the hooks' own commands then run (cronctl in-process) against the rendered
CronJobs served by the API emulator, with every permission outside the hooks' Role denied."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from chart_helpers import CHART, NAMESPACE, RELEASE, Render, by_kind, parse_docs, run_helm
from test_checkov import _failures, scan
from test_security import _restricted_violations

from cronjobs.cronctl.model import MAINTENANCE
from tests.cronctl.conftest import Cluster, job_body
from tests.cronctl.emulator import EmulatorThread

SET = "--set"
ON = (SET, "upgradeHooks.quiesce.enabled=true", SET, "upgradeHooks.quiesce.timeout=300")
HOOK_ANNOTATION = "helm.sh/hook"


def _hooks(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        f"{d['kind']}/{d['metadata']['annotations'][HOOK_ANNOTATION]}": d
        for d in docs
        if HOOK_ANNOTATION in (d["metadata"].get("annotations") or {})
        and d["metadata"]["labels"].get("app.kubernetes.io/component") == "upgrade-hook"
    }


def _args(job: dict[str, Any]) -> list[str]:
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["cronctl"]
    return list(container["args"])


def test_off_by_default(default_docs: list[dict[str, Any]]) -> None:
    assert _hooks(default_docs) == {}


def test_pre_upgrade_suspends_and_waits_post_upgrade_resumes_that_run(render: Render) -> None:
    docs = render(*ON, "--set", "networkPolicy.enabled=true")
    hooks = _hooks(docs)
    assert set(hooks) == {
        "ServiceAccount/pre-upgrade,post-upgrade",
        "Role/pre-upgrade,post-upgrade",
        "RoleBinding/pre-upgrade,post-upgrade",
        "NetworkPolicy/pre-upgrade,post-upgrade",
        "Job/pre-upgrade",
        "Job/post-upgrade",
    }
    selector = f"app.kubernetes.io/name=cronjobs,app.kubernetes.io/instance={RELEASE}"
    reason = f"helm upgrade {RELEASE} to revision 1"
    pre, post = hooks["Job/pre-upgrade"], hooks["Job/post-upgrade"]
    assert _args(pre) == ["suspend", "--all", "-l", selector, "--reason", reason, "--wait",
                          "--timeout", "300", "--yes"]  # fmt: skip
    assert _args(post) == [
        "resume",
        "--maintenance",
        reason,
        "--missing-ok",
        "--yes",
        "-l",
        selector,
    ]
    # The Job outlives the wait (so cronctl, not Kubernetes, reports the timeout), and fails once.
    assert pre["spec"]["activeDeadlineSeconds"] > 300 and pre["spec"]["backoffLimit"] == 0
    for doc in hooks.values():
        policy = doc["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
        assert policy == "before-hook-creation,hook-succeeded"
    # The Role, ServiceAccount and binding exist before the Jobs run (lower weight).
    assert int(
        hooks["Role/pre-upgrade,post-upgrade"]["metadata"]["annotations"]["helm.sh/hook-weight"]
    ) < int(pre["metadata"]["annotations"]["helm.sh/hook-weight"])
    role = hooks["Role/pre-upgrade,post-upgrade"]
    assert {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
            for v in rule["verbs"]} == {
        ("batch", "cronjobs", "get"), ("batch", "cronjobs", "list"), ("batch", "cronjobs", "patch"),
        ("batch", "jobs", "list"),
    }  # fmt: skip
    binding = hooks["RoleBinding/pre-upgrade,post-upgrade"]
    assert binding["subjects"][0]["name"] == pre["spec"]["template"]["spec"]["serviceAccountName"]
    for job in (pre, post):
        assert _restricted_violations(job["spec"]["template"]) == []
    # The jobs' selector and NetworkPolicy do not take the hook pods for jobs.
    labels = pre["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "cronjobs-cronctl"
    for doc in hooks.values():
        for version in ("1.27.0", "1.30.0", "1.35.0"):
            kubernetes_validate.validate(doc, version, strict=True)


def test_checkov_finds_nothing_in_the_hooks(helm_bin: Path, tmp_path: Path) -> None:
    rendered = run_helm(helm_bin, "template", RELEASE, str(CHART), "-n", NAMESPACE, *ON,
                        SET, "networkPolicy.enabled=true", "--show-only", "templates/upgrade-hooks.yaml")  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    target = tmp_path / "hooks.yaml"
    target.write_text(rendered.stdout)
    report = scan(target, tmp_path)["kubernetes"]
    assert _failures({"kubernetes": report}) == []
    assert report["results"]["passed_checks"]


# -- the hooks' commands, run against the emulator ----------------------------------------------

# What cronctl could use that the hooks' Role does not grant: denied while the hooks run.
NOT_GRANTED = [("create", "batch/jobs"), ("get", "batch/jobs"), ("patch", "batch/cronjobs/status"),
               ("list", "/pods"), ("get", "/pods"), ("list", "/events"), ("delete", "batch/cronjobs")]  # fmt: skip


@pytest.fixture
def upgraded(helm_bin: Path, tmp_path: Path) -> Iterator[tuple[Cluster, list[dict[str, Any]]]]:
    with EmulatorThread() as server:
        path = tmp_path / "kubeconfig"
        path.write_text(yaml.safe_dump(server.kubeconfig("hooks")))
        cluster = Cluster(server, "hooks", path)
        done = run_helm(helm_bin, "template", RELEASE, str(CHART), "-n", "hooks", *ON,
                        SET, "controller.expiry.enabled=true")  # fmt: skip
        assert done.returncode == 0, done.stderr
        docs = parse_docs(done.stdout)
        for cronjob in by_kind(docs, "CronJob"):
            if cronjob["metadata"]["name"].endswith("-cleanup-old-analytics"):
                cronjob["spec"]["suspend"] = True  # suspended by someone before the upgrade
            server.put("batch/v1/cronjobs", "hooks", cronjob)
        with ExitStack() as stack:
            for verb, resource in NOT_GRANTED:
                stack.enter_context(server.emulator.deny(verb, resource))
            yield cluster, docs


def _suspended(cluster: Cluster) -> dict[str, bool]:
    items = cluster.server.call("GET", "/apis/batch/v1/namespaces/hooks/cronjobs")["items"]
    return {c["metadata"]["name"]: bool(c["spec"].get("suspend")) for c in items}


def test_hooks_quiesce_and_resume_exactly_what_they_suspended(
    upgraded: tuple[Cluster, list[dict[str, Any]]],
) -> None:
    cluster, docs = upgraded
    hooks = _hooks(docs)
    before = _suspended(cluster)

    pre = cluster.run(*_args(hooks["Job/pre-upgrade"]))
    assert pre.exit_code == 0, pre.stderr
    during = _suspended(cluster)
    jobs = {n for n in during if not n.endswith("-expiry")}
    assert all(during[n] for n in jobs)
    assert during[f"{RELEASE}-expiry"] is False  # the expiry CronJob is not one of the jobs

    post = cluster.run(*_args(hooks["Job/post-upgrade"]))
    assert post.exit_code == 0, post.stderr
    assert _suspended(cluster) == before  # cleanup-old-analytics stays suspended

    # A second upgrade's post hook finds nothing of its run: nothing to do, exit 0.
    again = cluster.run(*_args(hooks["Job/post-upgrade"]))
    assert again.exit_code == 0, again.stderr


def test_a_running_job_past_the_timeout_fails_the_hook_and_resume_maintenance_undoes_it(
    upgraded: tuple[Cluster, list[dict[str, Any]]],
) -> None:
    cluster, docs = upgraded
    before = _suspended(cluster)
    sessions = cluster.cronjob(f"{RELEASE}-cleanup-old-sessions")
    job = job_body(sessions, f"{RELEASE}-cleanup-old-sessions-29000000", "Running")
    job["status"] = {"startTime": job["status"]["startTime"], "active": 1}
    cluster.server.put("batch/v1/jobs", "hooks", job)
    args = _args(_hooks(docs)["Job/pre-upgrade"])
    args[args.index("--timeout") + 1] = "0"

    pre = cluster.run(*args)

    assert pre.exit_code == 5, pre.stderr
    assert f"hooks/{RELEASE}-cleanup-old-sessions-29000000" in pre.stderr
    assert cluster.cronjob(f"{RELEASE}-health-check")["spec"]["suspend"] is True
    run = cluster.cronjob(f"{RELEASE}-health-check")["metadata"]["annotations"][MAINTENANCE]
    assert f"cronctl resume --maintenance {run}" in pre.stderr
    undo = cluster.run("resume", "--maintenance", f"helm upgrade {RELEASE} to revision 1", "--yes")
    assert undo.exit_code == 0, undo.stderr
    assert _suspended(cluster) == before


def test_notes_say_how_to_undo_a_failed_upgrade(helm_bin: Path) -> None:
    done = run_helm(
        helm_bin, "install", RELEASE, str(CHART), "--dry-run=client", "-n", NAMESPACE, *ON
    )
    assert done.returncode == 0, done.stderr
    notes = " ".join(done.stdout.split("NOTES:", 1)[1].split())
    assert "running Jobs awaited (up to 300s)" in notes
    assert (
        f'they stay suspended: cronctl resume -n {NAMESPACE} --maintenance "helm upgrade {RELEASE} '
        'to revision N"'
    ) in notes
