"""Fixtures for cronctl: one kmock emulator per session, a fresh namespace and kubeconfig per test.

The emulator (tests/cronctl/emulator.py) stands in for the API server, which cannot run here; the
official client and the real kubectl talk to it over HTTP on loopback.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from click.testing import CliRunner, Result  # noqa: E402

from cronjobs.cronctl.api import ClientSettings  # noqa: E402
from cronjobs.cronctl.cli import cli  # noqa: E402
from cronjobs.cronctl.controller import CronJobController  # noqa: E402
from tests.cronctl.emulator import (  # noqa: E402
    CronctlEmulator,
    EmulatorThread,
    History,
    event_body,
)

_namespaces = itertools.count(1)
LABELS = {
    "app.kubernetes.io/name": "cronjobs",
    "app.kubernetes.io/instance": "web",
    "app.kubernetes.io/managed-by": "Helm",
    "helm.sh/chart": "cronjobs-0.1.0",
}


def ts(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cronjob_body(
    name: str,
    schedule: str = "0 2 * * *",
    *,
    time_zone: str | None = None,
    suspend: bool = False,
    policy: str = "Forbid",
    deadline: int | None = 300,
    labels: dict[str, str] | None = None,
    status: dict[str, Any] | None = None,
    created: datetime | None = None,
    annotations: dict[str, str] | None = None,
    keep: tuple[int, int] = (3, 1),
) -> dict[str, Any]:
    """A CronJob shaped like the chart's (created `created`, default: when stored)."""
    component = {"app.kubernetes.io/component": name.removeprefix("web-cronjobs-")}
    all_labels = {**LABELS, **component} if labels is None else labels
    spec: dict[str, Any] = {
        "schedule": schedule,
        "concurrencyPolicy": policy,
        "suspend": suspend,
        "successfulJobsHistoryLimit": keep[0],
        "failedJobsHistoryLimit": keep[1],
        "jobTemplate": {
            "metadata": {
                "labels": dict(all_labels),
                "annotations": {"cronjobs.dev/owner": "platform"},
            },
            "spec": {
                "backoffLimit": 0,
                "activeDeadlineSeconds": 3600,
                "template": {
                    "metadata": {"labels": dict(all_labels)},
                    "spec": {
                        "restartPolicy": "Never",
                        "serviceAccountName": "web-cronjobs",
                        "containers": [
                            {
                                "name": "job",
                                "image": "registry.example/cronjobs:0.1.0",
                                "args": [name.removeprefix("web-cronjobs-")],
                                "envFrom": [{"secretRef": {"name": "web-cronjobs"}}],
                                "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}},
                                "securityContext": {
                                    "runAsNonRoot": True,
                                    "runAsUser": 10001,
                                    "readOnlyRootFilesystem": True,
                                },
                            }
                        ],
                    },
                },
            },
        },
    }
    if time_zone:
        spec["timeZone"] = time_zone
    if deadline is not None:
        spec["startingDeadlineSeconds"] = deadline
    body = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": name,
            "labels": all_labels,
            "annotations": {"meta.helm.sh/release-name": "web"},
        },
        "spec": spec,
    }
    if labels is not None and "app.kubernetes.io/managed-by" not in labels:
        body["metadata"]["annotations"] = {}
    if status:
        body["status"] = status
    if created is not None:
        body["metadata"]["creationTimestamp"] = ts(created)
    if annotations:
        body["metadata"]["annotations"] = {**body["metadata"]["annotations"], **annotations}
    return body


def job_body(
    cronjob: dict[str, Any],
    name: str,
    result: str = "Succeeded",
    *,
    manual: bool = False,
    started: datetime | None = None,
    seconds: int = 42,
) -> dict[str, Any]:
    """A Job the CronJob controller (or kubectl, when manual) made, with a final status."""
    started = started or datetime.now(UTC) - timedelta(hours=1)
    annotations = (
        {"cronjob.kubernetes.io/instantiate": "manual"}
        if manual
        else {"batch.kubernetes.io/cronjob-scheduled-timestamp": ts(started)}
    )
    status: dict[str, Any] = {"startTime": ts(started)}
    end = ts(started + timedelta(seconds=seconds))
    if result == "Succeeded":
        status.update(
            completionTime=end,
            succeeded=1,
            conditions=[{"type": "Complete", "status": "True", "lastTransitionTime": end}],
        )
    elif result == "Failed":
        status.update(
            failed=1,
            conditions=[
                {
                    "type": "Failed",
                    "status": "True",
                    "lastTransitionTime": end,
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                }
            ],
        )
    else:
        status.update(active=1)
    meta = cronjob["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "labels": cronjob["spec"]["jobTemplate"]["metadata"]["labels"],
            "annotations": annotations,
            "creationTimestamp": ts(started),
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": cronjob["spec"]["jobTemplate"]["spec"],
        "status": status,
    }


