"""One cron engine with the Kubernetes CronJob controller's semantics.

- `spec`: robfig/cron v3.0.1's parser and Next (the controller's parser), DST quirks included;
- `controller`: when the controller starts a Job (mostRecentScheduleTime and friends);
- `words`: the schedule in words that are true.

    from cronjobs import cron
    s = cron.parse(cron.format_schedule("30 2 * * *", "America/New_York"))
    s.next(now)   # the next activation, or None (never fires)
"""

from cronjobs.cron.controller import (
    format_schedule,
    most_recent_schedule_time,
    never_runs,
    next_schedule_time,
    requeue_after,
)
from cronjobs.cron.spec import CronError, Every, OutOfRange, Schedule, Spec, parse
from cronjobs.cron.words import describe

__all__ = [
    "CronError",
    "Every",
    "OutOfRange",
    "Schedule",
    "Spec",
    "describe",
    "format_schedule",
    "most_recent_schedule_time",
    "never_runs",
    "next_schedule_time",
    "parse",
    "requeue_after",
]
