"""cleanup-old-analytics: the job's declaration (its schedule and flags); what it does is
cronjobs.builtin.analytics_cleanup. Importing this module costs no SQLAlchemy: `cronjobs list`
reads it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click

from cronjobs import options
from cronjobs.registry import job
from cronjobs.retention import ANALYTICS_DAYS as DAYS

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from cronjobs.builtin.analytics_cleanup import AnalyticsCleanupResult
    from cronjobs.context import JobContext
    from cronjobs.retention.names import AnalyticsNames
    from cronjobs.retention.rules import RetentionRule


@job(
    schedule="0 3 * * 0",
    description=f"Delete raw analytics events of whole UTC days older than {DAYS} days, each "
    "counted in daily_analytics by the transaction deleting it (a partition: dropped once each "
    "of its days has figures).",
    mutating=True,
    needs=("database",),
    options=[
        options.rules,
        options.older_than_days(DAYS),
        options.batch_events,
        options.batch_time,
        click.option(
            "--aggregate-missing/--no-aggregate-missing",
            default=True,
            show_default=True,
            help="Aggregate old days that have no daily figures before deleting their raw "
            "events; with --no-aggregate-missing such days make the job fail and nothing is "
            "deleted.",
        ),
        click.option(
            "--recount-partitions",
            is_flag=True,
            help="On a partitioned table, also count every event of a partition against its "
            "daily figures before dropping it (reads all of it; short figures are aggregated "
            "first, figures counting more keep it). Without it, a partition is dropped once "
            "every UTC day it holds has figures, checked by one index probe per day: events "
            "that arrived after their day was aggregated are dropped uncounted.",
        ),
        click.option(
            "--exact-cutoff",
            is_flag=True,
            envvar="CRONJOBS_ANALYTICS_EXACT_CUTOFF",
            show_envvar=True,
            help="On a partitioned table, also delete the old days of the partition holding "
            "the cutoff, row by row. Without it only whole partitions go: the events kept are "
            "at least --older-than-days old and at most one partition (a month) more.",
        ),
    ],
)
def cleanup_old_analytics(ctx: JobContext) -> AnalyticsCleanupResult:
    from cronjobs.builtin.analytics_cleanup import cleanup_old_analytics as cleanup

    rule, tables = _rule_and_tables(ctx)
    return cleanup(
        ctx.db,
        older_than_days=ctx.options["older_than_days"],
        batch_size=ctx.options["batch_size"],
        batch_time=ctx.options["batch_time"],
        aggregate_missing=ctx.options["aggregate_missing"],
        recount_partitions=ctx.options["recount_partitions"],
        exact_cutoff=ctx.options["exact_cutoff"],
        dry_run=ctx.dry_run,
        stop=ctx.stop,
        now=ctx.now,
        rule=rule,
        tables=tables,
    )


def _rule_and_tables(ctx: JobContext) -> tuple[RetentionRule, AnalyticsNames]:
    """The built-in rule and tables, checked for foreign keys that would cascade from them
    (SQL text on the run's connection); or a rules file's, checked against the database and
    reflected (with SQLAlchemy, only then)."""
    from cronjobs.retention.names import DEFAULT_ANALYTICS, analytics_names
    from cronjobs.retention.rules import DEFAULTS, load

    loaded = load(ctx.options.get("rules"))
    if loaded is DEFAULTS:
        from cronjobs.retention.cascades import require_none_hidden

        for finding in require_none_hidden(ctx.db, loaded, ctx.job):
            log.warning("rules: %s", finding)
        return DEFAULTS.analytics, DEFAULT_ANALYTICS
    from cronjobs.retention import rule_tables

    with rule_tables.checked(ctx, loaded) as engine:
        retention, tables = rule_tables.analytics(engine, loaded)
    return retention.rule, analytics_names(tables)
