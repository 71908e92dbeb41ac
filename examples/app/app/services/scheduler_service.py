"""The app's scheduler wrapper from the APScheduler days: jobs ran inside the web process.

Kept so `cronjobs import-apscheduler` can be shown on the real thing: `main.py` registers the
jobs through `add_cron_job` and `add_interval_job`. A cron expression is read by APScheduler 3's
`CronTrigger.from_crontab`, which numbers the days of the week 0 = Monday (unlike cron).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}


class SchedulerService:
    def __init__(self) -> None:
        self.scheduler = AsyncIOScheduler(timezone="UTC", job_defaults=JOB_DEFAULTS)

    def start(self) -> None:
        if not self.scheduler.running:
            self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def add_cron_job(
        self,
        func: Callable[..., Any],
        cron_expression: str,
        job_id: str | None = None,
        **kwargs: Any,
    ) -> str:
        """Run `func` on a crontab schedule ("0 */4 * * *"); returns the job id."""
        trigger = CronTrigger.from_crontab(cron_expression, timezone=self.scheduler.timezone)
        job = self.scheduler.add_job(
            func, trigger, id=job_id or func.__name__, replace_existing=True, **kwargs
        )
        return str(job.id)

    def add_interval_job(
        self,
        func: Callable[..., Any],
        *,
        weeks: int = 0,
        days: int = 0,
        hours: int = 0,
        minutes: int = 0,
        seconds: int = 0,
        job_id: str | None = None,
        **kwargs: Any,
    ) -> str:
        """Run `func` every so often (minutes=15, hours=2); returns the job id."""
        trigger = IntervalTrigger(
            weeks=weeks,
            days=days,
            hours=hours,
            minutes=minutes,
            seconds=seconds,
            timezone=self.scheduler.timezone,
        )
        job = self.scheduler.add_job(
            func, trigger, id=job_id or func.__name__, replace_existing=True, **kwargs
        )
        return str(job.id)

    def get_jobs(self) -> list[dict[str, Any]]:
        return [
            {
                "id": job.id,
                "name": job.name,
                "trigger": str(job.trigger),
                "next_run_time": job.next_run_time.isoformat() if job.next_run_time else None,
            }
            for job in self.scheduler.get_jobs()
        ]

    def pause_job(self, job_id: str) -> None:
        self.scheduler.pause_job(job_id)

    def resume_job(self, job_id: str) -> None:
        self.scheduler.resume_job(job_id)

    def remove_job(self, job_id: str) -> None:
        self.scheduler.remove_job(job_id)


scheduler_service = SchedulerService()
