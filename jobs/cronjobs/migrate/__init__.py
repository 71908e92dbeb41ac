"""`cronjobs import-apscheduler`: read an app's APScheduler 3 registrations, print chart values.

The source is parsed (`ast`), never imported or run. `import_apscheduler(paths)` returns an
`ImportResult`: `values()`/`values_yaml()` for the mapped jobs (stdout), `problems` (stderr
lines: each job that cannot be mapped and why, then notes), `exit_code` (0 all mapped, 1 some
not). A usage error (a missing path, a file that does not parse, no .py file) raises
`ConfigError` (exit 2) before anything is printed.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Sequence
from pathlib import Path

from cronjobs.migrate.result import ImportedJob, ImportResult
from cronjobs.migrate.scan import SCHEDULERS, Context, registrations, run_target
from cronjobs.migrate.source import Names, Source, call_name, docstring_line, load_sources

__all__ = ["ImportResult", "ImportedJob", "import_apscheduler", "run_target"]


def import_apscheduler(paths: Sequence[Path | str]) -> ImportResult:
    sources = load_sources(paths)
    context, notes = _context(sources)
    jobs: list[ImportedJob] = []
    for source in sources:
        found, source_notes = registrations(source, context)
        jobs += found
        notes += source_notes
    jobs = _unique_keys(jobs)
    if not jobs:
        notes.append(
            f"no APScheduler job registrations in {len(sources)} file(s) (add_job, "
            "scheduled_job, add_cron_job, add_interval_job)"
        )
    no_zone = [j.key for j in jobs if j.mapped and "timeZone" not in j.values]
    if no_zone:
        notes.append(
            f"{', '.join(no_zone)}: no timezone in the source, so APScheduler used the host's "
            "local time zone; the chart reads schedules in jobDefaults.timeZone (Etc/UTC by "
            "default): set timeZone if the app did not run in UTC"
        )
    return ImportResult(tuple(jobs), tuple(notes))


def _context(sources: list[Source]) -> tuple[Context, list[str]]:
    """The scheduler's defaults (when the source creates exactly one scheduler) and docstrings."""
    docs: dict[str, str] = {}
    found: dict[str, tuple[str, dict[str, ast.expr]]] = {}
    for source in sources:
        names = Names(source)
        for name, func in names.functions.items():
            if doc := docstring_line(func):
                docs[f"{source.module}:{name}"] = doc
        for node in ast.walk(source.tree):
            if isinstance(node, ast.Call) and call_name(node.func) in (*SCHEDULERS, "configure"):
                defaults = _scheduler_defaults(node, names)
                if defaults:
                    key = repr({k: ast.unparse(v) for k, v in defaults.items()})
                    found.setdefault(key, (f"{source.display}:{node.lineno}", defaults))
    if len(found) > 1:
        places = ", ".join(where for where, _ in found.values())
        note = f"schedulers with different defaults ({places}): none applied to the jobs"
        return Context(docs=docs), [note]
    if found:
        (where, defaults), *_ = found.values()
        note = f"{where}: the scheduler's {', '.join(defaults)} applied to jobs that set none"
        return Context(defaults, docs), [note]
    return Context(docs=docs), []


def _scheduler_defaults(call: ast.Call, names: Names) -> dict[str, ast.expr]:
    out: dict[str, ast.expr] = {}
    for kw in call.keywords:
        value = kw.value
        if isinstance(value, ast.Name) and value.id in names.constants:
            value = names.constants[value.id]
        if kw.arg == "timezone":
            out["timezone"] = value
        elif kw.arg == "job_defaults" and isinstance(value, ast.Dict):
            for k, v in zip(value.keys, value.values, strict=True):
                if isinstance(k, ast.Constant) and k.value in (
                    "misfire_grace_time",
                    "coalesce",
                    "max_instances",
                ):
                    out[k.value] = v
    return out


def _unique_keys(jobs: list[ImportedJob]) -> list[ImportedJob]:
    first: dict[str, ImportedJob] = {}
    out = []
    for job in jobs:
        if job.key in first:
            problem = (
                f"the key {job.key!r} is already the job at {first[job.key].where} "
                "(APScheduler refuses a second job with one id): give this one another id"
            )
            job = dataclasses.replace(job, values={}, problems=(*job.problems, problem), notes=())
        else:
            first[job.key] = job
        out.append(job)
    return out
