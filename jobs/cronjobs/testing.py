"""Testing a job without a cluster: the `JobContext` a run gets, and a run as `cronjobs` makes it.

In the app's own tests (pytest, unittest...)::

    from cronjobs.testing import context, run

    def test_purge_keeps_recent_sessions(tmp_path):
        url = f"sqlite:///{tmp_path}/app.db"
        ...  # create the app's tables, add rows
        result = run(purge_expired_tokens, database_url=url)
        assert result.returned == {"deleted": 1}
        assert run(purge_expired_tokens, database_url=url, dry_run=True).returned == {
            "would_delete": 0
        }

`run` goes the way `cronjobs <job>` goes (jobs/cronjobs/runner.py): the run id on every log line, the
job's lock when it needs the database, an async job on its own event loop, SIGTERM and SIGINT
handled (so call it from the main thread), errors translated: a failure raises `JobError`
(`exit_code` 1, or 2 for a `ConfigError`), another run holding the lock raises `Skipped`. It
returns the `JobResult`: `returned` is what the function returned, `exit_code` what the process
would exit with, `lines()` the summary. `context` builds the `JobContext` alone, to call a
function directly (`asyncio.run(job(ctx))`) with a `stop` event the test controls; close it
after (`ctx.close()`, or `with closing(context(...)) as ctx`).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from cronjobs.context import JobContext, JobResult
from cronjobs.registry import Job, adhoc, find, registered
from cronjobs.settings import Settings


def context(
    *,
    job: str = "test",
    settings: Settings | None = None,
    dry_run: bool = False,
    args: tuple[str, ...] = (),
    stop: threading.Event | None = None,
    options: Mapping[str, Any] | None = None,
    **connections: Any,
) -> JobContext:
    """A JobContext on `settings`, or on Settings(**connections) (database_url=...,
    redis_url=..., timeout=...: checked as the CLI checks them); `options` as the job's flags
    would give them (`ctx.options`): when `job` names a registered job, its flags' defaults
    under the values given."""
    registered_job = find(job)
    defaults = registered_job.defaults if registered_job is not None else {}
    return JobContext(
        job,
        settings if settings is not None else Settings(**connections),
        stop if stop is not None else threading.Event(),
        dry_run,
        tuple(args),
        # the logger `cronjobs` gives the job: its module's, as the CLI's runs log under
        logging.getLogger(registered_job.module if registered_job else f"cronjobs.app.{job}"),
        options={**defaults, **(options or {})},
    )


def run(
    func: Callable[..., Any],
    *,
    settings: Settings | None = None,
    dry_run: bool = False,
    args: tuple[str, ...] = (),
    options: Mapping[str, Any] | None = None,
    **connections: Any,
) -> JobResult:
    """Run `func` as `cronjobs` runs a job: as its registered job (its name, needs, options
    and lock) when it was registered with `@job`, else as `cronjobs run MODULE:FUNCTION` runs
    it. `options`: values of the job's own flags by name (the others keep their defaults)."""
    from cronjobs.runner import run_registered

    job = _job_of(func)
    if job.schedule == "" and "database_url" in connections:  # as `cronjobs run` does
        job = dataclasses.replace(job, needs=("database",))
    result: JobResult = run_registered(
        job,
        settings if settings is not None else Settings(**connections),
        dry_run=dry_run,
        args=tuple(args),
        options=options,
    )
    return result


def _job_of(func: Callable[..., Any]) -> Job:
    for job in registered():
        if job.func is func:
            return job
    return adhoc(func, f"{func.__module__}:{func.__qualname__}", func.__module__)
