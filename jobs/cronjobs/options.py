"""Click options shared by the `cronjobs` subcommands, one decorator each.

Every setting is also an environment variable (named in `cronjobs.settings.ENV`), shown in --help.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from cronjobs.settings import DEFAULT_LOCK_TIMEOUT, DEFAULT_TIMEOUT, ENV, MAX_SECONDS, MIN_SECONDS

F = TypeVar("F", bound=Callable[..., Any])


class Seconds(click.FloatRange):
    """A finite number of seconds in range: `inf` and `nan` are refused, not crashed on."""

    name = "seconds"

    def __init__(self, low: float = MIN_SECONDS, high: float = MAX_SECONDS) -> None:
        super().__init__(min=low, max=high)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        rv = super().convert(value, param, ctx)
        if rv != rv:  # nan passes every range comparison
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return rv


MAX_DAYS = 36_500
"""A hundred years: any age beyond it is a typo, and beyond ~2.9 million days dates overflow."""


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(f: F) -> F:
        for d in reversed(decorators):
            f = d(f)
        return f

    return apply


database = click.option(
    "--database-url",
    envvar=ENV["database_url"],
    show_envvar=True,
    metavar="URL",
    help="The app's database: postgresql://user:password@host:5432/db or sqlite:///path.",
)
redis = click.option(
    "--redis-url",
    envvar=ENV["redis_url"],
    show_envvar=True,
    metavar="URL",
    help="The cache: redis://[:password@]host:6379/0.",
)
qdrant = _stack(
    click.option(
        "--qdrant-url",
        envvar=ENV["qdrant_url"],
        show_envvar=True,
        metavar="URL",
        help="Qdrant server, http(s)://host:6333.",
    ),
    click.option(
        "--qdrant-api-key",
        envvar=ENV["qdrant_api_key"],
        show_envvar=True,
        metavar="KEY",
        help="Qdrant API key (never logged).",
    ),
    click.option(
        "--qdrant-path",
        envvar=ENV["qdrant_path"],
        show_envvar=True,
        metavar="DIR",
        help="A local Qdrant folder (embedded mode) instead of a server.",
    ),
)
cache_prefixes = click.option(
    "--cache-prefix",
    "cache_prefixes",
    envvar=ENV["cache_prefixes"],
    show_envvar=True,
    multiple=True,
    metavar="PREFIX",
    help="Cache key prefix to inspect; repeat the flag, or comma-separate in the variable. "
    "[default: cache:]",
)
timeout = click.option(
    "--timeout",
    envvar=ENV["timeout"],
    show_envvar=True,
    type=Seconds(),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for a connection or a check.",
)
timeouts = _stack(  # the commands that use the database
    timeout,
    click.option(
        "--lock-timeout",
        envvar=ENV["lock_timeout"],
        show_envvar=True,
        type=Seconds(),
        default=DEFAULT_LOCK_TIMEOUT,
        show_default=True,
        metavar="SECONDS",
        help="How long a statement may wait for a lock (a cleanup batch waits at most 50 ms for "
        "a row the app holds, then leaves it for the next run).",
    ),
)
output = click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Result summary on stdout: readable text, or JSON for machines.",
)
dry_run = click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
batch_size = click.option(
    "--batch-size",
    envvar="CRONJOBS_BATCH_SIZE",
    show_envvar=True,
    type=click.IntRange(1, 100_000),
    default=1000,
    show_default=True,
    metavar="ROWS",
    help="Rows in the first delete batch (every batch with --batch-time 0); each batch is its "
    "own short transaction.",
)
batch_time = click.option(
    "--batch-time",
    envvar="CRONJOBS_BATCH_TIME",
    show_envvar=True,
    type=Seconds(0, 60),
    default=0.1,
    show_default=True,
    metavar="SECONDS",
    help="Time each delete transaction aims at (an app write waits on one at most about that "
    "long): the batch starts at --batch-size and grows or shrinks to hold it on this machine, "
    "whatever its load. 0 keeps every batch at --batch-size.",
)
batch_events = click.option(
    "--batch-size",
    envvar="CRONJOBS_ANALYTICS_BATCH_SIZE",
    show_envvar=True,
    type=click.IntRange(1, 1_000_000),
    default=20_000,
    show_default=True,
    metavar="EVENTS",
    help="Events in the first transaction (every one with --batch-time 0): whole UTC days are "
    "packed up to the batch's size (by their daily figures); a bigger day is a transaction by "
    "itself, and a day of more than 4 times the size goes a few event types at a time.",
)


def older_than_days(default: int) -> Callable[[F], F]:
    return click.option(
        "--older-than-days",
        type=click.IntRange(1, MAX_DAYS),
        default=None,
        metavar="DAYS",
        help=f"Delete what is older than this many days. [default: {default}, or each rule's "
        "days with --rules]",
    )


rules = click.option(
    "--rules",
    envvar="CRONJOBS_RULES",
    show_envvar=True,
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Retention rules for the app's own schema (TOML); checked against the database before "
    "anything runs. [default: the built-in tables]",
)


def _scheduled_at(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """The time as UTC, checked; the command hands it to the run (jobs/cronjobs/tick.py) and
    exports it as CRONJOBS_SCHEDULED_AT only while the app's code runs."""
    from cronjobs import tick
    from cronjobs.errors import ConfigError

    if value is None or not value.strip():
        return None
    try:
        return tick.parse(value, "--scheduled-at")
    except ConfigError as e:
        raise click.BadParameter(str(e)) from e


scheduled_at = click.option(
    "--scheduled-at",
    metavar="TIME",
    envvar="CRONJOBS_SCHEDULED_AT",
    show_envvar=True,
    callback=_scheduled_at,
    help="The scheduled time this run belongs to (ISO 8601, UTC without an offset); the job "
    "works on that tick's window (aggregate-daily-analytics: the day before it). In a pod: "
    "from the CronJob controller's Job name, or what cronctl set. [default: now]",
)
