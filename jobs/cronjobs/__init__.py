"""A web app's maintenance jobs, run as Kubernetes CronJobs.

The public API for the app's own jobs is `job` (a decorator) and `JobContext` (what a job
function receives): see jobs/cronjobs/registry.py. `cronjobs.cli` is the `cronjobs` entrypoint (one
subcommand per job); `cronjobs.cronctl` is the controller client that lists, suspends, resumes
and triggers the CronJobs.

Both names load on first use: importing `cronjobs` itself stays cheap, so the entrypoint
(jobs/cronjobs/entry.py) installs its signal handlers before any heavy import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from cronjobs.context import JobContext
    from cronjobs.registry import job

__all__ = ["JobContext", "__version__", "job"]


def __getattr__(name: str) -> Any:
    if name == "JobContext":
        from cronjobs.context import JobContext

        return JobContext
    if name == "job":
        from cronjobs.registry import job

        return job
    raise AttributeError(f"module 'cronjobs' has no attribute {name!r}")
