"""Schedules cronctl read wrongly before it shared the controller's cron engine (cronjobs.cron),
through the real CLI against the emulator: what `list`, `next`, `explain` and `check` say."""

from __future__ import annotations

import json

from tests.cronctl.conftest import Cluster

NAME = "web-cronjobs-cleanup-old-sessions"


def _next(cluster: Cluster, *args: str) -> list[str]:
    """The output's lines, runs of spaces (the table's padding) as one."""
    result = cluster.run("next", NAME, *args)
    assert result.exit_code == 0, result.stderr
    return [" ".join(line.split()) for line in result.stdout.splitlines()]


def test_a_question_mark_with_a_step_is_read_as_robfig_reads_it(cluster: Cluster) -> None:
    """`?/2` is `*/2` to robfig/cron (the API server and the chart accept it): odd days."""
    cluster.add_cronjob(NAME, "0 0 ?/2 * *")
    lines = _next(cluster, "--count", "3", "--from", "2025-01-01T12:00Z")
    assert [line.split()[0] for line in lines[2:]] == ["2025-01-03", "2025-01-05", "2025-01-07"]


def test_a_full_weekday_range_ored_with_a_day_step_runs_daily(cluster: Cluster) -> None:
    """`0 0 */2 * 0-6`: neither day field has robfig's star bit, so they are ORed, and every
    day is a weekday in 0-6: Kubernetes runs it daily."""
    cluster.add_cronjob(NAME, "0 0 */2 * 0-6")
    lines = _next(cluster, "--count", "3", "--from", "2025-01-01T12:00Z")
    assert lines[0] == f"CronJob {NAME}: 0 0 */2 * 0-6 (At 00:00) in UTC"
    assert [line.split()[0] for line in lines[2:]] == ["2025-01-02", "2025-01-03", "2025-01-04"]


def test_lord_howe_half_hour_shifts_show_the_runs_robfig_adds_and_drops(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, "30 1 * * *", time_zone="Australia/Lord_Howe")
    spring = _next(cluster, "--count", "3", "--from", "2025-10-04T00:00Z")
    assert spring[2:] == [
        "2025-10-05 01:30 +1030 2025-10-04 15:00 UTC",
        "2025-10-05 02:30 +1100 2025-10-04 15:30 UTC extra run: after this 30-minute DST "
        "change the controller's cron library (robfig/cron) also runs at this time",
        "2025-10-06 01:30 +1100 2025-10-05 14:30 UTC",
    ]
    cluster.add_cronjob(NAME, "0 2 * * *", time_zone="Australia/Lord_Howe")
    autumn = _next(cluster, "--count", "2", "--from", "2025-04-04T12:00Z")
    assert autumn[2:] == [
        "2025-04-05 02:00 +1100 2025-04-04 15:00 UTC",
        "2025-04-06 02:00 - not run: after this 30-minute DST "
        "change the controller's cron library (robfig/cron) steps past this time",
        "2025-04-07 02:00 +1030 2025-04-06 15:30 UTC after a DST change: the UTC time "
        "moved by the change",
    ]


def test_every_with_a_negative_duration_is_every_second_not_a_traceback(
    cluster: Cluster,
) -> None:
    """The API server accepts `@every -1h`; robfig rounds it up to one second."""
    cluster.add_cronjob(NAME, "@every -1h", deadline=None)
    listed = cluster.run("list", "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    [item] = json.loads(listed.stdout)
    assert item["schedule_description"] == "Every 1s from the last run"
    lines = _next(cluster, "--count", "2")
    assert len(lines) == 4


def test_every_longer_than_the_starting_deadline_will_never_run(cluster: Cluster) -> None:
    """The controller counts `@every 1h` from the last schedule time and drops a tick older
    than startingDeadlineSeconds (300): the next tick is always an hour away, past it."""
    cluster.add_cronjob(NAME, "@every 1h", deadline=300)
    _will_never_run(cluster, "startingDeadlineSeconds=300: raise startingDeadlineSeconds to at "
                    "least 3600, or use a cron schedule")  # fmt: skip


def test_a_schedule_that_never_fires_will_never_run(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, "0 0 31 2 *")
    _will_never_run(cluster, "the controller reports InvalidSchedule")


def _will_never_run(cluster: Cluster, why: str) -> None:
    listed = cluster.run("list")
    assert listed.exit_code == 0, listed.stderr
    assert "never (will never run)" in listed.stdout
    shown = cluster.run("list", "-o", "json")
    assert why in json.loads(shown.stdout)[0]["never_runs"]
    upcoming = _next(cluster)
    assert upcoming[1].startswith("It will never run: ") and why in upcoming[1]
    explained = cluster.run("explain", NAME)
    assert explained.exit_code == 0, explained.stderr
    assert "What to do: It will never run: " in explained.stdout and why in explained.stdout
    assert "Nothing to do" not in explained.stdout
    checked = cluster.run("check", NAME)
    assert checked.exit_code == 1
    assert f"/{NAME}: will never run: " in checked.stdout and why in checked.stdout
    assert "cannot be read" not in checked.stdout


def test_words_say_when_a_step_restarts(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, "*/7 * * * *")
    cluster.add_cronjob("web-cronjobs-health-check", "5 */7 * * *")
    listed = json.loads(cluster.run("list", "-o", "json").stdout)
    words = {item["schedule"]: item["schedule_description"] for item in listed}
    assert words == {
        "*/7 * * * *": "At 0, 7, 14, 21, 28, 35, 42, 49, and 56 minutes past the hour",
        "5 */7 * * *": "At 00:05, 07:05, 14:05 and 21:05",
    }


def test_a_duration_too_long_is_a_usage_error(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, "0 2 * * *")
    result = cluster.run("suspend", NAME, "--until", "99999999d")
    assert result.exit_code == 2
    assert "'99999999d' is too long: at most 36500d (100 years)" in result.stderr
    assert "Traceback" not in result.stderr
    assert cluster.run("list", "-o", "json").stdout.count('"suspended": false') == 1


def test_explain_since_in_the_future_is_a_usage_error(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, "0 2 * * *")
    for since in ("9999-12-31T00:00Z", "3000-01-01T00:00Z"):
        result = cluster.run("explain", NAME, "--since", since)
        assert result.exit_code == 2, result.stdout
        assert "is in the future: give a time in the past or a duration" in result.stderr
