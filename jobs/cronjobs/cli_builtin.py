"""The built-in jobs' subcommands, each with its own flags (the app's are built from `@job`
in jobs/cronjobs/cli_app.py). CLI layer only: parse, call the job's functions, render, exit."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import click

from cronjobs import logs, options, registry
from cronjobs.builtin import catalogue
from cronjobs.cliutil import finish, handles_errors, run_on_database, settings_from
from cronjobs.errors import ConfigError
from cronjobs.render import to_json

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("cronjobs.cli")

COMMANDS: list[click.Command] = []
"""Every command of this module, in order: jobs/cronjobs/cli.py adds them to the group."""


def job_command(command: str) -> Callable[[F], click.Command]:
    """A subcommand for a catalogue job, its help taken from the catalogue."""
    job = catalogue.BY_COMMAND[command]
    doc = (
        f"{job.description}\n\nDefault schedule: '{job.schedule}' (UTC). APScheduler id: {job.id}."
    )

    def decorate(f: F) -> click.Command:
        made = click.command(command, help=doc)(options.scheduled_at(handles_errors(f)))
        COMMANDS.append(made)
        return made

    return decorate


@job_command("cleanup-old-sessions")
@options.database
@options.rules
@options.older_than_days(90)
@options.batch_size
@options.batch_time
@options.dry_run
@options.timeouts
@options.output
def cleanup_old_sessions(**kw: Any) -> None:
    from cronjobs.builtin import rule_tables
    from cronjobs.builtin.sessions import cleanup_old_sessions as cleanup

    run_on_database(
        "cleanup-old-sessions",
        kw,
        lambda engine, stop: cleanup(
            engine,
            older_than_days=kw["older_than_days"],
            batch_size=kw["batch_size"],
            batch_time=kw["batch_time"],
            dry_run=kw["dry_run"],
            stop=stop,
            rules=rule_tables.sessions(engine, checked_rules(engine, kw)),
        ),
    )


def checked_rules(engine: Any, kw: dict[str, Any]) -> Any:
    """The rules file's rules (or the defaults), those of this command checked against the
    database first: a mismatch is exit 2 before any row is touched; a slow rule a warning."""
    from cronjobs.builtin import rules, schema_check

    loaded = rules.load(kw.get("rules"))
    called = registry.find(click.get_current_context().info_name or "")
    job = called.command if called else None
    if loaded is not rules.DEFAULTS:
        findings = schema_check.require_valid(engine, loaded, job)
    elif job != "aggregate-daily-analytics":  # the built-in tables: only what else a delete takes
        findings = schema_check.require_no_hidden_cascades(engine, loaded, job)
    else:
        findings = []
    for finding in findings:
        log.warning("rules: %s", finding)
    return loaded


def _days(day: date | None, since: date | None, until: date | None) -> list[date]:
    from cronjobs import tick
    from cronjobs.builtin.analytics import MAX_BACKFILL_DAYS, days_between

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


@job_command("aggregate-daily-analytics")
@options.database
@options.rules
@click.option(
    "--date",
    "day",
    type=_date,
    help="The UTC day to aggregate. [default: the day before the run's tick: yesterday for a "
    "run on time, the tick's yesterday for a late or retried one]",
)
@click.option("--since", type=_date, help="Backfill from this UTC day (inclusive).")
@click.option(
    "--until",
    type=_date,
    help="Backfill up to this UTC day (inclusive). [default: the day before the run's tick]",
)
@click.option(
    "--force",
    is_flag=True,
    help="Recompute days older than the analytics retention (365 days) that already have "
    "figures; their raw events may be partly deleted, so this can replace complete figures.",
)
@click.option(
    "--ensure-partitions",
    type=click.IntRange(0, 36),
    default=2,
    show_default=True,
    metavar="MONTHS",
    help="If analytics_events is partitioned (PostgreSQL), first create this month's partition "
    "and the next MONTHS months' where missing, so inserts never lack one.",
)
@options.dry_run
@options.timeouts
@options.output
def aggregate_daily_analytics(**kw: Any) -> None:
    from cronjobs.builtin import rule_tables
    from cronjobs.builtin.analytics import aggregate
    from cronjobs.builtin.partitions import ensure_ahead
    from cronjobs.builtin.retention import ANALYTICS_EVENTS

    days = _days(*(kw[k] for k in ("day", "since", "until")))
    retained_from = datetime.now(UTC).date() - timedelta(days=ANALYTICS_EVENTS.days)

    def work(engine: Any, stop: Any) -> Any:
        tables = rule_tables.analytics(engine, checked_rules(engine, kw))[1]
        if not kw["dry_run"]:
            ensure_ahead(engine, tables.events, kw["ensure_partitions"])
        return aggregate(
            engine,
            days,
            dry_run=kw["dry_run"],
            stop=stop,
            keep_before=None if kw["force"] else retained_from,
            tables=tables,
        )

    run_on_database("aggregate-daily-analytics", kw, work)


@job_command("cleanup-old-analytics")
@options.database
@options.rules
@options.older_than_days(365)
@options.batch_events
@options.batch_time
@click.option(
    "--aggregate-missing/--no-aggregate-missing",
    default=True,
    show_default=True,
    help="Aggregate old days that have no daily figures before deleting their raw events; "
    "with --no-aggregate-missing such days make the job fail and nothing is deleted.",
)
@click.option(
    "--recount-partitions",
    is_flag=True,
    help="On a partitioned table, also count every event of a partition against its daily "
    "figures before dropping it (reads all of it; short figures are aggregated first, figures "
    "counting more keep it). Without it, a partition is dropped once every UTC day it holds "
    "has figures, checked by one index probe per day: events that arrived after their day "
    "was aggregated are dropped uncounted.",
)
@click.option(
    "--exact-cutoff",
    is_flag=True,
    envvar="CRONJOBS_ANALYTICS_EXACT_CUTOFF",
    show_envvar=True,
    help="On a partitioned table, also delete the old days of the partition holding the "
    "cutoff, row by row. Without it only whole partitions go: the events kept are at least "
    "--older-than-days old and at most one partition (a month) more.",
)
@options.dry_run
@options.timeouts
@options.output
def cleanup_old_analytics(**kw: Any) -> None:
    from cronjobs.builtin import rule_tables
    from cronjobs.builtin.analytics_cleanup import cleanup_old_analytics as cleanup

    def work(engine: Any, stop: Any) -> Any:
        rule, tables = rule_tables.analytics(engine, checked_rules(engine, kw))
        return cleanup(
            engine,
            older_than_days=kw["older_than_days"],
            batch_size=kw["batch_size"],
            batch_time=kw["batch_time"],
            aggregate_missing=kw["aggregate_missing"],
            recount_partitions=kw["recount_partitions"],
            exact_cutoff=kw["exact_cutoff"],
            dry_run=kw["dry_run"],
            stop=stop,
            rule=rule,
            tables=tables,
        )

    run_on_database("cleanup-old-analytics", kw, work)


@job_command("cleanup-redis-cache")
@options.redis
@options.cache_prefixes
@click.option(
    "--fix-missing-ttl",
    type=click.IntRange(min=1, max=10**12),  # Redis refuses an expiry past 2**63 ms
    metavar="SECONDS",
    help="Give cache keys that have no TTL this TTL (only if they still have none: an app's "
    "TTL is never changed).",
)
@click.option(
    "--max-keys",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Stop scanning after this many keys in all.",
)
@options.dry_run
@options.timeout
@options.output
def cleanup_redis_cache(**kw: Any) -> None:
    from cronjobs.builtin.cache import cleanup_redis_cache as inspect
    from cronjobs.runner import run

    settings = settings_from(kw)
    url = settings.require_redis()
    result = run(
        catalogue.BY_COMMAND["cleanup-redis-cache"],
        lambda stop: inspect(
            url,
            settings.cache_prefixes,
            timeout=settings.timeout,
            max_keys=kw["max_keys"],
            fix_missing_ttl=kw["fix_missing_ttl"],
            dry_run=kw["dry_run"],
            stop=stop,
        ),
    )
    finish(result, kw["output"])


@job_command("health-check")
@options.database
@options.redis
@options.qdrant
@options.timeouts
@options.output
def health_check(**kw: Any) -> None:
    from cronjobs.builtin.health import health_check as check
    from cronjobs.runner import run

    settings = settings_from(kw)
    if not (settings.database_url or settings.redis_url or settings.qdrant_configured):
        raise ConfigError(
            "nothing to check: set at least one of DATABASE_URL, REDIS_URL, QDRANT_URL or "
            "QDRANT_PATH"
        )
    finish(run(catalogue.BY_COMMAND["health-check"], lambda _stop: check(settings)), kw["output"])


@click.command("init-db")
@options.database
@click.option(
    "--partitioned",
    is_flag=True,
    help="PostgreSQL: create analytics_events partitioned by UTC month (RANGE on occurred_at), "
    "with partitions for the past 13 months and the next 2.",
)
@options.dry_run
@options.timeouts
@handles_errors
def init_db(**kw: Any) -> None:
    """Create the tables the jobs use where they are missing (never alters or drops).

    For development stacks and the demo; in production the app owns its schema.
    """
    from cronjobs.builtin.schema import create_missing

    created = create_missing(
        settings_from(kw), dry_run=kw["dry_run"], partitioned=kw["partitioned"]
    )
    verb = "would create" if kw["dry_run"] else "created"
    click.echo(f"{verb}: {', '.join(created)}" if created else "all tables exist")


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    default="cronjobs-demo",
    show_default=True,
    help="Where to put the SQLite database and the Qdrant folder.",
)
@click.option(
    "--sessions",
    type=click.IntRange(min=10),
    default=3000,
    show_default=True,
    help="How many chat sessions to create.",
)
@click.option(
    "--events",
    type=click.IntRange(min=10),
    default=40_000,
    show_default=True,
    help="How many analytics events to create.",
)
@options.redis
@options.output
@handles_errors
def demo(directory: str, sessions: int, events: int, redis_url: str | None, output: str) -> None:
    """Run every job on an embedded default: a fresh SQLite file and a local Qdrant folder.

    Creates realistic sample data spread over ~400 days, then runs all five jobs through the
    same code as production and prints what each did. Redis is used if REDIS_URL is set. The
    jobs' logs go to DIR/demo.log (to stderr with `cronjobs -v demo`).
    """
    from cronjobs.builtin.demo import prepare_dir, run_demo

    root = prepare_dir(directory)
    obj = click.get_current_context().obj or {}
    if not obj.get("verbose"):  # the jobs' logs go to a file; the terminal gets a line a step
        logs.to_file(root / "demo.log")
    outcome = run_demo(
        root,
        sessions=sessions,
        events=events,
        redis_url=redis_url,
        progress=lambda step: click.echo(f"running {step} ...", err=True),
    )
    if output == "json":
        click.echo(to_json(outcome))
    else:
        click.echo("\n".join(outcome.lines()))
    sys.exit(int(outcome.exit_code))


COMMANDS += [init_db, demo]
