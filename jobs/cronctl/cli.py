"""`cronctl`: list, describe, suspend, resume and trigger the chart's CronJobs.

The CLI only parses, calls `CronJobController`, renders and exits. Data goes to stdout, logs and
progress to stderr. `kubernetes` is imported only when a command connects (not for --help).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from jobs.cronctl.controller import DEFAULT_SELECTOR
from jobs.cronctl.errors import CronctlError
from jobs.exitcodes import ExitCode

if TYPE_CHECKING:
    from jobs.cronctl.controller import CronJobController

log = logging.getLogger("cronctl")
F = TypeVar("F", bound=Callable[..., Any])
OUTPUTS = ("table", "wide", "json", "yaml")


@dataclass
class State:
    """Global options; set on the group or after a subcommand (`cronctl list -o json`)."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    all_namespaces: bool = False
    selector: str = DEFAULT_SELECTOR
    output: str = "table"
    verbose: bool = False
    request_timeout: float = 30.0
    poll_interval: float = 2.0

    @property
    def structured(self) -> bool:
        return self.output in ("json", "yaml")


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is None or value is False:  # not given: no option has a click-level default
        return value
    state = ctx.find_root().ensure_object(State)
    setattr(state, str(param.name), value)
    if param.name == "verbose":
        logging.getLogger().setLevel(logging.DEBUG)
    return value


def global_options(top: bool) -> Callable[[F], F]:
    """The shared options: with env vars and defaults on the group, repeatable after a command."""

    def env(name: str) -> dict[str, Any]:
        return {"envvar": name, "show_envvar": True} if top else {}

    def default(value: Any) -> dict[str, Any]:
        return {"show_default": str(value)} if top else {}  # State holds the real default

    common: dict[str, Any] = {"expose_value": False, "callback": _store, "is_eager": True}
    options = [
        click.option(
            "--kubeconfig",
            type=click.Path(dir_okay=False),
            **env("KUBECONFIG"),
            help="Path to the kubeconfig file (default: in-cluster, else ~/.kube/config).",
            **common,
        ),
        click.option(
            "--context", **env("CRONCTL_CONTEXT"), help="The kubeconfig context to use.", **common
        ),
        click.option(
            "-n",
            "--namespace",
            **env("CRONCTL_NAMESPACE"),
            help="Namespace (default: the context's).",
            **common,
        ),
        click.option(
            "-A",
            "--all-namespaces",
            is_flag=True,
            **env("CRONCTL_ALL_NAMESPACES"),
            help="List across all namespaces.",
            **common,
        ),
        click.option(
            "-l",
            "--selector",
            **env("CRONCTL_SELECTOR"),
            **default(DEFAULT_SELECTOR),
            help="Label selector for the chart's CronJobs.",
            **common,
        ),
        click.option(
            "-o",
            "--output",
            type=click.Choice(OUTPUTS),
            **env("CRONCTL_OUTPUT"),
            **default("table"),
            help="Output format.",
            **common,
        ),
        click.option(
            "--request-timeout",
            type=click.FloatRange(min=0.1),
            **env("CRONCTL_REQUEST_TIMEOUT"),
            **default(30.0),
            help="Seconds to wait for each API call.",
            **common,
        ),
        click.option(
            "--poll-interval",
            type=click.FloatRange(min=0.01),
            hidden=True,
            **env("CRONCTL_POLL_INTERVAL"),
            **common,
        ),
        click.option("-v", "--verbose", is_flag=True, help="Debug logs and tracebacks.", **common),
    ]

    def decorate(f: F) -> F:
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def state() -> State:
    return click.get_current_context().find_root().ensure_object(State)


def typed_selector() -> str | None:
    """`-l` when typed on the command line (before or after the command), else None.

    Only a typed selector picks the CronJobs to suspend/resume: one from CRONCTL_SELECTOR (or
    the default) must not turn a bare `cronctl suspend` into "all of them".
    """
    ctx = click.get_current_context()
    typed = ParameterSource.COMMANDLINE
    if typed in (
        ctx.get_parameter_source("selector"),
        ctx.find_root().get_parameter_source("selector"),
    ):
        return state().selector
    return None


def connect() -> CronJobController:
    """Build the controller from the global options (this is where `kubernetes` is imported)."""
    from jobs.cronctl.api import ClientSettings
    from jobs.cronctl.controller import CronJobController

    s = state()
    settings = ClientSettings(s.kubeconfig, s.context, s.request_timeout)
    controller = CronJobController.connect(
        settings,
        namespace=s.namespace,
        all_namespaces=s.all_namespaces,
        selector=s.selector,
        poll_interval=s.poll_interval,
    )
    click.get_current_context().call_on_close(controller.close)
    _quiet_libraries()  # again: kubernetes < 37's Configuration() resets urllib3's level
    return controller


def echo(text: str) -> None:
    click.echo(text)


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
@global_options(top=True)
def cli() -> None:
    """List, describe, suspend, resume and trigger the chart's CronJobs.

    Exit codes: 0 ok, 1 failed (or API error), 2 usage or configuration error, 3 trigger refused
    (a run is active and the CronJob forbids concurrency), 5 `trigger --wait` timed out.
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
    _quiet_libraries()


def _quiet_libraries() -> None:
    if not state().verbose:
        logging.getLogger("urllib3").setLevel(logging.ERROR)  # retries are not news
        logging.getLogger("kubernetes").setLevel(logging.WARNING)


@cli.command("list")
@global_options(top=False)
def list_cmd() -> None:
    """NAME, SCHEDULE (in words), TIMEZONE, SUSPENDED, ACTIVE, LAST SCHEDULE/SUCCESS/RESULT, NEXT
    RUN."""
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
@global_options(top=False)
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
@global_options(top=False)
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
@global_options(top=False)
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
@global_options(top=False)
def suspend(names: tuple[str, ...], all_: bool, reason: str | None) -> None:
    """Suspend CronJobs (NAME..., -l SELECTOR or --all); recorded who/when/why."""
    c = connect()
    _changes(c.suspend(names, selector=typed_selector(), all=all_, reason=reason))


@cli.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--all", "all_", is_flag=True, help="Every CronJob matching -l.")
@global_options(top=False)
def resume(names: tuple[str, ...], all_: bool) -> None:
    """Resume CronJobs (NAME..., -l SELECTOR or --all); clears the suspend annotations."""
    c = connect()
    _changes(c.resume(names, selector=typed_selector(), all=all_))


@cli.command()
@click.argument("name")
@click.option(
    "--wait",
    is_flag=True,
    help="Follow the Job to completion: exit 0 succeeded, 1 failed, 5 timed out.",
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
@global_options(top=False)
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
        if run.message:
            log.error("Job %s failed: %s", run.name, run.message)
        raise click.exceptions.Exit(int(ExitCode.FAILED))


def main() -> None:
    cli(prog_name="cronctl")
