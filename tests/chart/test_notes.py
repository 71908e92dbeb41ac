"""NOTES.txt, as `helm install --dry-run=client` prints it (no cluster needed)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from chart_helpers import CHART, run_helm

from cronjobs import cron


def notes(helm: Path, *args: str, release: str = "cronjobs") -> str:
    proc = run_helm(helm, "install", release, str(CHART), "--dry-run=client", "-n", "maint", *args)
    assert proc.returncode == 0, proc.stderr
    assert "NOTES:" in proc.stdout
    return proc.stdout.split("NOTES:", 1)[1]


@pytest.fixture(scope="module")
def default_notes(helm_bin: Path) -> str:
    return notes(helm_bin)


def test_notes_list_each_job_with_schedule_words_and_trigger_command(default_notes: str) -> None:
    expected = {
        "cleanup-old-sessions": ("0 2 * * *", "daily at 02:00"),
        "aggregate-daily-analytics": ("0 1 * * *", "daily at 01:00"),
        "cleanup-old-analytics": ("0 3 * * 0", "weekly on Sunday at 03:00"),
        "cleanup-redis-cache": ("0 */6 * * *", "every 6 hours"),
        "health-check": ("*/30 * * * *", "every 30 minutes"),
    }
    assert "5 CronJob(s)" in default_notes
    for key, (schedule, words) in expected.items():
        name = f"cronjobs-{key}"
        assert f"* {name}: cronjobs {key}\n" in default_notes
        assert f'schedule: "{schedule}" ({words}, Etc/UTC)' in default_notes
        assert (
            f"kubectl create job {name}-manual-$(date +%s) --from=cronjob/{name} -n maint"
            in default_notes
        )


def test_notes_warn_about_empty_connection_settings(default_notes: str) -> None:
    assert "WARNING: no connection settings are set" in default_notes


def test_notes_show_suspended_and_every_jobs(helm_bin: Path) -> None:
    text = notes(
        helm_bin,
        "--set",
        "jobs.health-check.suspend=true",
        "--set",
        "jobs.cleanup-redis-cache.every=2h",
        "--set",
        "connection.mode=existingSecret",
        "--set",
        "connection.existingSecret=conn",
    )
    assert "* cronjobs-health-check: cronjobs health-check  [SUSPENDED]" in text
    assert "* cronjobs-cleanup-old-sessions: cronjobs cleanup-old-sessions\n" in text
    assert 'schedule: "0 */2 * * *" (every 2 hours, Etc/UTC)' in text
    assert "WARNING" not in text


def test_manual_job_name_stays_within_63_characters(helm_bin: Path) -> None:
    """A 52-character CronJob name plus `-manual-<10 digits>` would exceed a Job name's limit."""
    text = notes(helm_bin, "--set", "fullnameOverride=maintenance-prod-eu-west-1")
    cronjob = "maintenance-prod-eu-west-1-aggregate-daily-analytics"
    assert len(cronjob) == 52
    prefix = cronjob[:45]
    assert f"kubectl create job {prefix}-manual-$(date +%s) --from=cronjob/{cronjob} " in text
    assert len(f"{prefix}-manual-1700000000") <= 63


def test_notes_read_leading_zeros_as_decimal(helm_bin: Path) -> None:
    """`09` is nine o'clock (int64 would read it as octal: 0, and "daily at 00:30")."""
    text = notes(
        helm_bin,
        "--set",
        "jobs.health-check.schedule=30 09 * * *",
        "--set",
        "jobs.cleanup-redis-cache.schedule=08 */6 * * *",
    )
    assert 'schedule: "30 09 * * *" (daily at 09:30, Etc/UTC)' in text
    assert 'schedule: "08 */6 * * *" (every 6 hours at minute 08, Etc/UTC)' in text


def test_notes_cronctl_list_selects_the_renamed_label(helm_bin: Path, default_notes: str) -> None:
    """cronctl selects app.kubernetes.io/name=cronjobs unless told (jobs/cronjobs/cronctl/controller.py
    DEFAULT_SELECTOR): with nameOverride the CronJobs carry another name, so the command says -l."""
    assert "cronctl list -n maint\n" in default_notes
    text = notes(helm_bin, "--set", "nameOverride=maint")
    assert "cronctl list -n maint -l app.kubernetes.io/name=maint\n" in text
    # fullnameOverride renames the resources, not the labels: the default selector finds them.
    text = notes(helm_bin, "--set", "fullnameOverride=maint")
    assert "cronctl list -n maint\n" in text


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        ("5 */7 * * *", "daily at 00:05, 07:05, 14:05 and 21:05"),
        ("0 */5 * * *", "daily at 00:00, 05:00, 10:00, 15:00 and 20:00"),
        ("30 */13 * * *", "daily at 00:30 and 13:30"),
        ("0 */30 * * *", "daily at 00:00"),
        ("*/7 * * * *", "every hour at minutes 0, 7, 14, 21, 28, 35, 42, 49 and 56"),
        ("*/45 * * * *", "every hour at minutes 0 and 45"),
        ("*/90 * * * *", "every hour at minute 0"),
        # Steps that divide the hour or the day keep the short form.
        ("0 */6 * * *", "every 6 hours"),
        ("15 */8 * * *", "every 8 hours at minute 15"),
        ("*/20 * * * *", "every 20 minutes"),
        ("*/1 * * * *", "every minute"),
        ("0 */1 * * *", "every hour"),
    ],
)
def test_notes_say_when_an_uneven_step_runs(helm_bin: Path, schedule: str, words: str) -> None:
    """`*/7` hours is not every 7 hours: it restarts at midnight (21:05, then 00:05)."""
    text = notes(
        helm_bin,
        "--set",
        f"jobs.health-check.schedule={schedule}",
        "--set",
        "jobs.health-check.activeDeadlineSeconds=null",  # lowered to fit the shortest gap
    )
    assert f'schedule: "{schedule}" ({words}, Etc/UTC)' in text


@pytest.mark.parametrize("schedule", ["5 */7 * * *", "0 */5 * * *", "45 */11 * * *", "*/7 * * * *"])
def test_uneven_step_words_match_a_cron_library(helm_bin: Path, schedule: str) -> None:
    """The times the notes list are the runs the controller's cron (cronjobs.cron) makes over a day
    (or an hour)."""
    text = notes(
        helm_bin,
        "--set",
        f"jobs.health-check.schedule={schedule}",
        "--set",
        "jobs.health-check.activeDeadlineSeconds=null",
    )
    words = text.split(f'schedule: "{schedule}" (', 1)[1].split(", Etc/UTC)", 1)[0]
    hourly = schedule.startswith("*/")
    if hourly:
        listed = [f"00:{int(m):02d}" for m in re.findall(r"\d+", words)]
    else:
        listed = re.findall(r"\d\d:\d\d", words)
    start = datetime(2025, 1, 6, tzinfo=UTC)
    parsed = cron.parse(schedule)
    end = start + (timedelta(hours=1) if hourly else timedelta(days=1))
    runs = []
    run = parsed.next(start - timedelta(seconds=1))
    while run is not None and run < end:
        runs.append(run.strftime("%H:%M"))
        run = parsed.next(run)
    assert listed == runs, words