@dataclass
class Cluster:
    """A namespace in the emulator, a kubeconfig pointing at it, and helpers to fill it."""

    server: EmulatorThread
    namespace: str
    kubeconfig: Path

    @property
    def emulator(self) -> CronctlEmulator:
        return self.server.emulator

    def add_cronjob(
        self, name: str, *args: Any, namespace: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        ns = namespace or self.namespace
        return self.server.put("batch/v1/cronjobs", ns, cronjob_body(name, *args, **kwargs))

    def add_job(
        self, cronjob: dict[str, Any], name: str, *args: Any, **kwargs: Any
    ) -> dict[str, Any]:
        ns = cronjob["metadata"]["namespace"]
        return self.server.put("batch/v1/jobs", ns, job_body(cronjob, name, *args, **kwargs))

    def add_pod(
        self,
        job: str,
        pod: str,
        log: str,
        phase: str = "Succeeded",
        *,
        cronjob: dict[str, Any] | None = None,
        exit_code: int | None = None,
        message: str = "",
    ) -> None:
        """A pod of `job`: with `cronjob`, labelled as the Job controller labels it (the pod
        template's labels); with `exit_code`, terminated as the kubelet reports it, with its
        termination message."""
        labels = {"job-name": job}
        if cronjob is not None:
            template = cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]
            labels = {**template["labels"], "job-name": job, "batch.kubernetes.io/job-name": job}
        status: dict[str, Any] = {"phase": phase}
        if exit_code is not None:
            terminated = {
                "exitCode": exit_code,
                "reason": "Completed" if exit_code == 0 else "Error",
                "message": message,
                "finishedAt": ts(datetime.now(UTC)),
            }
            status["containerStatuses"] = [{"name": "job", "state": {"terminated": terminated}}]
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": pod, "labels": labels},
            # A Pending pod may not be on a node yet (its log request then answers 204).
            "spec": {"containers": [{"name": "job"}], "nodeName": "node-1"}
            if phase != "Pending"
            else {"containers": [{"name": "job"}]},
            "status": status,
        }
        self.server.put("v1/pods", self.namespace, body)
        self.emulator.pod_logs[(self.namespace, pod)] = log

    def add_history(self, cronjob: dict[str, Any], history: History) -> None:
        """Store what `simulate_controller` says the CronJob controller left behind."""
        ns = cronjob["metadata"]["namespace"]
        for job in history.jobs:
            self.server.put("batch/v1/jobs", ns, job)
        for event in history.events:
            self.server.put("v1/events", ns, event)
        if history.last_schedule is not None:
            cronjob.setdefault("status", {})["lastScheduleTime"] = ts(history.last_schedule)
            self.server.put("batch/v1/cronjobs", ns, cronjob)

    def add_event(self, kind: str, name: str, reason: str, message: str, at: datetime) -> None:
        event = event_body(at, kind, name, "Warning", reason, message)
        self.server.put("v1/events", self.namespace, event)

    def cronjob(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.server.call(
            "GET", f"/apis/batch/v1/namespaces/{self.namespace}/cronjobs/{name}"
        )
        return result

    def jobs(self) -> list[dict[str, Any]]:
        return list(
            self.server.call("GET", f"/apis/batch/v1/namespaces/{self.namespace}/jobs")["items"]
        )

    def controller(self, **kwargs: Any) -> CronJobController:
        return CronJobController.connect(
            ClientSettings(kubeconfig=str(self.kubeconfig)), poll_interval=0.02, **kwargs
        )

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """Run the cronctl CLI in-process against this namespace; stdout and stderr apart."""
        return self.run_input(None, *args, env=env)

    def run_input(self, text: str | None, *args: str, env: dict[str, str] | None = None) -> Result:
        """`run`, with `text` on stdin (answers to a confirmation prompt)."""
        full_env = {
            "KUBECONFIG": str(self.kubeconfig),
            "CRONCTL_POLL_INTERVAL": "0.02",
            "USER": "alice",
            **(env or {}),
        }
        return CliRunner().invoke(cli, list(args), input=text, env=full_env, catch_exceptions=False)


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorThread]:
    with EmulatorThread() as server:
        yield server


@pytest.fixture()
def cluster(emulator_server: EmulatorThread, tmp_path: Path) -> Cluster:
    namespace = f"test-{next(_namespaces)}"
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(emulator_server.kubeconfig(namespace)))
    return Cluster(emulator_server, namespace, path)
