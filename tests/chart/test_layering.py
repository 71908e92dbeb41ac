"""How a job's settings layer over `jobDefaults`, and the deadline derived from its interval.

Maps (resources, alerts, labels, security contexts, nodeSelector) merge key by key; everything
else replaces. A job's `activeDeadlineSeconds` must be shorter than its interval; one taken from
`jobDefaults` is lowered to fit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest
from chart_helpers import cronjobs_by_component

from cronjobs import cron

SET = "--set"


def _job(docs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return cronjobs_by_component(docs)[key]["spec"]["jobTemplate"]["spec"]


def test_a_resources_override_keeps_the_requests(render: Any) -> None:
    docs = render(
        SET,
        "jobs.health-check.resources.limits.memory=1Gi",
        SET,
        "jobs.cleanup-old-sessions.resources.limits.memory=null",  # null drops a default key
        "--show-only",
        "templates/cronjob.yaml",
    )
    (c,) = _job(docs, "health-check")["template"]["spec"]["containers"]
    assert c["resources"] == {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"memory": "1Gi"},
    }
    (c,) = _job(docs, "cleanup-old-sessions")["template"]["spec"]["containers"]
    assert c["resources"] == {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {}}


def test_an_alerts_override_keeps_the_other_window(render: Any) -> None:
    """aggregate-daily-analytics has no alerts of its own: one key must not drop the other."""
    docs = render(
        SET,
        "metrics.prometheusRule.enabled=true",
        SET,
        "jobs.aggregate-daily-analytics.alerts.noSuccessWindow=2h",
        "--show-only",
        "templates/prometheusrule.yaml",
    )
    rule = next(d for d in docs if d["metadata"]["name"] == "cronjobs-aggregate-daily-analytics")
    alerts = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
    assert alerts["CronJobSuspendedTooLong"]["for"] == "24h"  # jobDefaults' window, not <nil>
    assert "> 7200" in alerts["CronJobNoRecentSuccess"]["expr"]  # the job's 2h


def test_label_and_selector_maps_merge_with_the_chart_wide_ones(render: Any) -> None:
    docs = render(
        SET,
        "jobDefaults.podLabels.tier=maintenance",
        SET,
        "jobDefaults.nodeSelector.kubernetes\\.io/os=linux",
        SET,
        "jobDefaults.podAnnotations.owner=platform",
        SET,
        "jobs.health-check.podLabels.probe=yes",
        SET,
        "jobs.health-check.nodeSelector.pool=small",
        SET,
        "jobs.health-check.podAnnotations.owner=sre",
        "--show-only",
        "templates/cronjob.yaml",
    )
    pod = _job(docs, "health-check")["template"]
    assert pod["metadata"]["labels"]["tier"] == "maintenance"
    assert pod["metadata"]["labels"]["probe"] == "yes"
    assert pod["metadata"]["annotations"] == {"owner": "sre"}
    assert pod["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux", "pool": "small"}
    other = _job(docs, "cleanup-old-sessions")["template"]
    assert "probe" not in other["metadata"]["labels"]
    assert other["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}


def test_a_jobs_own_deadline_longer_than_its_interval_is_rejected(render_error: Any) -> None:
    """health-check sets 600 s; at every 5 minutes a hung run would make the next be skipped."""
    error = render_error(SET, "jobs.health-check.every=5m")
    assert (
        "ERROR: jobs.health-check.activeDeadlineSeconds (600) must be shorter than the job's "
        'interval (300s, schedule "*/5 * * * *")'
    ) in error
    assert "--set jobs.health-check.activeDeadlineSeconds=240" in error
    assert "or set it to null" in error


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        # A cron step: */10 minutes is 600 s, and the deadline must be strictly shorter.
        (
            ["jobs.health-check.schedule=*/10 * * * *"],
            "activeDeadlineSeconds (600) must be shorter than the job's interval (600s",
        ),
        # An hour step that does not divide the day: 0,5,10,15,20 h, then 4 h to midnight.
        (
            [
                "jobs.cleanup-redis-cache.schedule=0 */5 * * *",
                "jobs.cleanup-redis-cache.activeDeadlineSeconds=14400",
            ],
            "activeDeadlineSeconds (14400) must be shorter than the job's interval (14400s",
        ),
        # A minute step that does not divide the hour: :00 and :45, then 15 minutes.
        (
            [
                "jobs.health-check.schedule=*/45 * * * *",
                "jobs.health-check.activeDeadlineSeconds=1200",
            ],
            "activeDeadlineSeconds (1200) must be shorter than the job's interval (900s",
        ),
    ],
    ids=["minute-step", "hour-step-uneven", "minute-step-uneven"],
)
def test_a_too_long_deadline_is_rejected_for_cron_steps(
    render_error: Any, sets: list[str], message: str
) -> None:
    args = [arg for s in sets for arg in (SET, s)]
    assert message in render_error(*args)


def test_a_default_deadline_is_lowered_to_fit_the_interval(render: Any) -> None:
    """No deadline of its own: jobDefaults' 3600 s becomes the interval minus a margin."""
    docs = render(
        SET,
        "jobs.health-check.every=5m",
        SET,
        "jobs.health-check.activeDeadlineSeconds=null",
        SET,
        "jobs.hourly-check.subcommand=health-check",
        SET,
        "jobs.hourly-check.schedule=@hourly",
        SET,
        "jobs.quick-check.subcommand=health-check",
        SET,
        "jobs.quick-check.schedule=*/2 * * * *",
        SET,
        "jobs.daily-check.subcommand=health-check",
        SET,
        "jobs.daily-check.every=1d",
        "--show-only",
        "templates/cronjob.yaml",
    )
    deadlines = {
        key: cj["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"]
        for key, cj in cronjobs_by_component(docs).items()
    }
    assert deadlines["health-check"] == 240  # 300 s less a fifth
    assert deadlines["quick-check"] == 90  # 120 s less the 30 s minimum margin
    assert deadlines["hourly-check"] == 2880  # 3600 s: the default would not be shorter
    assert deadlines["daily-check"] == 3600  # the default fits a day: kept
    assert deadlines["cleanup-old-sessions"] == 7200  # its own, and it fits


