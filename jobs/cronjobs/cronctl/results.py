"""Run results that outlive logs: exit codes and the termination-message summary, from pods.

Each `cronjobs` run writes one line of JSON to its container's termination message file (the
chart sets `terminationMessagePath: /dev/termination-log` and `terminationMessagePolicy:
FallbackToLogsOnError`); the kubelet copies it into the pod's
`status.containerStatuses[].state.terminated.message`, where it stays as long as the pod does,
after the log has rotated away. The summary's shape (`SUMMARY_KEYS`; unknown keys are kept):

    {"job": "cleanup-old-sessions", "run_id": "3f9c2a1b7d4e", "exit_code": 0, "outcome": "ok",
     "counts": {"deleted": 12}, "duration_seconds": 1.93}

plus "error" (the scrubbed one-line message) when the run failed. A message is a summary when it
is a JSON object with "job" and "exit_code"; anything else is kept as `termination_message`.

Pure functions (no I/O): the controller lists the pods, these read them.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import json
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from cronjobs.cronctl.model import Obj, Run
from cronjobs.exitcodes import ExitCode

SUMMARY_KEYS = ("job", "run_id", "exit_code", "outcome", "counts", "duration_seconds")
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
PASSED_THROUGH = (ExitCode.USAGE, ExitCode.SKIPPED, ExitCode.INTERRUPTED)
"""The job's own exit codes `trigger --wait` returns as they are; any other failure is 1."""


def terminated(pod: Obj) -> Obj | None:
    """The job container's `terminated` state (the first container's; after a restart in
    place, the last termination), or None while it runs or when the kubelet never reported."""
    statuses = pod.get("status", {}).get("containerStatuses") or []
    if not statuses:
        return None
    state = (statuses[0].get("state") or {}).get("terminated")
    return state or (statuses[0].get("lastState") or {}).get("terminated") or None


def parse_summary(message: str | None) -> tuple[Obj | None, str | None]:
    """(summary, None) when the message is a cronjobs summary; else (None, the text)."""
    text = (message or "").strip()
    if not text:
        return None, None
    try:
        data = json.loads(text.splitlines()[-1])
    except ValueError:
        return None, text
    if isinstance(data, dict) and "job" in data and "exit_code" in data:
        return data, None
    return None, text


def job_of(pod: Obj) -> str | None:
    labels = pod.get("metadata", {}).get("labels") or {}
    return next((str(labels[k]) for k in JOB_NAME_LABELS if labels.get(k)), None)


def attach(runs: Sequence[Run], pods: Iterable[Obj]) -> tuple[Run, ...]:
    """Each run with its newest terminated pod's exit code and termination message."""
    newest: dict[str, tuple[str, Obj]] = {}
    for pod in pods:
        job, state = job_of(pod), terminated(pod)
        if job is None or state is None:
            continue
        key = str(state.get("finishedAt") or pod.get("metadata", {}).get("creationTimestamp"))
        if job not in newest or key > newest[job][0]:
            newest[job] = (key, state)
    out = []
    for run in runs:
        if run.name not in newest:
            out.append(run)
            continue
        state = newest[run.name][1]
        summary, text = parse_summary(state.get("message"))
        code = state.get("exitCode")
        out.append(
            dataclasses.replace(
                run,
                exit_code=int(code) if code is not None else None,
                summary=summary,
                termination_message=text,
            )
        )
    return tuple(out)


def exit_code_for(run: Run) -> int:
    """What `trigger --wait` exits with for a finished run: 0, the job's own 2/3/4, else 1."""
    if run.result == "Succeeded":
        return int(ExitCode.OK)
    if run.exit_code in {int(c) for c in PASSED_THROUGH}:
        return int(run.exit_code or 0)
    return int(ExitCode.FAILED)


@lru_cache(maxsize=1)
def _documented() -> dict[int, str]:
    """The first sentence of each ExitCode member's docstring, read from jobs/cronjobs/exitcodes.py (the
    one table; an IntEnum keeps no per-member docstrings at run time)."""
    tree = ast.parse(inspect.getsource(ExitCode))
    body = tree.body[0].body  # type: ignore[attr-defined]
    found: dict[int, str] = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            text = " ".join(after.value.value.split())
            found[int(ExitCode[node.targets[0].id])] = text.split(". ")[0].rstrip(".")
    return found


_SIGNALS = {9: "SIGKILL: out of memory (OOMKilled) or killed", 15: "SIGTERM: stopped"}


def exit_meaning(code: int | None, reason: str | None = None) -> str:
    """The exit code in words: our table's meaning, or the signal for 128+N."""
    if code is None:
        return "unknown (the pod is gone)"
    if code in _documented():
        return f"{ExitCode(code).name}: {_documented()[code]}"
    if code > 128:
        signal = _SIGNALS.get(code - 128, f"signal {code - 128}")
        return f"killed by {signal}" + (f" ({reason})" if reason and reason != "Error" else "")
    return "not one of the cronjobs exit codes"


def summary_line(summary: Obj | None) -> str | None:
    """`deleted=12 in 1.9s (run 1a2b)` from a summary, for tables."""
    if not summary:
        return None
    counts: Any = summary.get("counts") or {}
    parts = [f"{k}={v}" for k, v in counts.items()] if isinstance(counts, dict) else []
    if isinstance(summary.get("duration_seconds"), int | float):
        parts.append(f"in {summary['duration_seconds']:.1f}s")
    if summary.get("run_id"):
        parts.append(f"(run {summary['run_id']})")
    if summary.get("error"):
        parts.append(f"error: {summary['error']}")
    return " ".join(parts) or str(summary.get("outcome") or "")
