"""The public job API: `@job(...)` registers a function as a `cronjobs` subcommand and a CronJob.

    from jobs import JobContext, job

    @job(schedule="0 */4 * * *", description="Expire stale carts.", mutating=True,
         needs=("database",))
    async def expire_carts(ctx: JobContext) -> dict[str, int]:
        ...
        return {"expired": 12}

A job function is `async def` or plain `def` and takes the run's `JobContext` (or nothing, as an
APScheduler-era function does). The built-in jobs are registered here too (jobs/builtin/catalogue.py),
so `cronjobs list`, the chart's values and the docs all read one registry. Nothing here imports
a heavy library: registering a job costs microseconds.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from jobs.errors import ConfigError

NEEDS = ("database", "redis", "qdrant")
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME = 40
"""The chart names a CronJob `<release>-cronjobs-<name>`, at most 52 characters."""
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
           ("day of week", 0, 7))  # fmt: skip
_NAMES = {
    3: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    4: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
}
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Job:
    id: str
    """The function's (or the seed's) snake_case name, also accepted as a subcommand."""
    command: str
    """The kebab-case `cronjobs` subcommand, and the key under `jobs:` in the chart's values."""
    schedule: str
    """Default cron schedule, UTC (from `every` when the job was registered with one)."""
    description: str
    needs: tuple[str, ...]
    """Which dependencies the job talks to: "database", "redis", "qdrant"."""
    mutating: bool
    """Whether the job changes data (and so takes --dry-run)."""
    every: str | None = None
    """The interval the job was registered with (15m, 2h, 1d), if any."""
    func: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    """The job function; None for a built-in, whose subcommand is written in jobs/cli.py."""
    module: str = "jobs"
    """Where it was registered: named in errors about it."""

    @property
    def builtin(self) -> bool:
        return self.func is None

    @property
    def takes_context(self) -> bool:
        return self.func is not None and bool(inspect.signature(self.func).parameters)


class RegistrationError(ConfigError):
    """A job was registered wrongly: a bad name, schedule or signature, or a duplicate."""


_registry: dict[str, Job] = {}


def registered() -> tuple[Job, ...]:
    """Every job, in registration order (the built-ins first)."""
    return tuple(_registry.values())


def find(name: str) -> Job | None:
    """A job by its subcommand or its snake_case id."""
    return _registry.get(name) or next((j for j in _registry.values() if j.id == name), None)


def register(entry: Job) -> Job:
    """Add a job, checking it; a RegistrationError names the module and what to fix."""
    where = f"job {entry.command!r} (registered in {entry.module})"
    if not NAME.match(entry.command) or len(entry.command) > MAX_NAME:
        raise RegistrationError(
            f"{where}: the name must be lower-case letters, digits and '-', at most {MAX_NAME} "
            f"characters, starting and ending with a letter or digit (e.g. "
            f"{re.sub(r'[^a-z0-9]+', '-', entry.command.lower()).strip('-')[:MAX_NAME]!r})"
        )
    unknown = set(entry.needs) - set(NEEDS)
    if unknown:
        raise RegistrationError(f"{where}: needs {sorted(unknown)}; choose from {NEEDS}")
    taken = {n: other for other in _registry.values() for n in (other.command, other.id)}
    other = taken.get(entry.command)
    if other is not None:
        if other.func is entry.func and other.func is not None:
            return other  # the same function imported twice (module and entry point)
        raise RegistrationError(
            f"{where}: the name {entry.command!r} is taken by the job registered in "
            f"{other.module}; give one of them another name (@job(name=...))"
        )
    if entry.id in taken:  # the function's name is only an alias: fall back to the command's
        entry = dataclasses.replace(entry, id=entry.command.replace("-", "_"))
    if entry.func is not None:
        _check_signature(entry.func, where)
    _registry[entry.command] = entry
    return entry


