"""`cronctl next`, `explain` and `check`: the commands that say what will run, what did not and
why, and whether the jobs are healthy. Registered on the `cronctl` group by cronjobs.cronctl.cli."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import click

from cronjobs.cronctl.options import (
    Duration,
    Instant,
    Since,
    connect,
    connection_options,
    echo,
    output_option,
    selection_options,
    state,
    typed_selector,
)
from cronjobs.exitcodes import ExitCode

log = logging.getLogger("cronctl")


@click.command("next")
@click.argument("name")
@click.option(
    "--count", type=click.IntRange(1, 1000), default=5, show_default=True, help="How many runs."
)
@click.option(
    "--from",
    "from_",
    type=Instant(),
    help="Runs after this time instead of now (e.g. across a DST change).",
)
@output_option("table", "json", "yaml")
@connection_options(top=False)
def next_cmd(name: str, count: int, from_: datetime | None) -> None:
    """The next runs, in the CronJob's time zone and in UTC, with DST marks.

    Marks the wall-clock times a DST change skips (no run that day), repeats (two runs) or
    shifts (the gap to the previous run is not the usual one), as the CronJob controller's
    parser (robfig/cron v3) fires them."""
    from cronjobs.cronctl import render, render_why

    c, s = connect(), state()
    result = c.upcoming(name, count, after=from_)
    if result.info.suspended:
        log.warning("CronJob %s is suspended: these runs happen only once it is resumed.", name)
    if s.structured:
        echo(render.dump(result.to_dict(), s.output))
    else:
        echo(render_why.upcoming(result))


@click.command()
@click.argument("name")
@click.option(
    "--since",
    type=Since(),
    help="Start of the window: a duration back (24h, 7d) or a UTC time "
    "(default: 7d, or since the CronJob's creation).",
)
@click.option(
    "--no-limit",
    is_flag=True,
    help="Judge any window: without it, --since goes back at most 31 days and the window "
    "holds at most 10080 ticks (a week of every minute; the default 7 days is shortened to fit).",
)
@output_option("table", "json", "yaml")
@connection_options(top=False)
def explain(name: str, since: timedelta | datetime | None, no_limit: bool) -> None:
    """Which ticks did not run and why; the last failure; what to do.

    Every tick the schedule should have fired in the window, matched to its Job; each missed
    tick with its reason (suspended, forbid, deadline, too-many-missed, controller); ticks older
    than the Jobs and Events the cluster keeps are "unknown". Then the last failure (reason,
    exit code and its meaning, the run's summary), the Events, and one line saying what to do."""
    from cronjobs.cronctl import render, render_why

    c, s = connect(), state()
    start = c.clock() - since if isinstance(since, timedelta) else since
    if start is not None and start > c.clock():
        raise click.BadParameter(
            f"{start.isoformat()} is in the future: give a time in the past or a duration "
            "back from now (24h, 7d)",
            param_hint="'--since'",
        )
    unbounded = {"max_ticks": None, "max_window": None} if no_limit else {}
    result = c.explain(name, start, **unbounded)
    if s.structured:
        echo(render.dump(result.to_dict(), s.output))
    else:
        echo(render_why.explanation(result, c.clock()))


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--all", "all_", is_flag=True, help="Every CronJob matching -l.")
@click.option(
    "--max-age",
    type=Duration(),
    help="A success must be newer than this (default: twice the schedule's longest interval).",
)
@click.option(
    "--max-suspended",
    type=Duration(),
    help="Suspended for longer is a problem (default: the --max-age window).",
)
@click.option(
    "--max-failures",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Failed runs in a row allowed before it is a problem.",
)
@selection_options("With -l or --all: select")
@output_option("table", "json", "yaml")
@connection_options(top=False)
def check(
    names: tuple[str, ...],
    all_: bool,
    max_age: timedelta | None,
    max_suspended: timedelta | None,
    max_failures: int,
) -> None:
    """Whether the jobs are healthy: exit 0, or 1 with one line per problem.

    Healthy: a success within the window (default twice the schedule's longest interval, like
    the chart's alert), not suspended past --max-suspended, no more than --max-failures failed
    runs in a row. For CI, cron from outside, and monitoring that cannot read Prometheus."""
    from cronjobs.cronctl import render, render_why

    c, s = connect(), state()
    checked = c.check(
        names,
        selector=typed_selector(),
        all=all_,
        max_age=max_age,
        max_suspended=max_suspended,
        max_failures=max_failures,
    )
    ok = not any(h.problems for h in checked)
    if s.structured:
        echo(render.dump({"ok": ok, "checked": [h.to_dict() for h in checked]}, s.output))
    else:
        echo(render_why.health(checked))
    if not ok:
        raise click.exceptions.Exit(int(ExitCode.FAILED))
