"""The job catalogue: the single source of truth for which jobs exist and when they run.

The `cronjobs` CLI, the Helm chart's default values and the README are checked against this
module by the test suite (tests/jobs/test_catalogue.py, tests/chart/...).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    id: str
    """The seed's snake_case name (still accepted as a subcommand alias)."""
    command: str
    """The kebab-case `cronjobs` subcommand, and the key under `jobs:` in the chart's values."""
    schedule: str
    """Default cron schedule, UTC."""
    description: str
    needs: tuple[str, ...]
    """Which dependencies the job talks to: "database", "redis", "qdrant"."""
    mutating: bool
    """Whether the job changes data (and so takes --dry-run)."""


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
            "Delete raw analytics events older than 365 days, aggregating any day that has no "
            "daily figures first."
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

BY_COMMAND: dict[str, Job] = {job.command: job for job in JOBS}
BY_ID: dict[str, Job] = {job.id: job for job in JOBS}


def find(name: str) -> Job | None:
    """Look a job up by its subcommand or its seed id (`cleanup_old_sessions`)."""
    return BY_COMMAND.get(name) or BY_ID.get(name)
