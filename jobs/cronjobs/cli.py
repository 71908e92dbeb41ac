"""`cronjobs`: the image's entrypoint, one subcommand per maintenance job.

This module only parses flags, calls the job functions, renders their results and exits with
the documented code (jobs/cronjobs/exitcodes.py). Heavy libraries are imported inside the commands.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from cronjobs import __version__, logs, options, registry, tick
from cronjobs.builtin import catalogue as catalogue  # registers the built-in jobs
from cronjobs.cliutil import (
    SECRET_SETTINGS,
)
from cronjobs.errors import ConfigError
from cronjobs.redact import forget, remember, scrub
from cronjobs.render import table, to_json
from cronjobs.settings import ENV, connection_environ, exported, flags_in, secrets_of
from cronjobs.urls import secrets_in

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("cronjobs.cli")


class CatalogueGroup(click.Group):
    """The subcommands of the job registry, one per job, each built from its `@job` (the
    built-ins registered on import, jobs/cronjobs/builtin/catalogue.py; the app's found on
    first need, jobs/cronjobs/discovery.py; the APScheduler app's snake_case ids are aliases),
    and the commands that are not jobs."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        job = registry.find(cmd_name)
        if job is None and cmd_name not in self.commands:
            _discover(ctx)
            job = registry.find(cmd_name)
        if job is not None:
            from cronjobs.cli_app import command_for

            return command_for(job)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        # Finding a job by its name imports the app's modules, before click parses the job's
        # flags: a connection flag among them reaches the app's code as its variable already.
        flagged = flags_in(args[1:])
        remember(secrets_of(*(flagged.get(k) for k in SECRET_SETTINGS)))
        ctx.with_resource(exported(connection_environ(flagged)))
        return super().resolve_command(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        # --help still shows the built-ins when an app module is broken; running one of the
        # app's jobs (or `list`) is where the error stops the command.
        _discover(ctx, fatal=False)
        return sorted(set(self.commands) | {j.command for j in registry.registered()})

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:  # fmt: skip
        # Before click parses anything (--help lists commands, a job's name looks it up, and
        # either imports the app's modules): every secret known, every log line scrubbed.
        forget()
        tick.forget()  # each invocation resolves its own run's tick
        remember(secrets_of(*(os.environ.get(ENV[k]) for k in SECRET_SETTINGS)))
        remember([os.environ.get("CRONJOBS_PING_URL", "")])  # its token, whole and in parts
        remember(secrets_in(os.environ.get("CRONJOBS_PING_URL", "")))
        logs.configure("auto", "INFO")
        return super().make_context(info_name, args, parent, **extra)


def _discover(ctx: click.Context, *, fatal: bool = True) -> None:
    """Find the app's jobs; a module that fails to import or registers wrongly is exit 2 (a
    warning on stderr where only the list of commands needs them)."""
    from cronjobs.discovery import discover

    try:
        discover()
    except ConfigError as e:
        click.echo(f"{'Error' if fatal else 'Warning'}: {scrub(str(e))}", err=True)
        if fatal:
            ctx.exit(int(e.exit_code))


@click.group(
    cls=CatalogueGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="cronjobs")
@click.option(
    "--log-format",
    envvar="CRONJOBS_LOG_FORMAT",
    show_envvar=True,
    type=click.Choice(["auto", "json", "text"]),
    default="auto",
    show_default=True,
    help="Logs on stderr: JSON lines (pods), readable text (terminals); auto picks by terminal.",
)
@click.option(
    "--log-level",
    envvar="CRONJOBS_LOG_LEVEL",
    show_envvar=True,
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
    help="Least severe log level shown.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, log_format: str, log_level: str, verbose: bool) -> None:
    """Maintenance jobs for the app, one subcommand each, for Kubernetes CronJobs.

    Exit codes: 0 done or nothing to do, 1 the job failed, 2 usage or configuration error,
    3 skipped (another run holds the lock), 4 interrupted by SIGTERM (committed work stays).
    """
    ctx.obj = {"verbose": verbose, "json": logs.resolve_format(log_format) == "json"}
    logs.configure(log_format, "DEBUG" if verbose else log_level)


@cli.command("list")
@options.output
def list_jobs(output: str) -> None:
    """List the jobs, built-in and the app's: subcommand, default schedule (UTC), id,
    description."""
    _discover(click.get_current_context())
    jobs = registry.registered()
    if output == "json":
        fields = ("id", "command", "schedule", "every", "description", "needs", "mutating")
        listed = [
            {f: getattr(j, f) for f in fields} | {"module": j.module, "builtin": j.builtin}
            for j in jobs
        ]
        click.echo(to_json(listed))
        return
    rows = [
        {"command": j.command, "schedule": j.schedule, "id": j.id, "description": j.description}
        for j in jobs
    ]
    click.echo(table(rows, ["command", "schedule", "id", "description"]))


from cronjobs.cli_app import COMMANDS as APP_COMMANDS  # noqa: E402
from cronjobs.dev.commands import COMMANDS as DEV_COMMANDS  # noqa: E402

for _command in (*APP_COMMANDS, *DEV_COMMANDS):
    cli.add_command(_command)


def main() -> None:
    from cronjobs import signals

    if not signals.installed():  # a console script made before cronjobs.entry: install late
        signals.install()
    cli(prog_name="cronjobs")
