"""A run's result that outlives its logs: one line of JSON in the container's termination message.

The kubelet copies the file (the chart sets `terminationMessagePath: /dev/termination-log`) into
the pod's `state.terminated.message`; `cronctl history`, `describe` and `explain` read it there
(jobs/cronjobs/cronctl/results.py parses this shape). Off a pod the file does not exist and nothing is
written, unless CRONJOBS_TERMINATION_LOG names a path. Writing never changes the exit code.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from cronjobs.exitcodes import ExitCode
from cronjobs.redact import scrub

log = logging.getLogger(__name__)

ENV = "CRONJOBS_TERMINATION_LOG"
DEFAULT_PATH = "/dev/termination-log"
MAX_BYTES = 4096  # the kubelet keeps at most this much of the message
OUTCOMES: dict[int, str] = {
    ExitCode.OK: "ok",
    ExitCode.FAILED: "failed",
    ExitCode.USAGE: "configuration error",
    ExitCode.SKIPPED: "skipped",
    ExitCode.INTERRUPTED: "interrupted",
}


def counts_of(result: Any) -> dict[str, int]:
    """The result's counts (its `counts()`, if it has one), for the summary."""
    counts = getattr(result, "counts", None)
    return whole_numbers(counts() if callable(counts) else {})


def whole_numbers(found: Any) -> dict[str, int]:
    """The integer values of a mapping (anything else, or a non-mapping, is left out)."""
    if not isinstance(found, dict):
        return {}
    return {
        str(k): int(v) for k, v in found.items() if isinstance(v, int) and not isinstance(v, bool)
    }


def line(
    job: str,
    run_id: str | None,
    exit_code: int,
    seconds: float,
    counts: dict[str, int] | None = None,
    error: str | None = None,
    *,
    scheduled_at: str | None = None,
) -> str:
    """The summary as one line of JSON, at most MAX_BYTES long."""
    summary: dict[str, Any] = {
        "job": job,
        "run_id": run_id,
        **({"scheduled_at": scheduled_at} if scheduled_at else {}),
        "exit_code": int(exit_code),
        "outcome": OUTCOMES.get(exit_code, "failed"),
        "counts": counts or {},
        "duration_seconds": round(seconds, 2),
    }
    if error:
        summary["error"] = scrub(error.splitlines()[0] if error.strip() else error)[:300]
    text = json.dumps(summary, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode()) > MAX_BYTES:
        summary["counts"] = {}
        text = json.dumps(summary, ensure_ascii=False, separators=(",", ":"))
    return text


def write(text: str, environ: dict[str, str] | None = None) -> bool:
    """Write the summary where the kubelet reads it; False when there is nowhere to write."""
    env = os.environ if environ is None else environ
    path = env.get(ENV) or DEFAULT_PATH
    if not env.get(ENV) and not os.path.exists(path):
        return False
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    except OSError as e:
        log.debug("could not write the run summary to %s: %s", path, e)
        return False
    return True
