"""Logs: JSON lines in a pod, readable text on a terminal; secrets scrubbed in both."""

from __future__ import annotations

import json
import logging

import pytest

from cronjobs import logs
from cronjobs.redact import redact_url, scrub
from tests.jobs.helpers import cronjobs


def test_text_format_is_readable_and_carries_job_and_run_id(tmp_path: object) -> None:
    result = cronjobs(
        "--log-format",
        "text",
        "health-check",
        env={"QDRANT_URL": "http://127.0.0.1:1", "CRONJOBS_TIMEOUT": "1"},
    )
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert "INFO" in first and "[health-check] [" in first and " started (" in first
    assert "scheduled_at=" in first  # the run's tick (jobs/cronjobs/tick.py)
    assert not result.stderr.lstrip().startswith("{")


def test_json_lines_scrub_registered_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("json", "INFO", secrets={"p4ssw0rd"})
    log = logging.getLogger("jobs.test")
    with logs.bind(job="health-check", run_id="abc123"):
        log.warning("could not connect with %s", "postgresql://app:p4ssw0rd@db/app")
        log.info("key is %s", "p4ssw0rd")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [e["message"] for e in lines] == [
        "could not connect with postgresql://app:***@db/app",
        "key is ***",
    ]
    assert {(e["job"], e["run_id"]) for e in lines} == {("health-check", "abc123")}
    logging.getLogger().handlers.clear()


def test_redact_url_keeps_everything_but_the_password() -> None:
    assert redact_url("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert redact_url("postgresql://u@db/app") == "postgresql://u@db/app"
    assert (
        scrub("dsn postgresql://u:x@y/z and k3y", {"k3y"}) == "dsn postgresql://u:***@y/z and ***"
    )
    # a one-letter "secret" is not masked wherever the letter stands: it would hide nothing
    assert scrub("a pod", {"p"}) == "a pod"


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("postgresql://app:S3cr/t@db:5432/app", "S3cr/t"),
        ("postgresql://app:p#a?s@db:5432/app", "p#a?s"),
        ("postgresql://app:pass@word@db/app", "pass@word"),
        ("postgresql://app@db:5432/app?password=Hunter2x&sslmode=require", "Hunter2x"),
    ],
)
def test_awkward_passwords_never_reach_the_user(url: str, secret: str) -> None:
    assert secret not in redact_url(url)
    result = cronjobs("cleanup-old-sessions", env={"DATABASE_URL": url, "CRONJOBS_TIMEOUT": "1"})
    assert result.returncode in (1, 2)
    assert result.stderr.count("Error: ") == 1
    assert secret not in result.stdout + result.stderr
