"""`cronctl backfill`: parses, calls cronjobs.cronctl.backfill, renders, exits."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import click

from cronjobs.cronctl.options import (
    Instant,
    connect,
    connection_options,
    echo,
    output_option,
    state,
    timeout_option,
)

log = logging.getLogger("cronctl")


@click.command()
@click.argument("name")
@click.option("--from", "start", type=Instant(), required=True, help="The first time (UTC ISO).")
@click.option("--to", "end", type=Instant(), required=True, help="The last time (UTC ISO).")
@click.option(
    "--max",
    "max_ticks",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Refuse (exit 2, nothing created) a range holding more ticks than this.",
)
@click.option("--dry-run", is_flag=True, help="List the ticks and their Job names; create nothing.")
@click.option("--wait", is_flag=True, help="Also follow the last Job, and exit with its result.")
@timeout_option("Seconds to wait for each Job.")
@output_option("table", "json", "yaml")
@connection_options(top=False)
def backfill(
    name: str,
    start: datetime,
    end: datetime,
    max_ticks: int,
    dry_run: bool,
    wait: bool,
    timeout: float,
) -> None:
    """Run the ticks of NAME's schedule between --from and --to, one Job each, oldest first.

    Each Job carries its tick (the run processes that tick's window) and is named
    <cronjob>-bf-<minutes since the epoch>. One at a time: each waits for the CronJob's other
    Jobs to finish. Re-running the same backfill skips the ticks whose Job succeeded; a failed
    Job stops it (exit 1): delete that Job and re-run to retry from its tick."""
    from cronjobs.cronctl import backfill as bf
    from cronjobs.cronctl import render

    c, s = connect(), state()
    if dry_run and wait:
        raise click.UsageError("--dry-run and --wait exclude each other")

    def on_step(step: Any) -> None:
        log.info("job.batch/%s %s (tick %s)", step.job, step.state, step.to_dict()["scheduled_at"])

    result = bf.run(
        c.scope,
        name,
        start,
        end,
        max_ticks=max_ticks,
        dry_run=dry_run,
        wait=wait,
        timeout=timeout,
        on_step=None if s.structured else on_step,
    )
    if s.structured:
        echo(render.dump(result.to_dict(), s.output))
    else:
        suffix = " (dry run)" if dry_run else ""
        for step in result.steps:
            echo(f"{step.to_dict()['scheduled_at']}  job.batch/{step.job} {step.state}{suffix}")
        if not result.steps:
            log.info("No tick of %s's schedule in that range: nothing to do.", name)
    failed = result.failed
    if failed is not None:
        from cronjobs.cronctl.results import exit_code_for

        log.error("Error: %s", bf.failure_message(result))
        raise click.exceptions.Exit(exit_code_for(failed.run) if failed.run else 1)
