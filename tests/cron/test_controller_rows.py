"""cronjobs.cron.controller against the Kubernetes CronJob controller's own test rows, transcribed
from kubernetes pkg/controller/cronjob/utils_test.go (TestMostRecentScheduleTime,
TestNextScheduleTime, TestNextScheduleTimeDuration); T is their topOfTheHour(),
2016-05-19T10:00:00Z."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cronjobs.cron import controller, parse
from cronjobs.cron.controller import NEXT_SCHEDULE_DELTA

T = datetime(2016, 5, 19, 10, 0, tzinfo=UTC)
H, M, S, D = timedelta(hours=1), timedelta(minutes=1), timedelta(seconds=1), timedelta(days=1)

# TestMostRecentScheduleTime: name, schedule, created, last scheduled, deadline, include
# deadline, now, expected earliest, expected most recent, missed ("none"/"few"/"many"), error
MOST_RECENT = [
    ("now before next schedule", "0 * * * *", T, None, None, False, T + 30 * S, T, None, "none", False),
    ("now just after next schedule", "0 * * * *", T, None, None, False, T + 61 * M, T, T + 60 * M, "none", False),
    ("missed 5 schedules", "0 * * * *", T + 10 * S, None, None, False, T + 301 * M, T + 10 * S, T + 300 * M, "few", False),
    ("complex schedule", "30 6-16/4 * * 1-5", T, T + 30 * M, None, False, T + 24 * H + 31 * M, T + 30 * M, T + 24 * H + 30 * M, "few", False),
    ("another complex schedule", "30 10,11,12 * * 1-5", T, T + 30 * M, None, False, T + 30 * H + 30 * M, T + 30 * M, None, "few", False),
    ("complex schedule with longer diff between executions", "30 6-16/4 * * 1-5", T, T + 30 * M, None, False, T + 96 * H + 31 * M, T + 30 * M, T + 96 * H + 30 * M, "few", False),
    ("complex schedule with shorter diff between executions", "30 6-16/4 * * 1-5", T, None, None, False, T + 24 * H + 31 * M, T, T + 24 * H + 30 * M, "few", False),
    ("@every schedule", "@every 1h", T - 59 * M, T + M, 10, False, T + 7 * D, T + M, T + 6 * D + 23 * H + M, "many", False),
    ("rogue cronjob", "59 23 31 2 *", T + 10 * S, None, None, False, T + H, None, None, "none", True),
    ("earliestTime being CreationTimestamp and LastScheduleTime", "0 * * * *", T, T, None, False, T + 30 * S, T, None, "none", False),
    ("earliestTime being LastScheduleTime", "*/5 * * * *", T, T + 30 * M, None, False, T + 31 * M, T + 30 * M, None, "none", False),
    ("earliestTime being LastScheduleTime (within StartingDeadlineSeconds)", "*/5 * * * *", T, T + 30 * M, 60, False, T + 31 * M, T + 30 * M, None, "none", False),
    ("earliestTime being LastScheduleTime (outside StartingDeadlineSeconds)", "*/5 * * * *", T, T + 30 * M, 60, True, T + 32 * M, T + 31 * M, None, "none", False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "schedule", "created", "last", "deadline", "include", "now", "earliest", "recent",
     "missed", "error"),
    MOST_RECENT, ids=[row[0] for row in MOST_RECENT],
)  # fmt: skip
def test_most_recent_schedule_time(
    name: str, schedule: str, created: datetime, last: datetime | None, deadline: int | None,
    include: bool, now: datetime, earliest: datetime | None, recent: datetime | None,
    missed: str, error: bool,
) -> None:  # fmt: skip
    got = controller.most_recent_schedule_time(
        parse(schedule), now, created=created, last_scheduled=last,
        starting_deadline_seconds=deadline, include_deadline=include,
    )  # fmt: skip
    if error:
        assert got.error is not None and got.most_recent is None
        return
    assert got.error is None
    assert (got.earliest, got.most_recent, got.missed) == (earliest, recent, missed)


# TestNextScheduleTime, cases 1-8 ("0 * * * ?", T1 = T, T2 = T + 1h)
NEXT = [
    ("1: none needed yet", "0 * * * ?", T - 10 * M, None, None, T - 7 * M, None, False),
    ("2: one needed", "0 * * * ?", T - 10 * M, None, None, T + 2 * S, T, False),
    ("3: known last, none needed", "0 * * * ?", T - 10 * M, T, None, T + 2 * M, None, False),
    ("4: known last, one needed", "0 * * * ?", T - 10 * M, T, None, T + H + 5 * M, T + H, False),
    ("5: two needed, the newest", "0 * * * ?", T - 2 * H, T - H, None, T + H + 5 * M, T + H, False),
    ("6: way ahead, no deadline", "0 * * * ?", T - 2 * H, T - H, None, T + H + 10 * D, T + H + 10 * D, False),
    ("7: way ahead, short deadline", "0 * * * ?", T - 2 * H, T - H, 7200, T + H + 10 * D, T + H + 10 * D, False),
    ("8: rogue schedule", "59 23 31 2 *", T + 10 * S, None, None, T + H, None, True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "schedule", "created", "last", "deadline", "now", "expected", "error"),
    NEXT,
    ids=[row[0] for row in NEXT],
)
def test_next_schedule_time(
    name: str, schedule: str, created: datetime, last: datetime | None, deadline: int | None,
    now: datetime, expected: datetime | None, error: bool,
) -> None:  # fmt: skip
    """Cases 6 and 7 only require "more than 0 missed times" upstream; the tick is the newest."""
    got, problem = controller.next_schedule_time(
        parse(schedule), now, created=created, last_scheduled=last,
        starting_deadline_seconds=deadline,
    )  # fmt: skip
    assert got == expected
    assert (problem is not None) is error


# TestNextScheduleTimeDuration: name, schedule, created, last scheduled, now, expected
DURATION = [
    ("complex schedule skipping weekend", "30 6-16/4 * * 1-5", T, T + 30 * M, T + 24 * H + 31 * M, 3 * H + 59 * M),
    ("another complex schedule skipping weekend", "30 10,11,12 * * 1-5", T, T + 30 * M, T + 30 * H + 30 * M, 66 * H),
    ("once a week cronjob, missed two runs", "0 12 * * 4", T, T + 2 * H, T + 19 * D + H + 30 * M, 48 * H + 30 * M),
    ("no previous run of a cronjob", "0 12 * * 5", T, None, T + 6 * H, 20 * H),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "schedule", "created", "last", "now", "expected"),
    DURATION,
    ids=[r[0] for r in DURATION],
)
def test_next_schedule_time_duration(
    name: str, schedule: str, created: datetime, last: datetime | None, now: datetime,
    expected: timedelta,
) -> None:  # fmt: skip
    got = controller.requeue_after(parse(schedule), now, created=created, last_scheduled=last)
    assert got == expected + NEXT_SCHEDULE_DELTA
