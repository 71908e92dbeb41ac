"""Running one job: run id and job id on every log line, SIGTERM handling, the job lock,
and database errors translated once."""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from cronjobs import jitter, logs, pings, signals, summary, tick
from cronjobs.errors import ConfigError, JobError, Skipped, Stopped, unexpected
from cronjobs.exitcodes import ExitCode
from cronjobs.registry import Job
from cronjobs.settings import Settings

if TYPE_CHECKING:
    from cronjobs.context import JobContext, JobResult

log = logging.getLogger(__name__)
R = TypeVar("R")


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """The run's stop flag, set by SIGTERM or SIGINT (jobs/cronjobs/signals.py); jobs check it between
    batches. The entrypoint records both signals from its first instant, so one that came
    before the run is seen too; a run started from Python without the entrypoint records
    them for its own duration only."""
    if signals.installed():
        yield signals.Stop()
        return
    previous = {s: signal.getsignal(s) for s in signals.STOPS}
    signals.install()
    try:
        yield signals.Stop()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        signals.forget()


def run(job: Job, work: Callable[[threading.Event], R]) -> R:
    """Run `work` as one logged run of `job`: start, finish (with duration), or failure; the
    outcome also goes to the container's termination message (jobs/cronjobs/summary.py) and, when
    CRONJOBS_PING_URL is set, to a dead-man's-switch service (jobs/cronjobs/pings.py)."""
    run_id = uuid.uuid4().hex[:12]
    ping = pings.PingSettings.from_env()  # a malformed ping URL is exit 2, before the run
    scheduled = tick.this_run()  # a malformed CRONJOBS_SCHEDULED_AT is exit 2, before the run
    at = scheduled.at.strftime("%Y-%m-%dT%H:%M:%SZ")
    with logs.bind(job=job.command, run_id=run_id, scheduled_at=at), stop_on_signals() as stop:
        log.info("started", extra={"tick_from": scheduled.source})
        started = time.monotonic()
        early = signals.received()
        if ping and not early:
            pings.notify(ping.url, "start", timeout=ping.timeout, run_id=run_id)

        def ended(code: int, counts: dict[str, int] | None = None, error: str = "") -> None:
            seconds = time.monotonic() - started
            summary.write(
                summary.line(job.command, run_id, code, seconds, counts, error, scheduled_at=at)
            )
            if ping:  # skipped (3: another run holds the lock) is not a failure of the job
                event: pings.Event = (
                    "success" if code in (ExitCode.OK, ExitCode.SKIPPED) else "fail"
                )
                pings.notify(ping.url, event, code, timeout=ping.timeout, run_id=run_id)

        try:
            if early:  # during start-up (imports, settings, connecting): do nothing at all
                raise Stopped(
                    f"stopped by {early.name} before the run started: nothing was done; the "
                    "next run does the work"
                )
            jitter.before_run(job.jitter, stop)
            result = work(stop)
        except (Skipped, Stopped) as e:
            e.logged = True
            log.warning(str(e), extra={"exit_code": int(e.exit_code)})
            ended(e.exit_code, error=str(e))
            raise
        except JobError as e:
            _log_failure(e, started)
            ended(e.exit_code, error=str(e))
            raise
        except Exception as e:  # a bug or an untranslated library error: still exit 1, logged
            error = unexpected(e)
            _log_failure(error, started)
            ended(error.exit_code, error=str(error))
            raise error from e
        signals.announce("the job did not stop early (it had no batch left, or checks none)")
        code = int(getattr(result, "exit_code", 0))
        summary_lines: Any = getattr(result, "lines", lambda: [])()
        log.info(
            "finished",
            extra={
                "exit_code": code,
                "seconds": round(time.monotonic() - started, 3),
                "summary": "; ".join(summary_lines),
            },
        )
        ended(code, summary.counts_of(result))
        return result


def _log_failure(error: JobError, started: float) -> None:
    error.logged = True
    log.error(
        "failed: %s",
        error,
        extra={"exit_code": int(error.exit_code), "seconds": round(time.monotonic() - started, 3)},
    )


