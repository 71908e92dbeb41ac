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

from jobs.cronctl.api import ClientSettings  # noqa: E402
from jobs.cronctl.cli import cli  # noqa: E402
from jobs.cronctl.controller import CronJobController  # noqa: E402
from tests.cronctl.emulator import CronctlEmulator, EmulatorThread  # noqa: E402

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
) -> dict[str, Any]:
    """A CronJob shaped like the chart's."""
    component = {"app.kubernetes.io/component": name.removeprefix("web-cronjobs-")}
    all_labels = {**LABELS, **component} if labels is None else labels
    spec: dict[str, Any] = {
        "schedule": schedule,
        "concurrencyPolicy": policy,
        "suspend": suspend,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 1,
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

    def add_pod(self, job: str, pod: str, log: str, phase: str = "Succeeded") -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": pod, "labels": {"job-name": job}},
            "spec": {"containers": [{"name": "job"}]},
            "status": {"phase": phase},
        }
        self.server.put("v1/pods", self.namespace, body)
        self.emulator.pod_logs[(self.namespace, pod)] = log

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
        full_env = {
            "KUBECONFIG": str(self.kubeconfig),
            "CRONCTL_POLL_INTERVAL": "0.02",
            "USER": "alice",
            **(env or {}),
        }
        return CliRunner().invoke(cli, list(args), env=full_env, catch_exceptions=False)


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
