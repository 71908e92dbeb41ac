"""The chart's part of issue 13 (operating safely): the trigger allowlist annotation, the
dead-man's-switch ping URL from a Secret, and the bad values the schema rejects."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from chart_helpers import cronjobs_by_component

from jobs.cronctl import params
from jobs.cronctl.model import ALLOWED_ARGS
from jobs.pings import TIMEOUT_ENV, URL_ENV

SET = "--set"


def _env(cronjob: dict[str, Any]) -> dict[str, Any]:
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e for e in container["env"]}


def test_the_trigger_allowlist_is_an_annotation_cronctl_reads(render: Any) -> None:
    docs = render(SET, "jobs.cleanup-old-sessions.allowedTriggerArgs={--dry-run,--batch-size=}")

    cronjobs = cronjobs_by_component(docs)
    sessions = cronjobs["cleanup-old-sessions"]
    assert json.loads(sessions["metadata"]["annotations"][ALLOWED_ARGS]) == [
        "--dry-run",
        "--batch-size=",
    ]
    assert params.check(sessions, ("--batch-size", "500")) == ("--batch-size=500",)
    assert ALLOWED_ARGS not in cronjobs["health-check"]["metadata"]["annotations"]


def test_ping_urls_come_from_a_secret_per_job_over_the_defaults(render: Any) -> None:
    docs = render(
        SET,
        "jobDefaults.ping.timeout=3",
        SET,
        "jobs.health-check.ping.secretKey=PING_HEALTH_CHECK",
        SET,
        "jobs.cleanup-old-sessions.ping.secretKey=PING_SESSIONS",
        SET,
        "jobs.cleanup-old-sessions.ping.secretName=monitoring",
    )

    cronjobs = cronjobs_by_component(docs)
    health = _env(cronjobs["health-check"])
    assert health[URL_ENV]["valueFrom"]["secretKeyRef"] == {
        "name": "cronjobs-connection",
        "key": "PING_HEALTH_CHECK",
        "optional": True,
    }
    assert health[TIMEOUT_ENV]["value"] == "3"  # merged: the default's timeout, the job's key
    sessions = _env(cronjobs["cleanup-old-sessions"])
    assert sessions[URL_ENV]["valueFrom"]["secretKeyRef"]["name"] == "monitoring"
    assert URL_ENV not in _env(cronjobs["cleanup-redis-cache"])  # no key: no pings


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("jobs.health-check.allowedTriggerArgs={rm -rf}", "does not match pattern"),
        ("jobs.health-check.ping.timeout=0", "ping/timeout"),
        ("jobs.health-check.ping.secretKey=has space", "ping/secretKey"),
        ("jobs.health-check.ping.url=https://hc-ping.com/x", "additional properties 'url'"),
    ],
)
def test_bad_operating_values_are_rejected(
    render_error: Callable[..., str], value: str, message: str
) -> None:
    assert message in render_error(SET, value)
