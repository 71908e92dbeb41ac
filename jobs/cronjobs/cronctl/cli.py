"""`cronctl`: list, describe, suspend, resume and trigger the chart's CronJobs.

The CLI only parses, calls `CronJobController`, renders and exits. Data goes to stdout, logs and
progress to stderr. `kubernetes` is imported only when a command connects (not for --help).
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import click

from cronjobs import __version__
from cronjobs.cronctl import cli_backfill, cli_ops, cli_why
from cronjobs.cronctl.errors import CronctlError, NoLogs
from cronjobs.cronctl.options import (
    State,
    connect,
    connection_options,
    echo,
    output_option,
    quiet_libraries,
    selection_options,
    state,
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
    """List, describe, explain, check, suspend, resume, trigger and backfill the chart's CronJobs.

    Exit codes: 0 ok; 1 failed (an API error, a triggered or backfilled Job that failed, or
    `check` found a problem); 2 usage or configuration error (or a triggered Job that exited 2,
    or a backfill range over --max); 3 trigger refused: a run is active and the CronJob forbids
    concurrency (or a triggered Job that exited 3, skipped); 4 suspend/resume stopped by
    SIGTERM/SIGINT (what was done is printed), or a triggered Job was interrupted; 5 `trigger
    --wait` (or a Job backfill waits for) timed out.
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
    Three API requests whatever the number of CronJobs (the third: the keeper's ledgers)."""
    from cronjobs.cronctl import display, render

    c, s = connect(), state()
    infos = c.list_cronjobs()
    for info in infos:
        for problem in info.problems:
            line = display.printable(problem)
            log.warning("Warning: CronJob %s/%s: %s", info.namespace, info.name, line)
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
    from cronjobs.cronctl import render

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
    from cronjobs.cronctl import render

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
    """Print the logs of the CronJob's newest run (or of --job JOB).

    When the run's pods are gone (deleted with the Job or by its TTL) and the keeper recorded
    the run as failed, prints the last lines of its log that the keeper kept instead.
    """
    from cronjobs.cronctl.model import LEDGER

    c = connect()
    try:  # the run's pods first: the keeper's ledger is read only when they are gone
        _print_logs(c, c.job_for_logs(name, job))
        return
    except NoLogs as e:  # raised before any line is printed; any other error is the answer
        gone = e
    try:
        run = c.run_for_logs(name, job)
    except NoLogs:
        raise gone from None
    if not run.log_tail:
        if run.source != LEDGER:
            raise gone
        raise CronctlError(
            f"Job {run.name} is gone; the keeper's ledger remembers the run ({run.result}) but "
            "keeps the log of failed runs only: nothing to show"
        )
    gone_what = f"Job {run.name} is" if run.source == LEDGER else f"The pods of Job {run.name} are"
    log.info(
        "%s gone: the last %d line(s) of its log, as the keeper kept them:",
        gone_what,
        len(run.log_tail),
    )
    for line in run.log_tail:
        echo(line)


def _print_logs(c: Any, job_name: str) -> None:
    log.info("Logs of Job %s:", job_name)
    current = None
    for pod, line in c.job_logs(job_name):
        if pod != current:
            log.info("--- pod %s", pod)
            current = pod
        echo(line)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, envvar="CRONCTL_SERVE_HOST", show_envvar=True, help="Address to listen on (0.0.0.0 in a pod).")  # fmt: skip
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, envvar="CRONCTL_SERVE_PORT", show_envvar=True, help="Port to listen on.")  # fmt: skip
@click.option("--tokens-file", type=click.Path(dir_okay=False), envvar="CRONCTL_SERVE_TOKENS_FILE", show_envvar=True, help="Allow changes to holders of a bearer token: a file of `NAME TOKEN` lines (NAME is recorded as the actor).")  # fmt: skip
@click.option("--trust-user-header", metavar="HEADER", envvar="CRONCTL_SERVE_TRUST_USER_HEADER", show_envvar=True, help="Allow changes to the user an auth proxy names in HEADER (e.g. X-Forwarded-User); only behind a proxy that sets it.")  # fmt: skip
@click.option("--root-path", default="", envvar="CRONCTL_SERVE_ROOT_PATH", show_envvar=True, help="URL prefix a proxy serves it under.")  # fmt: skip
@selection_options("Show CronJobs")
@connection_options(top=False)
def serve_cmd(
    host: str, port: int, tokens_file: str | None, trust_user_header: str | None, root_path: str
) -> None:
    """Serve the dashboard and its JSON API at /cronjobs/ (read-only without an auth method)."""
    from cronjobs.cronctl.serve import serve

    serve(connect("cronctl-serve"), host=host, port=port, tokens_file=tokens_file, trust_user_header=trust_user_header, root_path=root_path)  # fmt: skip


@cli.command("keeper")
@click.option("--interval", type=click.FloatRange(1, 3600), default=30, show_default=True, envvar="CRONCTL_KEEPER_INTERVAL", show_envvar=True, help="Seconds between passes.")  # fmt: skip
@click.option("--lease", "lease_name", default="cronjobs-keeper", show_default=True, envvar="CRONCTL_KEEPER_LEASE", show_envvar=True, help="The Lease replicas elect a leader on.")  # fmt: skip
@click.option("--host", default="0.0.0.0", show_default=True, envvar="CRONCTL_KEEPER_HOST", show_envvar=True, help="Address of /metrics, /healthz, /readyz.")  # fmt: skip
@click.option("--port", type=click.IntRange(1, 65535), default=9090, show_default=True, envvar="CRONCTL_KEEPER_PORT", show_envvar=True, help="Port of /metrics, /healthz, /readyz.")  # fmt: skip
@click.option("--once", is_flag=True, help="One pass, print what it did (JSON), exit.")
@selection_options("Keep CronJobs")
@connection_options(top=False)
def keeper_cmd(interval: float, lease_name: str, host: str, port: int, once: bool) -> None:
    """Remember every run and enforce each job's policies (pause after failures, blackouts,
    maxDuration, flags), start runs operators request, end expired suspensions. Runs until
    SIGTERM; several replicas elect one leader on a Lease. See docs/keeper.md."""
    c = connect("cronctl-keeper")
    if once:
        import json

        from cronjobs.keeper.loop import Keeper

        done = Keeper(c, state().selector).run_once()
        echo(json.dumps({
            "recorded": [e.job for e in done.recorded], "actions": dict(done.actions),
            "flags": done.flags, "errors": done.errors,
        }, indent=2))  # fmt: skip
        return
    from cronjobs.keeper.process import keep

    keep(
        c, selector=state().selector, lease_name=lease_name, interval=interval, host=host, port=port
    )


cli.add_command(cli_ops.suspend)
cli.add_command(cli_ops.resume)
cli.add_command(cli_ops.trigger)
cli.add_command(cli_backfill.backfill)
cli.add_command(cli_why.next_cmd)
cli.add_command(cli_why.explain)
cli.add_command(cli_why.check)


def main() -> None:
    cli(prog_name="cronctl")
