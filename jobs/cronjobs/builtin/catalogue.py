"""The built-in jobs, registered in the job registry (jobs/cronjobs/registry.py) like any app's job.

The registry is the single source of truth for which jobs exist and when they run: `cronjobs
list`, `cronjobs chart-values`, the Helm chart's default values and the README are checked
against it by the test suite. The built-ins' subcommands, with their own flags, are in
jobs/cronjobs/cli.py; an app's jobs get theirs from `@job(...)`.
"""

from __future__ import annotations

from cronjobs.registry import Job, register

JOBS: tuple[Job, ...] = (
    Job(
        id="cleanup_old_sessions",
        command="cleanup-old-sessions",
        schedule="0 2 * * *",
        description=(
            "Delete chat sessions and peptide info sessions whose last activity is older than "
            "90 days, with their messages."
        ),
        needs=("database",),
        mutating=True,
    ),
    Job(
        id="aggregate_daily_analytics",
        command="aggregate-daily-analytics",
        schedule="0 1 * * *",
        description=(
            "Roll a UTC day's raw analytics events (default: yesterday) up into daily_analytics: "
            "events and distinct users per event type."
        ),
        needs=("database",),
        mutating=True,
    ),
    Job(
        id="cleanup_old_analytics",
        command="cleanup-old-analytics",
        schedule="0 3 * * 0",
        description=(
            "Delete raw analytics events of whole UTC days older than 365 days, each counted in "
            "daily_analytics by the transaction deleting it (a partition: dropped once each of "
            "its days has figures)."
        ),
        needs=("database",),
        mutating=True,
    ),
    Job(
        id="cleanup_redis_cache",
        command="cleanup-redis-cache",
        schedule="0 */6 * * *",
        description=(
            "Report the Redis cache's state (memory, hit rate, evictions, keys per prefix, keys "
            "without a TTL); optionally give TTL-less cache keys a TTL."
        ),
        needs=("redis",),
        mutating=True,
    ),
    Job(
        id="health_check_job",
        command="health-check",
        schedule="*/30 * * * *",
        description="Check the database, Redis and Qdrant, each with a timeout; report latency.",
        needs=("database", "redis", "qdrant"),
        mutating=False,
    ),
)

for _builtin in JOBS:
    register(_builtin)

BY_COMMAND: dict[str, Job] = {job.command: job for job in JOBS}
BY_ID: dict[str, Job] = {job.id: job for job in JOBS}