SCHEDULES = [
    "* * * * *",
    "*/7 * * * *",
    "*/45 * * * *",
    "13 * * * *",
    "5 */5 * * *",
    "0 */7 * * *",
    "30 4 * * *",
    "0 3 * * 0",
    "*/90 * * * *",
    "@weekly",
]


def test_derived_deadlines_are_shorter_than_the_real_gaps(render: Any) -> None:
    """The template's interval arithmetic agrees with the controller's cron (cronjobs.cron)."""
    args = [SET, "jobDefaults.activeDeadlineSeconds=10000000"]
    for i, schedule in enumerate(SCHEDULES):
        args += [SET, f"jobs.check-{i}.subcommand=health-check"]
        args += [SET, f"jobs.check-{i}.schedule={schedule}"]
    cronjobs = cronjobs_by_component(render(*args, "--show-only", "templates/cronjob.yaml"))
    for i, schedule in enumerate(SCHEDULES):
        deadline = cronjobs[f"check-{i}"]["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"]
        parsed, times = cron.parse(schedule), [datetime(2025, 1, 6, tzinfo=UTC)]
        for _ in range(200):
            nxt = parsed.next(times[-1])
            assert nxt is not None
            times.append(nxt)
        times = times[1:]
        shortest = min((b - a).total_seconds() for a, b in pairwise(times))
        assert deadline == shortest - max(shortest // 5, 30), schedule


def _container(docs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    (container,) = _job(docs, key)["template"]["spec"]["containers"]
    return container


def test_null_falls_back_to_job_defaults(render: Any) -> None:
    """`--set jobs.X.KEY=null` takes jobDefaults' value, for a key the job's entry in
    values.yaml does not set (the null reaches the chart, which must not reject it)."""
    docs = render(
        SET,
        "jobDefaults.backoffLimit=4",
        SET,
        "jobDefaults.timeZone=Europe/Paris",
        SET,
        "jobs.health-check.backoffLimit=null",
        SET,
        "jobs.health-check.timeZone=null",
        SET,
        "jobs.health-check.concurrencyPolicy=null",
        SET,
        "jobs.health-check.resources=null",
        SET,
        "jobs.health-check.image=null",
        SET,
        "jobs.health-check.tolerations=null",
        SET,
        "jobs.health-check.suspend=null",
        "--show-only",
        "templates/cronjob.yaml",
    )
    cronjob = cronjobs_by_component(docs)["health-check"]["spec"]
    assert cronjob["timeZone"] == "Europe/Paris"
    assert cronjob["concurrencyPolicy"] == "Forbid"
    assert "suspend" not in cronjob  # the default, false, is left to the API server
    assert cronjob["jobTemplate"]["spec"]["backoffLimit"] == 4
    container = _container(docs, "health-check")
    assert container["resources"] == {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"memory": "512Mi"},
    }
    assert container["image"] == "cronjobs:0.1.0"
    assert "tolerations" not in cronjob["jobTemplate"]["spec"]["template"]["spec"]


def test_null_removes_an_override_from_a_values_file(render: Any, tmp_path: Any) -> None:
    """The everyday case: a values file overrides a job, `--set ...=null` takes it back."""
    values = tmp_path / "values.yaml"
    values.write_text(
        "jobs:\n"
        "  health-check:\n"
        "    backoffLimit: 0\n"
        "    startingDeadlineSeconds: 60\n"
        "    serviceAccountName: probe\n"
        "    image: {tag: '2.0'}\n"
        "    podLabels: {tier: probe}\n"
        "  nightly:\n"
        "    subcommand: health-check\n"
        "    schedule: '@daily'\n"
        "    activeDeadlineSeconds: 60\n"
    )
    docs = render(
        "-f",
        str(values),
        SET,
        "jobs.health-check.backoffLimit=null",
        SET,
        "jobs.health-check.startingDeadlineSeconds=null",
        SET,
        "jobs.health-check.serviceAccountName=null",
        SET,
        "jobs.health-check.image.tag=null",
        SET,
        "jobs.health-check.podLabels.tier=null",
        SET,
        "jobs.nightly.activeDeadlineSeconds=null",
        "--show-only",
        "templates/cronjob.yaml",
    )
    cronjobs = cronjobs_by_component(docs)
    spec = cronjobs["health-check"]["spec"]
    assert spec["startingDeadlineSeconds"] == 300
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 2
    pod = spec["jobTemplate"]["spec"]["template"]
    assert pod["spec"]["serviceAccountName"] == "cronjobs"
    assert "tier" not in pod["metadata"]["labels"]
    assert _container(docs, "health-check")["image"] == "cronjobs:0.1.0"
    assert cronjobs["nightly"]["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 3600
