"""`trigger --wait --logs`: poll a Job until it finishes and follow its pods' logs meanwhile.

The deadline holds while logs stream: a chatty pod is cut off at the timeout, and a pod that
stays silent for a read timeout sends cronctl back to polling the Job; it follows the log again
afterwards, skipping the lines already passed on (a followed log restarts from its first line).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

from cronjobs.cronctl import model, results
from cronjobs.cronctl.model import Obj, Run
from cronjobs.cronctl.poll import poll_until
from cronjobs.cronctl.scope import Scope

JOBS, PODS = "batch/jobs", "/pods"


@dataclass
class _LogProgress:
    """What `wait` has passed on so far: lines per pod, and the pods whose log has ended."""

    lines: dict[str, int] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)


def wait(
    c: Scope,
    job_name: str,
    namespace: str,
    *,
    timeout: float,
    on_log: Callable[[str, str], None] | None,
    on_progress: Callable[[Run], None] | None,
) -> Run:
    """Poll the Job (a get every `c.poll_interval` s) until it succeeds or fails; the final
    run with its pods' exit codes and summaries. WaitTimeout (exit 5) after `timeout` s."""
    logs = _LogProgress()
    last: list[Run] = []

    def probe(deadline: float) -> Run | None:
        job = c.api.get(JOBS, namespace, job_name)
        if on_log is not None and not model.is_finished(job):
            _follow_logs(c, namespace, job_name, logs, deadline, on_log)
            job = c.api.get(JOBS, namespace, job_name)
        if on_log is not None and model.is_finished(job) and time.monotonic() < deadline:
            _follow_logs(c, namespace, job_name, logs, deadline, on_log)  # the rest
        run = model.run_from_job(job, c.clock())
        if on_progress is not None and (not last or run.result != last[-1].result):
            on_progress(run)
        last[:] = [run]
        if not model.is_finished(job):
            return None
        pods = c.api.list(PODS, namespace, f"job-name={job_name}")
        return results.attach([run], pods)[0]

    def gave_up() -> str:
        state = last[-1].result.lower() if last else "unknown"
        return (
            f"gave up waiting for Job {job_name} after {timeout:g}s (it is {state} and keeps "
            f"running): follow it with `cronctl logs --job {job_name} NAME` or "
            f"`kubectl get job {job_name}`"
        )

    return poll_until(probe, timeout=timeout, interval=c.poll_interval, gave_up=gave_up)


def _follow_logs(
    c: Scope,
    namespace: str,
    job_name: str,
    logs: _LogProgress,
    deadline: float,
    on_log: Callable[[str, str], None],
) -> None:
    """Follow each started pod's log until it ends, falls silent for a read timeout, or the
    deadline passes; after a running pod's stream, return so that the caller polls the Job.

    A followed log restarts from its first line, so lines already passed on are skipped.
    """
    pods = c.api.list(PODS, namespace, f"job-name={job_name}")
    for pod in sorted(pods, key=lambda p: str(p["metadata"].get("creationTimestamp"))):
        pod_name = pod["metadata"]["name"]
        phase = pod.get("status", {}).get("phase")
        if pod_name in logs.done or phase not in ("Running", "Succeeded", "Failed"):
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        read_timeout = min(remaining, c.api.settings.request_timeout)
        seen = 0
        lines = c.api.pod_log(
            namespace, pod_name, container(pod), follow=True, timeout=read_timeout
        )
        try:
            for line in lines:
                seen += 1
                if seen > logs.lines.get(pod_name, 0):
                    logs.lines[pod_name] = seen
                    on_log(pod_name, line)
                if time.monotonic() >= deadline:
                    return
        finally:
            if isinstance(lines, Generator):
                lines.close()
        if phase == "Running":
            return  # ended or fell silent while running: poll the Job, then follow again
        logs.done.add(pod_name)  # a finished pod's log is complete


def on_node(pod: Obj) -> bool:
    """Scheduled: a pod without a node has no log yet (its log request answers 204)."""
    return bool((pod.get("spec") or {}).get("nodeName"))


def container(pod: Obj) -> str | None:
    """The container whose log to read: None (the only one) unless the pod has several."""
    containers = pod.get("spec", {}).get("containers") or []
    return str(containers[0]["name"]) if len(containers) > 1 else None
