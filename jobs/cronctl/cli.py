"""`cronctl`: list, describe, suspend, resume and trigger the chart's CronJobs.

The CLI only parses, calls `CronJobController`, renders and exits. Data goes to stdout, logs and
progress to stderr. `kubernetes` is imported only when a command connects (not for --help).
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import click

from jobs import __version__
from jobs.cronctl import cli_why
from jobs.cronctl.errors import CronctlError
from jobs.cronctl.options import (
    State,
    connect,
    connection_options,
    echo,
    output_option,
    quiet_libraries,
    selection_options,
    state,
    typed_selector,
)

log = logging.getLogger("cronctl")


class CronctlGroup(click.Group):
    """Turns CronctlError into `Error: ...` on stderr and its exit code (traceback with -v)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CronctlError as e:
            if ctx.find_root().ensure_object(State).verbose:
                traceback.print_exc()
            click.echo(f"Error: {e}", err=True)
            ctx.exit(int(e.exit_code))


@click.group("cronctl", cls=CronctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="cronctl")
@connection_options(top=True)
def cli() -> None:
    """List, describe, explain, check, suspend, resume and trigger the chart's CronJobs.

    Exit codes: 0 ok; 1 failed (an API error, a triggered Job that failed, or `check` found a
    problem); 2 usage or configuration error (or a triggered Job that exited 2); 3 trigger
    refused: a run is active and the CronJob forbids concurrency (or a triggered Job that
    exited 3, skipped); 4 a triggered Job was interrupted; 5 `trigger --wait` timed out.
    """
    _configure_logging()