def run_registered(
    job: Job,
    settings: Settings,
    *,
    dry_run: bool = False,
    args: tuple[str, ...] = (),
    options: Mapping[str, Any] | None = None,
    scheduled_at: datetime | None = None,
    now: datetime | None = None,
) -> JobResult:
    """Run a job, built-in or the app's (or `cronjobs run MODULE:FUNCTION`'s), as `run` does:
    the same run id, logs, SIGTERM handling and exit codes for all.

    Before the run starts (a failure is exit 2, and no "started" line): the run's tick
    (`scheduled_at`, the --scheduled-at flag), the job's `check` of its options, the
    connections it needs (a database it needs is connected here: a bad URL never starts a run).
    Then the run holds the job's lock when it needs the database and is not a dry run. An async
    job's task is cancelled at its next await on SIGTERM. `now` fixes the run's `ctx.now`."""
    from cronjobs.context import JobContext

    assert job.func is not None
    unknown = sorted(set(options or {}) - set(job.defaults))
    if unknown:
        raise ConfigError(f"job {job.command!r} has no option {', '.join(unknown)}")
    tick.begin(scheduled_at)
    ctx = JobContext(
        job.command,
        settings,
        threading.Event(),
        dry_run,
        args,
        logging.getLogger(job.module),
        options={**job.defaults, **(options or {})},
        fixed_now=now,
    )
    try:
        if job.check is not None:
            _check(job, ctx)
        needs = () if job.probes else job.needs
        if "redis" in needs:
            settings.require_redis()
        if "database" not in needs:
            return run(job, lambda stop: _call(job, _stopping(ctx, stop), dry_run))
        db = ctx.db  # its URL read now: a bad one is exit 2 before the run starts
        from cronjobs.db_errors import translate_errors

        def locked(stop: threading.Event) -> JobResult:
            if dry_run:  # a dry run changes nothing: it may overlap a real run
                return _call(job, _stopping(ctx, stop), dry_run)
            db.lock(job.id)
            try:
                return _call(job, _stopping(ctx, stop), dry_run)
            finally:  # before the summary and the ping: the next run may start at once
                db.release()

        return run(job, lambda stop: translate_errors(db.where, locked, stop))
    finally:
        ctx.close()


def _stopping(ctx: JobContext, stop: threading.Event) -> JobContext:
    """The context with the run's stop event (set by SIGTERM)."""
    ctx.stop = stop
    return ctx


def _check(job: Job, ctx: JobContext) -> None:
    """The job's check of its options. A click.UsageError is the CLI's way to say exit 2;
    from Python (cronjobs.testing.run, no click command running) it is a ConfigError, as
    every other configuration error of a run is."""
    assert job.check is not None
    try:
        job.check(ctx)
    except Exception as e:
        import click  # a check that raised click's error has imported it already

        if isinstance(e, click.UsageError) and click.get_current_context(silent=True) is None:
            raise ConfigError(e.format_message()) from e
        raise


def _call(job: Job, ctx: JobContext, dry_run: bool) -> JobResult:
    """Call the job's function; what it returns may be awaited (an `async def`, or a plain
    wrapper of one), and is then run on an event loop that SIGTERM cancels at its next await."""
    import asyncio
    import inspect

    from cronjobs.context import JobResult

    assert job.func is not None
    try:
        returned = job.func(*((ctx,) if job.takes_context else ()))
    except SystemExit as e:
        return _exited(job, ctx, dry_run, e)
    if inspect.isgenerator(returned) or inspect.isasyncgen(returned):
        raise ConfigError(f"{_where(job)} yields: a job function returns its result (or None)")
    if not inspect.isawaitable(returned):
        return JobResult(job.command, returned, dry_run, interrupted=ctx.stop.is_set())
    awaitable = returned

    async def main() -> JobResult:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()

        def cancel(signum: signal.Signals) -> None:  # called by the loop, not in a handler
            signals.record(signum)
            signals.announce("cancelling the job at its next await")
            ctx.stop.set()
            if task is not None:
                task.cancel()

        for s in signals.STOPS:
            loop.add_signal_handler(s, cancel, s)
        if signals.received():  # before the loop started: the job never starts
            signals.announce("cancelling the job before it started")
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            return JobResult(job.command, None, dry_run, interrupted=True)
        try:
            value = await awaitable
        except SystemExit as e:
            return _exited(job, ctx, dry_run, e)
        except asyncio.CancelledError:
            if not ctx.stop.is_set():
                raise
            return JobResult(job.command, None, dry_run, interrupted=True)
        return JobResult(job.command, value, dry_run, interrupted=ctx.stop.is_set())

    handlers = {s: signal.getsignal(s) for s in signals.STOPS}
    try:
        return asyncio.run(main())
    finally:  # closing the loop resets them to the default: the run's own handler again
        for s, h in handlers.items():
            signal.signal(s, h)


def _exited(job: Job, ctx: JobContext, dry_run: bool, e: SystemExit) -> JobResult:
    """A job that called sys.exit(): 0 or None is a success without a result; anything else a
    failure (exit 1, so a code of its own cannot pass for "skipped" or a config error)."""
    from cronjobs.context import JobResult

    if e.code in (0, None):
        return JobResult(job.command, None, dry_run, interrupted=ctx.stop.is_set())
    raise JobError(
        f"{_where(job)} called sys.exit({e.code!r}): a job fails by raising an "
        "exception (or returns its result)"
    ) from e


def _where(job: Job) -> str:
    """The job's function as messages name it: `module.function`, or for `cronjobs run`'s
    unregistered function the `module:function` it was given."""
    return job.id if ":" in job.id else f"{job.module}.{job.id}"
