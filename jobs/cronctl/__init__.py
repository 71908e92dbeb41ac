"""cronctl: list, describe, explain, check, suspend, resume and trigger the chart's CronJobs.

`CronJobController` (jobs.cronctl.controller) is the Python API, for the FastAPI app too;
`jobs.cronctl.cli` is the `cronctl` command. Only `jobs.cronctl.api` imports `kubernetes`, and only
when a controller connects.
"""

from jobs.cronctl.catchup import CatchUp
from jobs.cronctl.controller import DEFAULT_SELECTOR, CronJobController, Triggered
from jobs.cronctl.diagnose import Explanation, Health, Upcoming
from jobs.cronctl.errors import (
    ApiError,
    ConfigError,
    Conflict,
    CronctlError,
    Forbidden,
    HelmManaged,
    NotFound,
    Refused,
    Unreachable,
    WaitTimeout,
)
from jobs.cronctl.model import CronJobInfo, Run
from jobs.cronctl.suspension import Change

__all__ = [
    "DEFAULT_SELECTOR",
    "ApiError",
    "CatchUp",
    "Change",
    "ConfigError",
    "Conflict",
    "CronJobController",
    "CronJobInfo",
    "CronctlError",
    "Explanation",
    "Forbidden",
    "Health",
    "HelmManaged",
    "NotFound",
    "Refused",
    "Run",
    "Triggered",
    "Unreachable",
    "Upcoming",
    "WaitTimeout",
]
