"""A web app's maintenance jobs, run as Kubernetes CronJobs.

`jobs.cli` is the `cronjobs` entrypoint (one subcommand per job); `jobs.cronctl` is the
controller client that lists, suspends, resumes and triggers the CronJobs.
"""

__version__ = "0.1.0"