def required_parameters(func: Callable[..., Any]) -> list[str]:
    """The names of `func`'s parameters without defaults (a job may have one: the context)."""
    return [
        p.name
        for p in inspect.signature(func).parameters.values()
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _check_signature(func: Callable[..., Any], where: str) -> None:
    params = required_parameters(func)
    if len(params) > 1:
        raise RegistrationError(
            f"{where}: the function takes {len(params)} arguments without defaults "
            f"({', '.join(params)}); a job takes one, the JobContext, or none"
        )


def job(
    name: str | None = None,
    *,
    schedule: str | None = None,
    every: str | None = None,
    description: str | None = None,
    mutating: bool = False,
    needs: tuple[str, ...] | list[str] = (),
) -> Callable[[F], F]:
    """Register the decorated function as a job: `schedule` (cron, UTC) or `every` (15m, 2h,
    1d), never both. `mutating` jobs take --dry-run (the function reads `ctx.dry_run`)."""

    def decorate(func: F) -> F:
        module = getattr(func, "__module__", "?")
        command = name or func.__name__.replace("_", "-")
        where = f"job {command!r} (registered in {module})"
        cron = resolve_schedule(schedule, every, where)
        doc = description or (inspect.getdoc(func) or "").split("\n\n")[0].replace("\n", " ")
        register(
            Job(
                id=func.__name__,
                command=command,
                schedule=cron,
                description=doc or f"{module}.{func.__name__}",
                needs=tuple(needs),
                mutating=mutating,
                every=every,
                func=func,
                module=module,
            )
        )
        return func

    return decorate


def resolve_schedule(schedule: str | None, every: str | None, where: str) -> str:
    """The cron expression for `schedule` or `every`; a RegistrationError for a bad one."""
    if (schedule is None) == (every is None):
        raise RegistrationError(
            f"{where}: give schedule= (a cron expression, e.g. '0 */4 * * *') or every= (an "
            "interval, e.g. '15m'), exactly one of them"
        )
    if every is not None:
        return every_to_cron(every, where)
    assert schedule is not None
    problem = cron_problem(schedule)
    if problem:
        raise RegistrationError(f"{where}: schedule {schedule!r} is not valid cron: {problem}")
    return schedule.strip()


def every_to_cron(every: str, where: str) -> str:
    """15m -> */15 * * * *; an interval that cron cannot repeat evenly is an error (the chart's
    `every:` rule: minutes dividing 60, hours dividing 24, 1d or 7d)."""
    m = re.fullmatch(r"([1-9][0-9]*)([mhd])", str(every).strip())
    n, unit = (int(m.group(1)), m.group(2)) if m else (0, "")
    if unit == "m" and 60 % n == 0:
        return "* * * * *" if n == 1 else f"*/{n} * * * *"
    if unit == "m" and n % 60 == 0 and 24 % (n // 60) == 0:
        n, unit = n // 60, "h"
    if unit == "h" and 24 % n == 0:
        return "0 * * * *" if n == 1 else f"0 */{n} * * *"
    if unit == "d" and n in (1, 7):
        return "0 0 * * *" if n == 1 else "0 0 * * 0"
    raise RegistrationError(
        f"{where}: every={every!r} cannot be a cron schedule that repeats evenly: use minutes "
        "that divide 60 (1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m, 30m), hours that divide 24 "
        "(1h, 2h, 3h, 4h, 6h, 8h, 12h), 1d or 7d; or schedule= with a cron expression"
    )


def cron_problem(schedule: str) -> str | None:
    """What is wrong with a 5-field cron expression (or @daily-style macro), or None."""
    text = schedule.strip()
    if text.startswith("@"):
        return None if text in MACROS else f"unknown macro {text!r} (use one of {list(MACROS)})"
    parts = text.split()
    if len(parts) != 5:
        return f"{len(parts)} fields; cron has 5 (minute hour day-of-month month day-of-week)"
    for i, (part, (label, low, high)) in enumerate(zip(parts, _FIELDS, strict=True)):
        for item in part.split(","):
            problem = _item_problem(item.lower(), low, high, _NAMES.get(i, []))
            if problem:
                return f"{label} field {part!r}: {problem}"
    return None


def _item_problem(item: str, low: int, high: int, names: list[str]) -> str | None:
    base, slash, step = item.partition("/")
    if slash and not (step.isdigit() and int(step) > 0):
        return f"step {step!r} is not a positive number"

    def value(text: str) -> int | None:
        if text in names:
            return names.index(text) + (1 if len(names) == 12 else 0)
        return int(text) if text.isdigit() else None

    if base in ("*", "?"):
        return None
    start, dash, end = base.partition("-")
    bounds = [value(start)] + ([value(end)] if dash else [])
    if any(b is None for b in bounds):
        return f"{item!r} is not a number, a range or a name"
    if not all(low <= b <= high for b in bounds if b is not None):
        return f"{item!r} is outside {low}-{high}"
    return None
