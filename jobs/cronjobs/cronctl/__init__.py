"""cronctl: list, describe, explain, check, suspend, resume and trigger the chart's CronJobs.

`CronJobController` (cronjobs.cronctl.controller) is the Python API, for the FastAPI app too;
`cronjobs.cronctl.cli` is the `cronctl` command. Only `cronjobs.cronctl.api` imports `kubernetes`, and only
when a controller connects.
"""

from cronjobs.cronctl.catchup import CatchUp
from cronjobs.cronctl.controller import DEFAULT_SELECTOR, CronJobController, Triggered
from cronjobs.cronctl.diagnose import Explanation, Health, Upcoming
from cronjobs.cronctl.errors import (
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
from cronjobs.cronctl.model import CronJobInfo, Run
from cronjobs.cronctl.suspension import Change

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
