"""The built-in jobs: the modules that declare them with `@job(...)`, as an app declares its own.

Importing the package (jobs/cronjobs/builtin/__init__.py) imports these modules, in this order,
which registers their jobs in it (`cronjobs list` shows them so); each keeps its heavy imports
inside its job, so this costs no SQLAlchemy. The registry (jobs/cronjobs/registry.py) is the
single source of truth for which jobs exist and when they run: `cronjobs list`, `cronjobs
chart-values`, the Helm chart's default values and the docs are checked against it by the test
suite. A new built-in job is a module of its own and its name below.
"""

from __future__ import annotations

import importlib

from cronjobs.registry import Job, registered

MODULES = ("sessions", "aggregate_daily_analytics", "cleanup_old_analytics", "cache", "health")

for _name in MODULES:
    importlib.import_module(f"cronjobs.builtin.{_name}")

JOBS: tuple[Job, ...] = tuple(j for j in registered() if j.builtin)
"""The built-in jobs, in registration order."""
