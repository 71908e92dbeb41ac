"""aggregate-daily-analytics: the job's declaration (its schedule, its flags, the days it works
on); the roll-up itself is cronjobs.builtin.analytics. Importing this module costs no SQLAlchemy:
`cronjobs list` reads it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from cronjobs import options, tick
from cronjobs.registry import job
from cronjobs.retention import ANALYTICS_DAYS

if TYPE_CHECKING:
    from cronjobs.builtin.analytics import AggregateResult
    from cronjobs.context import JobContext
    from cronjobs.retention.names import AnalyticsNames


class _Day(click.ParamType[date]):
    """A UTC day as YYYY-MM-DD; a date that does not exist (2024-02-30) says so."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: Any, ctx: Any) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError as e:
            shape = re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value).strip())
            why = f"no such day ({e})" if shape else "expected a day as YYYY-MM-DD"
            self.fail(f"{value!r}: {why}", param, ctx)


_date = _Day()


def days(ctx: JobContext) -> list[date]:
    """The UTC days the run aggregates: --date, --since/--until, or the day before the run's
    tick; a click.UsageError (exit 2, before the run starts) for flags that do not go together."""
    from cronjobs.builtin.analytics import MAX_BACKFILL_DAYS, days_between

    day, since, until = (ctx.options[k] for k in ("day", "since", "until"))
    today = datetime.now(UTC).date()
    yesterday = tick.this_run().at.date() - timedelta(days=1)  # the day before the run's tick
    for flag, value in (("--date", day), ("--since", since), ("--until", until)):
        if value and value > today:
            raise click.UsageError(
                f"{flag} {value} is in the future (today is {today} UTC): there is nothing to "
                "aggregate yet"
            )
    if day and (since or until):
        raise click.UsageError("give --date, or --since/--until, not both")
    if until and not since:
        raise click.UsageError("--until needs --since")
    if since and until and until < since:
        raise click.UsageError(f"--until {until} is before --since {since}: swap them")
    if since and not until and since > yesterday:
        raise click.UsageError(f"--since {since} is after yesterday ({yesterday}): give --until")
    if since and ((until or yesterday) - since).days >= MAX_BACKFILL_DAYS:
        raise click.UsageError(f"a backfill covers at most {MAX_BACKFILL_DAYS} days: split it")
    if since:
        return days_between(since, until or yesterday)
    return [day or yesterday]


@job(
    schedule="0 1 * * *",
    description="Roll a UTC day's raw analytics events (default: yesterday) up into "
    "daily_analytics: events and distinct users per event type.",
    mutating=True,
    needs=("database",),
    check=days,
    options=[
        options.rules,
        click.option(
            "--date",
            "day",
            type=_date,
            help="The UTC day to aggregate. [default: the day before the run's tick: yesterday "
            "for a run on time, the tick's yesterday for a late or retried one]",
        ),
        click.option("--since", type=_date, help="Backfill from this UTC day (inclusive)."),
        click.option(
            "--until",
            type=_date,
            help="Backfill up to this UTC day (inclusive). [default: the day before the run's "
            "tick]",
        ),
        click.option(
            "--force",
            is_flag=True,
            help=f"Recompute days older than the analytics retention ({ANALYTICS_DAYS} days) "
            "that already have figures; their raw events may be partly deleted, so this can "
            "replace complete figures.",
        ),
        click.option(
            "--ensure-partitions",
            type=click.IntRange(0, 36),
            default=2,
            show_default=True,
            metavar="MONTHS",
            help="If analytics_events is partitioned (PostgreSQL), first create this month's "
            "partition and the next MONTHS months' where missing, so inserts never lack one.",
        ),
    ],
)
def aggregate_daily_analytics(ctx: JobContext) -> AggregateResult:
    from cronjobs.builtin.analytics import aggregate
    from cronjobs.builtin.partition_months import ensure_ahead

    tables = _tables(ctx)
    if not ctx.dry_run:
        ensure_ahead(ctx.db, tables.events, ctx.options["ensure_partitions"])
    retained_from = ctx.now.date() - timedelta(days=ANALYTICS_DAYS)
    return aggregate(
        ctx.db,
        days(ctx),
        dry_run=ctx.dry_run,
        stop=ctx.stop,
        keep_before=None if ctx.options["force"] else retained_from,
        now=ctx.fixed_now,
        tables=tables,
    )


def _tables(ctx: JobContext) -> AnalyticsNames:
    """The built-in tables' names, or a rules file's tables, checked and reflected (with
    SQLAlchemy, only then)."""
    from cronjobs.retention.names import DEFAULT_ANALYTICS, analytics_names
    from cronjobs.retention.rules import DEFAULTS, load

    loaded = load(ctx.options.get("rules"))
    if loaded is DEFAULTS:
        return DEFAULT_ANALYTICS
    from cronjobs.retention import rule_tables

    with rule_tables.checked(ctx, loaded) as engine:
        return analytics_names(rule_tables.analytics(engine, loaded)[1])
