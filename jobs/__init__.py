"""A web app's maintenance jobs, run as Kubernetes CronJobs.

The public API for the app's own jobs is `job` (a decorator) and `JobContext` (what a job
function receives): see jobs/registry.py. `jobs.cli` is the `cronjobs` entrypoint (one
subcommand per job); `jobs.cronctl` is the controller client that lists, suspends, resumes
and triggers the CronJobs.
"""

__version__ = "0.1.0"

from jobs.context import JobContext
from jobs.registry import job

__all__ = ["JobContext", "__version__", "job"]
