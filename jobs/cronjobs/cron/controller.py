"""When the CronJob controller starts a Job: kubernetes pkg/controller/cronjob (utils.go:
mostRecentScheduleTime, nextScheduleTime, nextScheduleTimeDuration; cronjob_controllerv2.go:
formatSchedule and syncCronJob's checks), over the schedules of cronjobs.cron.spec.

The controller wakes 100 ms after each tick (nextScheduleDelta), takes the *most recent* unmet
tick since `status.lastScheduleTime` (else the creation time), never older ones, and drops it
when it is more than `startingDeadlineSeconds` old. Two consequences people trip on:
- `@every D` counts from the last schedule time, and with startingDeadlineSeconds shorter than D
  the next tick always lies beyond the deadline window: no Job is ever created;
- a schedule with no activation within five years (`0 0 31 2 *`) is an `InvalidSchedule`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cronjobs.cron.spec import CronError, Every, Schedule, load_location, parse

TOO_MANY = 100
"""More unmet ticks than this: the TooManyMissedTimes warning."""
NEXT_SCHEDULE_DELTA = timedelta(milliseconds=100)
"""The controller requeues a CronJob this long after its next tick (controllerv2.go)."""


def format_schedule(schedule: str, time_zone: str | None) -> str:
    """The spec the controller parses (formatSchedule): a schedule naming TZ wins over
    spec.timeZone; a timeZone that does not load is ignored here (syncCronJob then stops with
    UnknownTimeZone: see `never_runs`)."""
    if "TZ" in schedule or time_zone is None:
        return schedule
    try:
        load_location(time_zone)
    except CronError:
        return schedule
    return f"TZ={time_zone} {schedule}"


@dataclass(frozen=True)
class Recent:
    """What mostRecentScheduleTime returns."""

    earliest: datetime
    """The last schedule time, else the creation time (moved to now - deadline when later)."""
    most_recent: datetime | None
    """The most recent tick at or before now, or None."""
    missed: str
    """none, few or many (over TOO_MANY ticks since `earliest`)."""
    error: str | None = None
    """Set where the controller reports InvalidSchedule."""


def _next(schedule: Schedule, t: datetime | None) -> datetime | None:
    return None if t is None else schedule.next(t)


def most_recent_schedule_time(
    schedule: Schedule,
    now: datetime,
    *,
    created: datetime,
    last_scheduled: datetime | None = None,
    starting_deadline_seconds: int | None = None,
    include_deadline: bool = True,
) -> Recent:
    """utils.go mostRecentScheduleTime, line for line (None stands for Go's zero time)."""
    earliest = last_scheduled or created
    if include_deadline and starting_deadline_seconds is not None:
        deadline = now - timedelta(seconds=starting_deadline_seconds)
        earliest = max(earliest, deadline)
    t1 = _next(schedule, earliest)
    t2 = _next(schedule, t1)
    if t1 is not None and now < t1:
        return Recent(earliest, None, "none")
    if t1 is not None and t2 is not None and now < t2:
        return Recent(earliest, t1, "none")
    between = round((t2 - t1).total_seconds()) if t1 is not None and t2 is not None else 0
    if between < 1:
        return Recent(
            earliest, None, "none", "time difference between two schedules is less than 1 second"
        )
    assert t1 is not None
    elapsed = int((now - t1).total_seconds())
    missed_count = elapsed // between + 1
    potential = t1 + timedelta(seconds=(missed_count - 2) * between)
    most_recent: datetime | None = None
    t = schedule.next(potential)
    while t is not None and t <= now:
        most_recent = t
        t = schedule.next(t)
    missed = "many" if missed_count > TOO_MANY else "few" if missed_count > 0 else "none"
    return Recent(earliest, most_recent, missed)


def next_schedule_time(
    schedule: Schedule,
    now: datetime,
    *,
    created: datetime,
    last_scheduled: datetime | None = None,
    starting_deadline_seconds: int | None = None,
) -> tuple[datetime | None, str | None]:
    """utils.go nextScheduleTime: the tick the controller would start a Job for now (or None),
    and the InvalidSchedule error, if any."""
    recent = most_recent_schedule_time(
        schedule,
        now,
        created=created,
        last_scheduled=last_scheduled,
        starting_deadline_seconds=starting_deadline_seconds,
    )
    if recent.most_recent is None or recent.most_recent > now:
        return None, recent.error
    return recent.most_recent, recent.error


def requeue_after(
    schedule: Schedule,
    now: datetime,
    *,
    created: datetime,
    last_scheduled: datetime | None = None,
) -> timedelta | None:
    """utils.go nextScheduleTimeDuration: how long until the controller looks again (None where
    robfig finds no next time)."""
    recent = most_recent_schedule_time(
        schedule, now, created=created, last_scheduled=last_scheduled, include_deadline=False
    )
    if recent.error is not None:
        base = now
    elif recent.most_recent is None:
        base = recent.earliest if recent.missed == "none" else now
    else:
        base = recent.most_recent
    nxt = schedule.next(base)
    return None if nxt is None else nxt + NEXT_SCHEDULE_DELTA - now


def never_runs(
    schedule: str, time_zone: str | None, starting_deadline_seconds: int | None, now: datetime
) -> str | None:
    """Why the controller will never create a Job for this CronJob, and what to change, in
    words; None if it will."""
    if time_zone is not None and "TZ" not in schedule:
        try:
            load_location(time_zone)
        except CronError:
            return (
                f"its timeZone {time_zone!r} is unknown (the controller reports "
                "UnknownTimeZone): set an IANA zone such as Europe/Paris"
            )
    try:
        parsed = parse(format_schedule(schedule, time_zone))
    except CronError as e:
        return f"the controller cannot parse its schedule ({e}): fix the schedule"
    if isinstance(parsed, Every):
        if starting_deadline_seconds is not None and starting_deadline_seconds < parsed.seconds:
            return (
                f"@every counts from the last run, so the next run is always {parsed.seconds}s "
                f"away, past startingDeadlineSeconds={starting_deadline_seconds}: raise "
                f"startingDeadlineSeconds to at least {parsed.seconds}, or use a cron schedule"
            )
        return None
    if parsed.next(now) is None:
        return (
            "its schedule names no time that exists within five years (the controller reports "
            "InvalidSchedule; e.g. day 31 of a month that has 30 days): fix the schedule"
        )
    if starting_deadline_seconds == 0:
        return (
            "startingDeadlineSeconds is 0, and the controller acts 100 ms after each tick, "
            "already past the deadline: raise it (at least 10)"
        )
    return None
