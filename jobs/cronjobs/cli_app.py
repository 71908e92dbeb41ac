"""The app's own jobs on the command line: a subcommand per `@job`, `run MODULE:FUNCTION`,
`chart-values`. CLI layer only: parse, call (cronjobs.runner, cronjobs.chart_values), render, exit."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from cronjobs import options
from cronjobs.cliutil import finish, handles_errors, run_environ, settings_from
from cronjobs.errors import ConfigError
from cronjobs.registry import Job
from cronjobs.settings import exported

_BY_NEED = {"database": options.database, "redis": options.redis, "qdrant": options.qdrant}


def command_for(job: Job) -> click.Command:
    """The subcommand of a registered job, built-in or the app's: --scheduled-at, its
    connection flags, its own options, --dry-run when it changes data, timeouts (--lock-timeout
    when it uses the database), -o; an app's job also takes extra ARGS, passed on as
    `ctx.args`."""
    schedule = f"every {job.every} ({job.schedule})" if job.every else f"'{job.schedule}'"
    if job.builtin:
        about = f"APScheduler id: {job.id}."
    else:
        about = (
            f"Registered in {job.module}. ARGS reach the job as ctx.args (after `--` if they "
            "start with '-')."
        )

    @handles_errors
    def callback(**kw: Any) -> None:
        from cronjobs.redact import scrubbed_output
        from cronjobs.runner import run_registered

        settings = settings_from(kw)
        with exported(run_environ(kw)), scrubbed_output():
            result = run_registered(
                job,
                settings,
                dry_run=bool(kw.get("dry_run")),
                args=tuple(kw.get("args", ())),
                options={name: kw[name] for name in job.defaults},
                scheduled_at=kw["scheduled_at"],
            )
        finish(result, kw["output"])

    flags = [options.scheduled_at, *(_BY_NEED[need] for need in job.needs), *job.options]
    if job.mutating:
        flags.append(options.dry_run)
    flags += [options.timeouts if "database" in job.needs else options.timeout, options.output]
    if not job.builtin:
        flags.append(click.argument("args", nargs=-1, type=click.UNPROCESSED))
    f: Any = callback
    for flag in reversed(flags):
        f = flag(f)
    return click.command(
        job.command,
        help=f"{job.description}\n\nDefault schedule: {schedule} (UTC). {about}",
    )(f)


def resolve(target: str) -> Job:
    """A Job for `module:function` (registered or not), or a ConfigError saying what is wrong."""
    from cronjobs import registry

    module_name, colon, attr = target.partition(":")
    if not colon or not module_name or not attr:
        raise ConfigError(f"{target!r} is not MODULE:FUNCTION, e.g. app.services.cron_jobs:cleanup")
    from cronjobs.discovery import import_module

    module = import_module(module_name, "cronjobs run")
    func = getattr(module, attr, None)
    if not callable(func):
        raise ConfigError(f"{module_name} has no function {attr!r}")
    for registered in registry.registered():  # by identity: a renamed job is still found
        if registered.func is func:
            return registered
    return registry.adhoc(func, target, module_name)


@click.command("run")
@click.argument("target", metavar="MODULE:FUNCTION")
@options.scheduled_at
@options.database
@options.redis
@options.qdrant
@options.dry_run
@options.timeouts
@options.output
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@handles_errors
def run_command(target: str, **kw: Any) -> None:
    """Run one function of the app as a job, registered or not (the old
    `asyncio.run(cron_jobs.x())` way of testing a job), with the same run id, logs, SIGTERM
    handling and exit codes as every job. The function takes the JobContext, or nothing; with
    DATABASE_URL set, the run holds the function's database lock. A connection flag reaches
    the app's code as the variable it stands for (--database-url as DATABASE_URL). ARGS reach it as ctx.args
    (after `--` if they start with '-'): a mistyped flag is an error, never an argument."""
    from cronjobs.redact import scrubbed_output
    from cronjobs.runner import run_registered

    settings = settings_from(kw)
    with exported(run_environ(kw)):  # the app's code reads them too, from its import on
        job = resolve(target)
        if job.schedule == "" and kw.get("database_url"):  # not registered: lock on the database
            job = dataclasses.replace(job, needs=("database",))
        with scrubbed_output():
            result = run_registered(
                job,
                settings,
                dry_run=kw["dry_run"],
                args=tuple(kw["args"]),
                scheduled_at=kw["scheduled_at"],
            )
    finish(result, kw["output"])


def _image(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    from cronjobs.chart_values import image_values

    try:
        return image_values(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from e


image_option = click.option(
    "--image",
    metavar="REPO[:TAG][@DIGEST]",
    callback=_image,
    help="The app's image (it holds the app and cronjobs): written as `image:` on each of the "
    "app's jobs, which the chart's own image cannot run.",
)


@click.command("chart-values")
@image_option
@handles_errors
def chart_values_command(image: dict[str, str] | None) -> None:
    """Print the chart's `jobs:` values for every job this installation knows (the built-ins
    and the app's registered ones), so `helm upgrade ... -f <(cronjobs chart-values)` keeps the
    chart in step with the code."""
    from cronjobs.chart_values import values_yaml
    from cronjobs.discovery import discover
    from cronjobs.registry import registered

    discover()
    click.echo(values_yaml(registered(), image), nl=False)


@click.command("import-apscheduler")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@image_option
@click.pass_context
@handles_errors
def import_apscheduler_command(
    ctx: click.Context, paths: tuple[str, ...], image: dict[str, str] | None
) -> None:
    """Read the app's APScheduler registrations (add_job, scheduled_job, CronTrigger,
    IntervalTrigger, and the scheduler_service wrapper's add_cron_job / add_interval_job) from
    its Python source, without importing or running it, and print the chart's `jobs:` values
    for them. What cannot be mapped (jitter, date triggers, seconds, uneven intervals...) is
    reported per job on stderr. Exit 0 when every job was mapped, 1 when some were not (the
    others are still printed), 2 for a path that is not there or a file that does not parse."""
    from cronjobs.discovery import discover
    from cronjobs.migrate import import_apscheduler

    discover()  # a function the installed app registered maps to its own subcommand
    result = import_apscheduler(list(paths))
    click.echo(result.values_yaml(image), nl=False)
    for line in result.problems:
        click.echo(line, err=True)
    ctx.exit(int(result.exit_code))


@click.group("retention")
def retention_group() -> None:
    """The retention rules: which tables the cleanups delete from, and how."""


@retention_group.command("show")
@options.rules
@options.database
@options.timeouts
@options.output
@handles_errors
def retention_show(**kw: Any) -> None:
    """Print the effective retention rules (a rules file's, or the built-in tables'); with a
    database, also the schema check's findings, how many rows each rule would touch now, and
    the SQL the jobs run there. Exit 2 when the rules do not match the database."""
    from cronjobs.builtin.retention_report import report
    from cronjobs.retention.rules import load

    rules = load(kw["rules"])
    settings = settings_from(kw)
    engine = None
    if settings.database_url:
        from cronjobs.database import connect, describe
        from cronjobs.db_errors import translate_errors
        from cronjobs.dbapi import require_existing

        require_existing(settings.database_url)
        engine = connect(settings.database_url, settings.timeout, settings.lock_timeout)
        try:
            result = translate_errors(describe(engine), report, rules, engine)
        finally:
            engine.dispose()
    else:
        result = report(rules)
    finish(result, kw["output"])


COMMANDS: list[click.Command] = [
    run_command,
    chart_values_command,
    import_apscheduler_command,
    retention_group,
]
"""This module's commands: jobs/cronjobs/cli.py adds them to the group."""
