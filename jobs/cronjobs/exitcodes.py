"""Exit codes: part of the interface of `cronjobs` and `cronctl`, documented in the README.

Kubernetes and alerting see only the exit code, so every outcome has its own.
"""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    """Success, or nothing to do."""
    FAILED = 1
    """The job failed (a dependency is down or unhealthy, a query failed, a triggered Job failed)."""
    USAGE = 2
    """Usage or configuration error: a wrong flag, a missing or malformed setting. Retrying will
    not help; the chart's podFailurePolicy fails the Job at once on this code."""
    SKIPPED = 3
    """Skipped: another run of the same job holds the lock (cronjobs), or a run is already active
    and the CronJob forbids concurrency (cronctl trigger without --force)."""
    INTERRUPTED = 4
    """Stopped by SIGTERM/SIGINT after finishing the batch in hand; committed batches stay
    committed and the next run completes the work. A signal during start-up (before the run
    started) stops the run before it does anything, with the same code."""
    TIMEOUT = 5
    """`cronctl trigger --wait` gave up waiting before the Job finished (the Job keeps running)."""
