"""Every run knows its tick: from the flag or variable, from the CronJob controller's Job name
(`<cronjob>-<minutes since the epoch>`, its getJobName), or the run's start. Times on both sides
of midnight UTC, so "yesterday of the tick" is tested where it differs from the wall clock's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cronjobs.errors import ConfigError
from cronjobs.tick import CRONJOB, JOB_NAME, SCHEDULED_AT, Tick, from_job_name, parse, resolve

# A tick at 2026-12-01 23:30 UTC; the controller's name is the tick's Unix time in minutes.
TICK = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
MINUTES = int(TICK.timestamp()) // 60
AFTER_MIDNIGHT = datetime(2026, 12, 2, 0, 20, tzinfo=UTC)


def test_the_controllers_job_name_gives_the_tick() -> None:
    name = f"maint-cronjobs-aggregate-daily-analytics-{MINUTES}"
    env = {JOB_NAME: name, CRONJOB: "maint-cronjobs-aggregate-daily-analytics"}
    tick = resolve(environ=env, now=AFTER_MIDNIGHT)  # started late, after midnight
    assert tick == Tick(TICK, "job-name")
    assert tick.at.date() - timedelta(days=1) == datetime(2026, 11, 30).date()


@pytest.mark.parametrize(
    ("job_name", "cronjob"),
    [
        ("cleanup-manual-1", "maint-cronjobs-cleanup-old-sessions"),  # kubectl create job
        ("maint-cronjobs-cleanup-old-sessions-abc12", "maint-cronjobs-cleanup-old-sessions"),
        ("maint-cronjobs-cleanup-old-sessions-manual-x7k2p", "maint-cronjobs-cleanup-old-sessions"),
        ("other-29424360", "maint-cronjobs-cleanup-old-sessions"),
        (f"maint-cronjobs-x-{MINUTES}", ""),  # no CronJob name to match
        ("maint-cronjobs-x-", "maint-cronjobs-x"),
    ],
)
def test_a_name_the_controller_did_not_make_is_not_read(job_name: str, cronjob: str) -> None:
    assert from_job_name(job_name, cronjob) is None
    tick = resolve(environ={JOB_NAME: job_name, CRONJOB: cronjob}, now=AFTER_MIDNIGHT)
    assert tick == Tick(AFTER_MIDNIGHT, "start")


def test_given_wins_over_the_job_name_and_the_flag_over_the_variable() -> None:
    env = {
        JOB_NAME: f"maint-x-{MINUTES}",
        CRONJOB: "maint-x",
        SCHEDULED_AT: "2026-11-20T01:00:00Z",
    }
    assert resolve(environ=env) == Tick(datetime(2026, 11, 20, 1, tzinfo=UTC), "given")
    assert resolve("2026-11-21T02:00+01:00", env) == Tick(
        datetime(2026, 11, 21, 1, tzinfo=UTC), "given"
    )
    # An empty variable (the Downward API's value for a missing annotation) is no tick.
    env[SCHEDULED_AT] = ""
    assert resolve(environ=env).source == "job-name"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T23:30:00Z", TICK),
        ("2026-12-01T23:30z", TICK),
        ("2026-12-01 23:30", TICK),  # no offset: UTC
        ("2026-12-02T00:30:00+01:00", TICK),
        (" 2026-12-01T23:30:00+00:00 ", TICK),
    ],
)
def test_times_are_read_as_utc(text: str, expected: datetime) -> None:
    assert parse(text) == expected
    assert parse(text).tzinfo == UTC


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01T00:00Z", "Z", "1701388800", "nan"])
def test_a_malformed_time_is_a_configuration_error(text: str) -> None:
    with pytest.raises(ConfigError, match=f"{SCHEDULED_AT} .* is not a time: give ISO 8601"):
        resolve(environ={SCHEDULED_AT: text})


def test_the_start_is_the_tick_of_a_local_run() -> None:
    start = datetime(2026, 12, 2, 0, 20, tzinfo=timezone(timedelta(hours=2)))
    assert resolve(environ={}, now=start) == Tick(start.astimezone(UTC), "start")
