"""The example app's start-up module from the APScheduler days (before its jobs became CronJobs).

At start-up the web process registered the jobs of app/services/cron_jobs.py with the in-process
scheduler, and ran them itself. To move them to Kubernetes:

    cronjobs import-apscheduler examples/app/main.py > jobs-values.yaml

prints the chart values for these registrations (`run app.services.cron_jobs:...` for each).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from app.services import cron_jobs
from app.services.scheduler_service import scheduler_service
from fastapi import FastAPI, HTTPException


def register_jobs() -> None:
    scheduler_service.add_cron_job(
        cron_jobs.purge_expired_tokens,
        cron_expression="0 */4 * * *",
        job_id="purge_expired_tokens",
    )
    scheduler_service.add_interval_job(
        cron_jobs.refresh_search_index, minutes=15, job_id="refresh_search_index"
    )
    scheduler_service.scheduler.add_job(
        cron_jobs.send_weekly_digest,
        "cron",
        day_of_week="sun",
        hour=6,
        id="send_weekly_digest",
        name="E-mail the weekly digest",
        timezone="Europe/Paris",
        max_instances=1,
        misfire_grace_time=3600,
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    register_jobs()
    scheduler_service.start()
    yield
    scheduler_service.shutdown()


app = FastAPI(title="Example app", lifespan=lifespan)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/admin/jobs")
async def list_jobs() -> list[dict[str, Any]]:
    return scheduler_service.get_jobs()


@app.post("/admin/jobs/{job_id}/pause")
async def pause_job(job_id: str) -> dict[str, str]:
    try:
        scheduler_service.pause_job(job_id)
    except LookupError as e:  # apscheduler.jobstores.base.JobLookupError
        raise HTTPException(status_code=404, detail=f"no job {job_id!r}") from e
    return {"paused": job_id}


@app.post("/admin/jobs/{job_id}/resume")
async def resume_job(job_id: str) -> dict[str, str]:
    try:
        scheduler_service.resume_job(job_id)
    except LookupError as e:
        raise HTTPException(status_code=404, detail=f"no job {job_id!r}") from e
    return {"resumed": job_id}