class _StderrHandler(logging.Handler):
    """Writes to the current sys.stderr (not the one at set-up time), one line per record."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(self.format(record), err=True)
        except Exception:
            self.handleError(record)


def _configure_logging() -> None:
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(handler)
    if not state().verbose:
        root.setLevel(logging.INFO)
    quiet_libraries()


@cli.command("list")
@selection_options()
@output_option("table", "wide", "json", "yaml")
@connection_options(top=False)
def list_cmd() -> None:
    """The CronJobs: schedule, last result, failures, missed ticks, next run.

    Columns: NAME, SCHEDULE (in words), TIMEZONE, SUSPENDED (and for how long), ACTIVE, LAST
    SCHEDULE/SUCCESS/RESULT, LAST FAILURE, STREAK (finished runs in a row with the newest
    one's result), MISSED (ticks of the last 24h that did not run, suspension aside), NEXT RUN;
    -o wide adds TRIGGER (the newest run's: scheduled/manual), CONCURRENCY, LAST JOB, RELEASE.
    Two API requests whatever the number of CronJobs."""
    from jobs.cronctl import render

    c, s = connect(), state()
    infos = c.list_cronjobs()
    if s.structured:
        echo(render.dump([i.to_dict() for i in infos], s.output))
    elif not infos:
        where = f'namespace "{c.namespace}"' if not s.all_namespaces else "any namespace"
        log.info('No CronJobs match "%s" in %s.', c.selector, where)
    else:
        echo(render.cronjobs_table(infos, c.clock(), s.output == "wide", s.all_namespaces))


@cli.command()
@click.argument("name")
@output_option("table", "json", "yaml")
@connection_options(top=False)
def describe(name: str) -> None:
    """One CronJob in detail, with its recent runs (scheduled or manual)."""
    from jobs.cronctl import render

    c, s = connect(), state()
    info = c.describe(name)
    if s.structured:
        echo(render.dump(info.to_dict(with_runs=True), s.output))
    else:
        echo(render.describe(info, c.clock()))


@cli.command()
@click.argument("name")
@output_option("table", "wide", "json", "yaml")
@connection_options(top=False)
def history(name: str) -> None:
    """The CronJob's runs, newest first: job, trigger, started, duration, result."""
    from jobs.cronctl import render

    c, s = connect(), state()
    runs = c.history(name)
    if s.structured:
        echo(render.dump([r.to_dict() for r in runs], s.output))
    elif not runs:
        log.info("CronJob %s has no runs (or they were cleaned up).", name)
    else:
        echo(render.runs_table(runs, c.clock(), s.output == "wide"))


@cli.command()
@click.argument("name")
@click.option("--job", "job", metavar="JOB", help="A run of the CronJob (default: the newest).")
@connection_options(top=False)
def logs(name: str, job: str | None) -> None:
    """Print the logs of the CronJob's newest run (or of --job JOB)."""
    c = connect()
    job_name = c.job_for_logs(name, job)
    log.info("Logs of Job %s:", job_name)
    current = None
    for pod, line in c.job_logs(job_name):
        if pod != current:
            log.info("--- pod %s", pod)
            current = pod
        echo(line)


def _changes(changes: list[Any]) -> None:
    from jobs.cronctl import render

    s = state()
    for change in changes:
        if change.warning:
            log.warning("Warning: %s", change.warning)
    if s.structured:
        echo(render.dump([ch.to_dict() for ch in changes], s.output))
        return
    for ch in changes:
        prefix = f"{ch.namespace}/" if s.all_namespaces else ""
        echo(f"cronjob.batch/{prefix}{ch.name} {ch.action}")


@cli.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option(
    "--all", "all_", is_flag=True, help="Every CronJob matching -l (default: the chart's label)."
)
@click.option(
    "--reason",
    envvar="CRONCTL_REASON",
    show_envvar=True,
    help="Why: recorded in the cronctl.cronjobs.dev/suspend-reason annotation.",
)
@selection_options("With -l or --all: select")
@output_option("table", "json", "yaml")
@connection_options(top=False)
def suspend(names: tuple[str, ...], all_: bool, reason: str | None) -> None:
    """Suspend CronJobs (NAME..., -l SELECTOR or --all); recorded who/when/why."""
    c = connect()
    _changes(c.suspend(names, selector=typed_selector(), all=all_, reason=reason))


@cli.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--all", "all_", is_flag=True, help="Every CronJob matching -l.")
@selection_options("With -l or --all: select")
@output_option("table", "json", "yaml")
@connection_options(top=False)
def resume(names: tuple[str, ...], all_: bool) -> None:
    """Resume CronJobs (NAME..., -l SELECTOR or --all); clears the suspend annotations."""
    c = connect()
    _changes(c.resume(names, selector=typed_selector(), all=all_))


@cli.command()
@click.argument("name")
@click.option(
    "--wait",
    is_flag=True,
    help="Follow the Job to completion: exit 0 succeeded, the job's own 2/3/4, 1 other "
    "failures, 5 timed out.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=600,
    show_default=True,
    envvar="CRONCTL_TIMEOUT",
    show_envvar=True,
    help="Seconds --wait waits.",
)
@click.option("--logs", "logs_", is_flag=True, help="With --wait: stream the pod's logs.")
@click.option(
    "--force",
    is_flag=True,
    help="Start even if a run is active and the CronJob forbids concurrency.",
)
@click.option("--dry-run", is_flag=True, help="Print the Job, do not create it.")
@click.option(
    "--job-name",
    metavar="JOB",
    help="Name the Job (default: <cronjob>-manual-<UTC yymmddhhmmss>-<4 random>).",
)
@output_option("table", "json", "yaml")
@connection_options(top=False)
def trigger(
    name: str,
    wait: bool,
    timeout: float,
    logs_: bool,
    force: bool,
    dry_run: bool,
    job_name: str | None,
) -> None:
    """Start a run now, as `kubectl create job --from=cronjob/NAME` would."""
    from jobs.cronctl import render

    c, s = connect(), state()
    if logs_ and not wait:
        raise click.UsageError("--logs needs --wait")
    if dry_run and wait:
        raise click.UsageError("--dry-run and --wait exclude each other")
    result = c.trigger(name, force=force, dry_run=dry_run, job_name=job_name)
    suffix = " (dry run)" if dry_run else ""
    if not wait:
        if s.structured:
            echo(render.dump(result.job, s.output))
        else:
            echo(f"job.batch/{result.name} created{suffix}")
        return
    log.info("job.batch/%s created; waiting up to %gs", result.name, timeout)

    def on_log(pod: str, line: str) -> None:
        click.echo(line, err=s.structured)

    def on_progress(run: Any) -> None:
        log.info("Job %s: %s", run.name, run.result)

    run = c.wait(
        result.name,
        result.namespace,
        timeout=timeout,
        on_log=on_log if logs_ else None,
        on_progress=on_progress,
    )
    if s.structured:
        echo(render.dump(run.to_dict(), s.output))
    else:
        echo(f"job.batch/{run.name} {run.result.lower()} after {render.span(run.duration_seconds)}")
    if run.result != "Succeeded":
        from jobs.cronctl.results import exit_code_for, exit_meaning

        if run.message:
            log.error("Job %s failed: %s", run.name, run.message)
        if run.exit_code is not None:
            log.error("exit code %s (%s)", run.exit_code, exit_meaning(run.exit_code))
        raise click.exceptions.Exit(exit_code_for(run))


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, envvar="CRONCTL_SERVE_HOST", show_envvar=True, help="Address to listen on (0.0.0.0 in a pod).")  # fmt: skip
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, envvar="CRONCTL_SERVE_PORT", show_envvar=True, help="Port to listen on.")  # fmt: skip
@click.option("--tokens-file", type=click.Path(dir_okay=False), envvar="CRONCTL_SERVE_TOKENS_FILE", show_envvar=True, help="Allow changes to holders of a bearer token: a file of `NAME TOKEN` lines (NAME is recorded as the actor).")  # fmt: skip
@click.option("--trust-user-header", metavar="HEADER", envvar="CRONCTL_SERVE_TRUST_USER_HEADER", show_envvar=True, help="Allow changes to the user an auth proxy names in HEADER (e.g. X-Forwarded-User); only behind a proxy that sets it.")  # fmt: skip
@click.option("--root-path", default="", envvar="CRONCTL_SERVE_ROOT_PATH", show_envvar=True, help="URL prefix a proxy serves it under.")  # fmt: skip
@connection_options(top=False)
def serve_cmd(
    host: str, port: int, tokens_file: str | None, trust_user_header: str | None, root_path: str
) -> None:
    """Serve the dashboard and its JSON API at /cronjobs/ (read-only without an auth method)."""
    from jobs.cronctl.serve import serve

    serve(connect(), host=host, port=port, tokens_file=tokens_file, trust_user_header=trust_user_header, root_path=root_path)  # fmt: skip


cli.add_command(cli_why.next_cmd)
cli.add_command(cli_why.explain)
cli.add_command(cli_why.check)


def main() -> None:
    cli(prog_name="cronctl")
