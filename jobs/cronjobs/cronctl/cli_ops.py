"""`cronctl suspend`, `resume` and `trigger`: the commands that change something.

Bulk changes (-l, --all, --expired, --maintenance, or several names) are planned first (a dry
run), listed on stderr, and on a terminal asked for confirmation (`--yes` skips it); declined,
nothing changes and the exit code is 1. Registered on the `cronctl` group by cronjobs.cronctl.cli.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, NoReturn

import click

from cronjobs.cronctl.errors import CronctlError
from cronjobs.cronctl.options import (
    Since,
    connect,
    connection_options,
    echo,
    output_option,
    selection_options,
    state,
    timeout_option,
    typed_selector,
)
from cronjobs.exitcodes import ExitCode

log = logging.getLogger("cronctl")


class Until(Since):
    """A duration from now (`2h`, `1d12h`) or a time (`2026-12-01T18:00Z`, UTC without offset)."""


def interactive() -> bool:
    """Ask for confirmation only when a person can answer (stdin and stderr are terminals)."""
    return sys.stdin.isatty() and sys.stderr.isatty()


class Declined(CronctlError):
    """The user answered no to a bulk change: nothing changed (exit 1)."""


def _line(ch: Any) -> str:
    prefix = f"{ch.namespace}/" if state().all_namespaces else ""
    text = f"cronjob.batch/{prefix}{ch.name} {ch.action}"
    if ch.until and ch.changed:
        text += f" until {ch.until}"
    return text + (" (dry run)" if ch.dry_run and ch.changed else "")


def _render(changes: list[Any]) -> None:
    from cronjobs.cronctl import render

    s = state()
    for change in changes:
        if change.warning:
            log.warning("Warning: %s", change.warning)
    if s.structured:
        echo(render.dump([ch.to_dict() for ch in changes], s.output))
        return
    for ch in changes:
        echo(_line(ch))
        if ch.catch_up is not None and (ch.catch_up.missed or ch.catch_up.choice):
            for line in ch.catch_up.lines():
                echo(f"  {line}")


def _confirm(verb: str, plan: list[Any], yes: bool) -> bool:
    """Show the planned changes; True to go ahead. False: nothing would change."""
    todo = [ch for ch in plan if ch.changed]
    if not todo:
        return False
    if yes or not interactive():
        return True
    click.echo(f"{verb} {len(todo)} CronJob{'s' if len(todo) != 1 else ''}:", err=True)
    for ch in todo:
        click.echo(f"  {ch.namespace}/{ch.name}", err=True)
    if not click.confirm("Go ahead?", default=False, err=True):
        raise Declined("declined: nothing changed")
    return True


def _bulk(names: tuple[str, ...], *flags: Any) -> bool:
    return len(names) > 1 or any(f for f in flags if f not in (None, False))


@contextmanager
def _stoppable() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt here, as SIGINT does, so that a change stopped midway
    is reported (see `_interrupted`) rather than ended silently."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupted(c: Any, action: str, targets: list[tuple[str, str]], dry_run: bool) -> NoReturn:
    """After SIGTERM/SIGINT: read the CronJobs again and print those the stopped command
    changed (whatever reached the API server counts, even if its answer never came back), say
    which remain, and exit 4 (interrupted)."""
    if dry_run:
        click.echo("Interrupted: nothing changed (dry run).", err=True)
        raise click.exceptions.Exit(int(ExitCode.INTERRUPTED))
    states = c.suspended_states(targets)
    want = action == "suspended"
    done = [t for t in targets if states.get(t) is want]
    left = [t for t in targets if states.get(t) is not want]
    prefix = state().all_namespaces
    for ns, name in done:
        echo(f"cronjob.batch/{ns + '/' if prefix else ''}{name} {action}")
    text = f"Interrupted: {action} {len(done)} of {len(targets)} CronJobs"
    if left:
        shown = ", ".join(f"{ns}/{name}" for ns, name in left)
        text += f"; not {action}: {shown} (run the command again to finish)"
    click.echo(text + ".", err=True)
    raise click.exceptions.Exit(int(ExitCode.INTERRUPTED))


def _planned(c: Any, names: tuple[str, ...], plan: list[Any] | None) -> list[tuple[str, str]]:
    if plan is not None:
        return [(ch.namespace, ch.name) for ch in plan if ch.changed]
    return [(c.namespace, name) for name in dict.fromkeys(names)]


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option(
    "--all", "all_", is_flag=True, help="Every CronJob matching -l (default: the chart's label)."
)
@click.option(
    "--reason",
    envvar="CRONCTL_REASON",
    show_envvar=True,
    help="Why: recorded in the cronctl.cronjobs.dev/suspend-reason annotation and the history.",
)
@click.option(
    "--until",
    type=Until(),
    help="Until when: a duration (2h, 1d) or a UTC time; `resume --expired` ends it after.",
)
@click.option(
    "--wait",
    is_flag=True,
    help="Then wait until none of their Jobs runs (drain, e.g. before a deploy); exit 5 on "
    "--timeout, the CronJobs staying suspended.",
)
@timeout_option("Seconds --wait waits.")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before a bulk change.")
@selection_options("With -l or --all: select")
@output_option("table", "json", "yaml")
@connection_options(top=False)
def suspend(
    names: tuple[str, ...],
    all_: bool,
    reason: str | None,
    until: timedelta | datetime | None,
    wait: bool,
    timeout: float,
    dry_run: bool,
    yes: bool,
) -> None:
    """Suspend CronJobs (NAME..., -l SELECTOR or --all); records who/when/why/until.

    Each run gets an id, stored only on the CronJobs it changed: `cronctl resume --maintenance
    ID` (or the reason) resumes exactly those. --wait then drains: waits until none of the
    selected CronJobs' Jobs runs."""
    if dry_run and wait:
        raise click.UsageError("--dry-run and --wait exclude each other")
    c, selector = connect(), typed_selector()
    kwargs: dict[str, Any] = {"selector": selector, "all": all_, "reason": reason, "until": until}
    plan = None
    if not dry_run and _bulk(names, selector, all_):
        plan = c.suspend(names, dry_run=True, **kwargs)
        if not _confirm("Suspend", plan, yes):
            _render(plan)
            return
    try:
        with _stoppable():
            changes = c.suspend(names, dry_run=dry_run, **kwargs)
    except KeyboardInterrupt:
        _interrupted(c, "suspended", _planned(c, names, plan), dry_run)
    _render(changes)
    run = next((ch.run for ch in changes if ch.changed and not ch.dry_run), None)
    if run and not state().structured:
        log.info(
            "Suspend run %s: `cronctl resume --maintenance %s` resumes exactly these.", run, run
        )
    if wait:
        _drain(c, changes, run, timeout)


