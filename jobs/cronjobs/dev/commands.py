"""`cronjobs init-db` and `cronjobs demo`: for development stacks and a first look, not jobs
(no schedule, no CronJob). CLI layer only: parse, call (cronjobs.dev.schema, cronjobs.dev.demo),
render, exit."""

from __future__ import annotations

import sys
from typing import Any

import click

from cronjobs import logs, options
from cronjobs.cliutil import handles_errors, settings_from
from cronjobs.render import to_json


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
    from cronjobs.dev.schema import create_missing

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
    from cronjobs.dev.demo import prepare_dir, run_demo

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


COMMANDS: list[click.Command] = [init_db, demo]
"""This module's commands: jobs/cronjobs/cli.py adds them to the group."""
