"""`batchTime`: the cleanup jobs' time budget per delete transaction (issue 27 item 1), as
CRONJOBS_BATCH_TIME in the container; only where set, and a bad value rejected by the schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chart_helpers import cronjobs_by_component


def _budget(doc: dict[str, Any]) -> str | None:
    container = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    found = [e["value"] for e in container["env"] if e["name"] == "CRONJOBS_BATCH_TIME"]
    assert len(found) <= 1
    return found[0] if found else None


def test_the_cleanup_jobs_get_their_budget_and_the_others_none(
    default_docs: list[dict[str, Any]],
) -> None:
    jobs = cronjobs_by_component(default_docs)
    budgets = {key: _budget(doc) for key, doc in jobs.items()}
    assert budgets == {
        "cleanup-old-sessions": "0.1",
        "cleanup-old-analytics": "0.1",
        "aggregate-daily-analytics": None,
        "cleanup-redis-cache": None,
        "health-check": None,
    }


def test_a_job_or_the_defaults_set_it(render: Callable[..., list[dict[str, Any]]]) -> None:
    jobs = cronjobs_by_component(
        render(
            "--set",
            "jobs.cleanup-old-sessions.batchTime=0.25",
            "--set-json",
            "jobs.cleanup-old-analytics.batchTime=0",
        )
    )
    assert _budget(jobs["cleanup-old-sessions"]) == "0.25"
    assert _budget(jobs["cleanup-old-analytics"]) == "0"
    everywhere = cronjobs_by_component(
        render(
            "--set",
            "jobDefaults.batchTime=0.05",
            "--set",
            "jobs.cleanup-old-sessions.batchTime=null",
        )
    )
    assert _budget(everywhere["cleanup-old-sessions"]) == "0.05"
    assert _budget(everywhere["health-check"]) == "0.05"


def test_a_bad_budget_is_rejected(render_error: Callable[..., str]) -> None:
    for flag, bad in (("--set", "-1"), ("--set", "61"), ("--set-json", "61"), ("--set", "fast")):
        error = render_error(flag, f"jobs.cleanup-old-sessions.batchTime={bad}")
        assert "/jobs/cleanup-old-sessions/batchTime" in error, error
    error = render_error("--set", "jobDefaults.batchTime=0.1s")
    assert "/jobDefaults/batchTime" in error