def _drain(c: Any, changes: list[Any], run: str | None, timeout: float) -> None:
    from cronjobs.cronctl import suspension

    cronjobs = [c.api.get(suspension.CRONJOBS, ch.namespace, ch.name) for ch in changes]
    hint = f"cronctl resume --maintenance {run}" if run else "cronctl resume NAME..."
    log.info("Waiting up to %gs for the running Jobs of %d CronJob(s)", timeout, len(cronjobs))
    suspension.drain(
        c.scope,
        cronjobs,
        timeout=timeout,
        resume_hint=hint,
        on_wait=lambda running: log.info("Still running: %s", ", ".join(running)),
    )
    log.info("No Job of the suspended CronJobs is running.")


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--all", "all_", is_flag=True, help="Every CronJob matching -l.")
@click.option("--expired", is_flag=True, help="Only those whose --until has passed.")
@click.option(
    "--maintenance",
    metavar="RUN|REASON",
    help="Only those a suspend run changed (its id, or its --reason).",
)
@click.option(
    "--catch-up",
    type=click.Choice(["none", "once", "all"]),
    help="once: one run now if the controller starts none; none: make sure it starts none; "
    "all: one Job per missed tick, each with its tick, oldest first, one at a time. "
    "Without it, the preview says what the controller does.",
)
@click.option(
    "--missing-ok",
    is_flag=True,
    help="With --maintenance: exit 0 when no CronJob was suspended by that run (it found them "
    "all suspended already), not 1.",
)
@click.option("--dry-run", is_flag=True, help="Preview only; change nothing.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before a bulk change.")
@selection_options("With -l, --all, --expired or --maintenance: select")
@output_option("table", "json", "yaml")
@connection_options(top=False)
def resume(
    names: tuple[str, ...],
    all_: bool,
    expired: bool,
    maintenance: str | None,
    catch_up: str | None,
    missing_ok: bool,
    dry_run: bool,
    yes: bool,
) -> None:
    """Resume CronJobs (NAME..., -l, --all, --expired or --maintenance RUN); previews catch-up.

    Clears the suspend record and adds to the history. The preview counts the ticks missed and
    says what the Kubernetes controller starts on its own (one late run, or none, by
    startingDeadlineSeconds)."""
    from cronjobs.cronctl.suspension import NoSuchRun

    if missing_ok and maintenance is None:
        raise click.UsageError("--missing-ok needs --maintenance")
    try:
        _resume(names, all_, expired, maintenance, catch_up, dry_run, yes)
    except NoSuchRun as e:
        if not missing_ok:
            raise
        log.info("Nothing to resume: %s", e)


