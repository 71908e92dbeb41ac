"""The few exceptions a job can end with, each carrying its exit code.

Library errors (SQLAlchemy, redis, qdrant) are translated into these once, at the boundary
where the call is made; the CLI prints `Error: <message>` and exits with `exit_code`.
"""

from __future__ import annotations

from cronjobs.exitcodes import ExitCode


class JobError(Exception):
    """The job failed; the message says what happened and what to do."""

    exit_code = ExitCode.FAILED
    logged = False
    """Set once the run has logged this error, so the entrypoint does not log it twice."""


def unexpected(e: Exception) -> JobError:
    """A bug or an untranslated library error, as the exit-1 failure the user is shown."""
    return JobError(f"unexpected {type(e).__name__}: {e} (rerun with -v for details)")


class ConfigError(JobError):
    """A setting is missing or malformed: retrying will not help."""

    exit_code = ExitCode.USAGE


class DependencyError(JobError):
    """A database, Redis or Qdrant could not be reached or answered with an error."""


class Skipped(JobError):
    """Another run of the same job holds the lock; this run did nothing."""

    exit_code = ExitCode.SKIPPED


class Stopped(JobError):
    """A stop signal (SIGTERM, SIGINT) came before the run started: this run did nothing."""

    exit_code = ExitCode.INTERRUPTED
