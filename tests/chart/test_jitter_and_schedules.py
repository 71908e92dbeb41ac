"""Issue 25, 4: `jitter` (CRONJOBS_JITTER, below activeDeadlineSeconds) and `schedules` (one
CronJob per schedule, grouped by the cronjobs.dev/job label), rendered by the real helm."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
from chart_helpers import Render, by_kind

SET = "--set"


def _env(cronjob: dict[str, Any]) -> dict[str, Any]:
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


def _cronjobs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in by_kind(docs, "CronJob")}


def test_jitter_is_passed_to_the_job_only_when_set(render: Render) -> None:
    docs = _cronjobs(render(SET, "jobs.cleanup-old-sessions.jitter=120"))
    assert _env(docs["cronjobs-cleanup-old-sessions"])["CRONJOBS_JITTER"] == "120"
    assert "CRONJOBS_JITTER" not in _env(docs["cronjobs-health-check"])
    kubernetes_validate.validate(docs["cronjobs-cleanup-old-sessions"], "1.30.0", strict=True)


def test_jitter_at_or_over_the_deadline_is_refused(render_error: Callable[..., str]) -> None:
    message = render_error(
        SET,
        "jobs.cleanup-old-sessions.jitter=600",
        SET,
        "jobs.cleanup-old-sessions.activeDeadlineSeconds=600",
    )
    assert (
        "ERROR: jobs.cleanup-old-sessions.jitter (600s) must be below the job's "
        "activeDeadlineSeconds (600s)"
    ) in message
    assert "--set jobs.cleanup-old-sessions.jitter=60" in message
    assert "jitter" in render_error(SET, "jobDefaults.jitter=-1")  # the schema: minimum 0


def test_schedules_render_one_cronjob_each_grouped_by_label(render: Render) -> None:
    docs = render(
        SET,
        "jobs.cleanup-old-sessions.schedules={0 2 * * *,30 14 * * 1-5}",
        SET,
        "metrics.prometheusRule.enabled=true",
    )
    cronjobs = _cronjobs(docs)
    group = {n: d for n, d in cronjobs.items() if "cleanup-old-sessions" in n}
    assert sorted(group) == ["cronjobs-cleanup-old-sessions-0", "cronjobs-cleanup-old-sessions-1"]
    assert [group[n]["spec"]["schedule"] for n in sorted(group)] == ["0 2 * * *", "30 14 * * 1-5"]
    for name, cronjob in group.items():
        labels = cronjob["metadata"]["labels"]
        assert labels["cronjobs.dev/job"] == "cleanup-old-sessions"
        assert labels["app.kubernetes.io/component"] == "cleanup-old-sessions"
        template = cronjob["spec"]["jobTemplate"]
        assert template["metadata"]["labels"]["cronjobs.dev/job"] == "cleanup-old-sessions"
        assert template["spec"]["template"]["spec"]["containers"][0]["args"][0] == (
            "cleanup-old-sessions"
        )
        assert _env(cronjob)["CRONJOBS_CRONJOB"] == name  # the tick from the Job name still works
        assert len(name) <= 52
        kubernetes_validate.validate(cronjob, "1.30.0", strict=True)
    assert "cronjobs.dev/job" not in cronjobs["cronjobs-health-check"]["metadata"]["labels"]
    rules = [
        r
        for r in by_kind(docs, "PrometheusRule")
        if "cleanup-old-sessions" in r["metadata"]["name"]
    ]
    assert len(rules) == 2
    for rule in rules:
        for alert in rule["spec"]["groups"][0]["rules"]:
            assert alert["labels"]["cronjobs_job"] == "cleanup-old-sessions"


def test_a_bad_schedule_in_the_list_is_refused(render_error: Callable[..., str]) -> None:
    message = render_error(SET, "jobs.cleanup-old-sessions.schedules={0 2 * * *,61 14 * * *}")
    assert (
        'ERROR: jobs.cleanup-old-sessions.schedules[1]: "61 14 * * *": the minute field "61" is '
        "out of range: minute is 0-59"
    ) in message
    tz = render_error(SET, "jobs.cleanup-old-sessions.schedules={TZ=UTC 0 2 * * *}")
    assert "jobs.cleanup-old-sessions.schedules[0]" in tz
    assert "set jobs.cleanup-old-sessions.timeZone instead" in tz


def test_an_empty_list_and_a_key_collision_are_refused(
    render_error: Callable[..., str], tmp_path: Path
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("jobs:\n  cleanup-old-sessions:\n    schedules: []\n")
    assert "/jobs/cleanup-old-sessions/schedules" in render_error("-f", str(values))
    collision = render_error(
        SET,
        "jobs.sync.schedules={0 1 * * *}",
        SET,
        "jobs.sync.subcommand=health-check",
        SET,
        "jobs.sync-0.schedule=0 3 * * *",
        SET,
        "jobs.sync-0.subcommand=health-check",
    )
    assert (
        'ERROR: jobs.sync.schedules makes a CronJob keyed "sync-0", which the job jobs.sync-0'
        in collision
    )