def _resume(
    names: tuple[str, ...],
    all_: bool,
    expired: bool,
    maintenance: str | None,
    catch_up: str | None,
    dry_run: bool,
    yes: bool,
) -> None:
    c, selector = connect(), typed_selector()
    kwargs: dict[str, Any] = {
        "selector": selector,
        "all": all_,
        "expired": expired,
        "maintenance": maintenance,
        "catch_up": catch_up,
    }
    plan = None
    if not dry_run and _bulk(names, selector, all_, expired, maintenance):
        plan = c.resume(names, dry_run=True, **kwargs)
        if not _confirm("Resume", plan, yes):
            _render(plan)
            if not plan and not state().structured:
                log.info("Nothing to resume.")
            return
    try:
        with _stoppable():
            changes = c.resume(names, dry_run=dry_run, **kwargs)
    except KeyboardInterrupt:
        _interrupted(c, "resumed", _planned(c, names, plan), dry_run)
    _render(changes)


@click.command(context_settings={"ignore_unknown_options": False})
@click.argument("name")
@click.argument("args", nargs=-1, metavar="[-- ARG...]")
@click.option(
    "--wait",
    is_flag=True,
    help="Follow the Job to completion: exit 0 succeeded, the job's own 2/3/4, 1 other "
    "failures, 5 timed out.",
)
@timeout_option("Seconds --wait waits.")
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
    args: tuple[str, ...],
    wait: bool,
    timeout: float,
    logs_: bool,
    force: bool,
    dry_run: bool,
    job_name: str | None,
) -> None:
    """Start a run now, as `kubectl create job --from=cronjob/NAME` would.

    Arguments after `--` are appended to the container's args, only those the chart
    allowlisted for the job (jobs.<key>.allowedTriggerArgs): `cronctl trigger NAME -- --dry-run`.
    """
    from cronjobs.cronctl import display, render

    c, s = connect(), state()
    if logs_ and not wait:
        raise click.UsageError("--logs needs --wait")
    if dry_run and wait:
        raise click.UsageError("--dry-run and --wait exclude each other")
    result = c.trigger(name, force=force, dry_run=dry_run, job_name=job_name, args=args)
    suffix = " (dry run)" if dry_run else ""
    extra = f" with {' '.join(args)}" if args else ""
    if result.request is not None:  # no `create jobs` here: the keeper starts the run
        log.info(
            "Requested a run of %s (request %s): the keeper starts it as job.batch/%s",
            name, result.request, result.name,
        )  # fmt: skip
        if not wait:
            echo(
                render.dump(result.job, s.output)
                if s.structured
                else f"job.batch/{result.name} requested{extra}"
            )
            return
        started = time.monotonic()
        c.await_request(result, name, timeout)
        timeout = max(0.1, timeout - (time.monotonic() - started))
    if not wait:
        if s.structured:
            echo(render.dump(result.job, s.output))
        else:
            echo(f"job.batch/{result.name} created{extra}{suffix}")
        return
    log.info("job.batch/%s created%s; waiting up to %gs", result.name, extra, timeout)

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
        echo(
            f"job.batch/{run.name} {run.result.lower()} after {display.span(run.duration_seconds)}"
        )
    if run.result != "Succeeded":
        from cronjobs.cronctl.results import exit_code_for, exit_meaning

        if run.message:
            log.error("Job %s failed: %s", run.name, run.message)
        if run.exit_code is not None:
            log.error("exit code %s (%s)", run.exit_code, exit_meaning(run.exit_code))
        raise click.exceptions.Exit(exit_code_for(run))
