"""cronctl: list, describe, explain, check, suspend, resume and trigger the chart's CronJobs.

`CronJobController` (cronjobs.cronctl.controller) is the Python API, for the FastAPI app too;
`cronjobs.cronctl.cli` is the `cronctl` command. Only `cronjobs.cronctl.api` imports `kubernetes`, and only
when a controller connects.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cronjobs.cronctl.catchup import CatchUp
    from cronjobs.cronctl.controller import CronJobController, Triggered
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
    from cronjobs.cronctl.model import DEFAULT_SELECTOR, CronJobInfo, Run
    from cronjobs.cronctl.suspension import Change

_WHERE = {
    "CatchUp": "catchup",
    "DEFAULT_SELECTOR": "model",
    "CronJobController": "controller",
    "Triggered": "controller",
    "Explanation": "diagnose",
    "Health": "diagnose",
    "Upcoming": "diagnose",
    "CronJobInfo": "model",
    "Run": "model",
    "Change": "suspension",
    "ApiError": "errors",
    "ConfigError": "errors",
    "Conflict": "errors",
    "CronctlError": "errors",
    "Forbidden": "errors",
    "HelmManaged": "errors",
    "NotFound": "errors",
    "Refused": "errors",
    "Unreachable": "errors",
    "WaitTimeout": "errors",
}
"""Where each public name lives: loaded on first use, so `cronctl --help` and a module that
needs one constant import none of the controller's machinery."""

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


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"cronjobs.cronctl.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'cronjobs.cronctl' has no attribute {name!r}")
