"""The public job API: `@job(...)` registers a function as a `cronjobs` subcommand and a CronJob.

    from cronjobs import JobContext, job

    @job(schedule="0 */4 * * *", description="Expire stale carts.", mutating=True,
         needs=("database",))
    async def expire_carts(ctx: JobContext) -> dict[str, int]:
        ...
        return {"expired": 12}

A job function is `async def` or plain `def` and takes the run's `JobContext` (or nothing, as an
APScheduler-era function does). A job may declare typed flags of its own (`options=[click
options]`); the run reads their values as `ctx.options["name"]`. The built-in jobs are `@job`s
too (jobs/cronjobs/builtin/catalogue.py lists their modules), so `cronjobs list`, the chart's
values and the docs all read one registry. Nothing here imports a heavy library: registering a
job costs microseconds.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cronjobs.errors import ConfigError

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
BUILTIN_COMMANDS = ("list", "run", "chart-values", "import-apscheduler", "retention", "init-db",
                    "demo")  # fmt: skip
"""The `cronjobs` subcommands that are not jobs (jobs/cronjobs/cli.py, cli_app.py, dev/): a job
may not take their names, or its CronJob would run the built-in (tests/jobs/test_registry.py
checks this list against the CLI)."""


@dataclass(frozen=True)
class _Field:
    label: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    allowed: str = ""

    @property
    def range(self) -> str:
        return self.allowed or f"{self.label} is {self.low}-{self.high}"


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS, "month is 1-12 or JAN-DEC"),
    _Field("day-of-week", 0, 6, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"),
           "day-of-week is 0-6 (0 = Sunday) or SUN-SAT"),
)  # fmt: skip
"""As the chart's cronjobs.validateSchedule reads them (Kubernetes' parser: robfig/cron)."""
_SPACE = re.compile(r"[\t\n\f\r ]+")
"""Go's `\\s` (the chart splits the fields on it), not Python's wider one."""
_TZ = re.compile(r"(^|[\t\n\f\r ])(CRON_)?TZ=")
_ITEM = re.compile(r"(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?")
_SYNTAX = "each comma-separated item is *, N, N-M, optionally followed by /STEP"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Job:
    id: str
    """The function's (or the APScheduler app's job id) snake_case name, also accepted as a subcommand."""
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
    """The job function."""
    module: str = "cronjobs"
    """Where it was registered: named in errors about it."""
    jitter: int = 0
    """Seconds of random delay before a scheduled run starts (jobs/cronjobs/jitter.py)."""
    builtin: bool = False
    """Shipped with cronjobs (registered by a module of cronjobs.builtin), not by the app."""
    options: tuple[Callable[..., Any], ...] = field(default=(), compare=False, repr=False)
    """The job's own flags, click options in --help order; their values reach the run as
    `ctx.options` (jobs/cronjobs/context.py)."""
    defaults: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Each option's value when it is not given (by its parameter name): a run from Python."""
    check: Callable[..., object] | None = field(default=None, compare=False, repr=False)
    """Called with the run's JobContext before anything connects: raises for flags that do not
    go together (a usage error, exit 2, before the run starts)."""
    probes: bool = False
    """The job probes its `needs` itself (health-check): the runner neither requires nor
    connects them before the run, and takes no lock."""

    @property
    def takes_context(self) -> bool:
        return self.func is not None and bool(inspect.signature(self.func).parameters)


def adhoc(func: Callable[..., Any], target: str, module: str) -> Job:
    """A Job for a function nobody registered (`cronjobs run MODULE:FUNCTION`, a test's
    `cronjobs.testing.run`): its lock key is `target`, so another module's function of the same
    name is another job. ConfigError when it takes more than the JobContext."""
    required = required_parameters(func)
    if len(required) > 1:
        raise ConfigError(
            f"{target} takes {len(required)} arguments ({', '.join(required)}); "
            "a job takes one, the JobContext, or none"
        )
    return Job(
        id=target,
        command=target,
        schedule="",
        description=f"{target}, run by `cronjobs run`",
        needs=(),
        mutating=True,
        func=func,
        module=module,
    )


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
    if _normal(entry.command) in BUILTIN_COMMANDS:
        raise RegistrationError(
            f"{where}: the name {entry.command!r} is taken by the built-in command `cronjobs "
            f"{_normal(entry.command)}`, which would run instead of the job: pick another name "
            "(@job(name=...))"
        )
    taken = {_normal(n): other for other in _registry.values() for n in (other.command, other.id)}
    other = taken.get(_normal(entry.command))
    if other is not None:
        if other.func is entry.func and other.func is not None:
            return other  # the same function imported twice (module and entry point)
        alias = "" if _normal(other.command) == _normal(entry.command) else f" (as {other.id})"
        if other.builtin:
            raise RegistrationError(
                f"{where}: the name {entry.command!r} is taken by the built-in job `cronjobs "
                f"{other.command}`{alias}: pick another name (@job(name=...))"
            )
        raise RegistrationError(
            f"{where}: the name {entry.command!r} is taken by the job {other.command!r}{alias} "
            f"registered in {other.module}; give one of them another name (@job(name=...))"
        )
    if _normal(entry.id) in taken or _normal(entry.id) in BUILTIN_COMMANDS:
        # the function's name is only an alias: fall back to the command's
        entry = dataclasses.replace(entry, id=entry.command.replace("-", "_"))
    if entry.func is not None:
        _check_signature(entry.func, where)
    if entry.options and not entry.defaults:
        entry = dataclasses.replace(entry, defaults=option_defaults(entry.options, where))
    _registry[entry.command] = entry
    return entry


SHARED_OPTIONS = frozenset({
    "scheduled_at", "database_url", "redis_url", "qdrant_url", "qdrant_api_key", "qdrant_path",
    "dry_run", "timeout", "lock_timeout", "output", "args",
})  # fmt: skip
"""The parameters the framework gives every job's command (jobs/cronjobs/cli_app.py)."""


def option_defaults(options: tuple[Callable[..., Any], ...], where: str) -> dict[str, Any]:
    """Each option's parameter name and default, read off the click options; a
    RegistrationError for one that is not a click option or takes a shared flag's name."""
    import enum

    import click

    def probe() -> None:
        """Stands in for the command, to collect the options' parameters."""

    decorated: Any = probe
    for option in reversed(options):
        decorated = option(decorated)
    params = list(reversed(getattr(decorated, "__click_params__", [])))
    if len(params) != len(options):
        raise RegistrationError(f"{where}: options= takes click options, e.g. click.option(...)")
    found: dict[str, Any] = {}
    context = click.Context(click.Command(where))
    for param in params:
        if param.name in SHARED_OPTIONS or param.name in found:
            raise RegistrationError(
                f"{where}: the option {param.opts[0]!r} takes the name {param.name!r}, which "
                "another flag of the job has: give it another name"
            )
        default = param.get_default(context)
        if isinstance(default, enum.Enum) and default.name == "UNSET":  # click's "no default"
            default = () if param.multiple else None
        found[param.name] = default
    return found


def _normal(name: str) -> str:
    """A subcommand or id as the names are compared: `init_db` is `init-db`."""
    return name.replace("_", "-")


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
    jitter: int = 0,
    options: tuple[Callable[..., Any], ...] | list[Callable[..., Any]] = (),
    check: Callable[..., object] | None = None,
    probes: bool = False,
) -> Callable[[F], F]:
    """Register the decorated function as a job: `schedule` (cron, UTC) or `every` (15m, 2h,
    1d), never both. `mutating` jobs take --dry-run (the function reads `ctx.dry_run`).
    `jitter`: a scheduled run first waits a random [0, jitter) seconds (jobs/cronjobs/jitter.py).
    `options`: the job's own flags, click options (`click.option("--days", type=int,
    default=30)`), read as `ctx.options["days"]`. `check(ctx)`: called before anything connects,
    raises for flags that do not go together. `probes`: see `Job.probes`."""

    def decorate(func: F) -> F:
        module = getattr(func, "__module__", "?")
        command = name or func.__name__.replace("_", "-")
        where = f"job {command!r} (registered in {module})"
        cron = resolve_schedule(schedule, every, where)
        if isinstance(jitter, bool) or not isinstance(jitter, int) or jitter < 0:
            raise RegistrationError(f"{where}: jitter={jitter!r}: give whole seconds, 0 or more")
        doc = description or (inspect.getdoc(func) or "").split("\n\n")[0].replace("\n", " ")
        register(
            Job(
                id=func.__name__,
                command=command,
                schedule=cron,
                description=doc or f"{module}.{func.__name__}",
                needs=tuple(needs),
                mutating=mutating,
                every=str(every).strip() if every is not None else None,
                func=func,
                module=module,
                jitter=jitter,
                builtin=module.startswith("cronjobs.builtin."),
                options=tuple(options),
                check=check,
                probes=probes,
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
        raise RegistrationError(f"{where}: schedule {schedule!r}: {problem}")
    return schedule.strip()


EVERY = re.compile(r"([1-9][0-9]*)([mhd])")
"""An `every` interval, as the chart's values.schema.json and cronjobs.everyToCron read it."""


def every_to_cron(every: str, where: str) -> str:
    """15m -> */15 * * * *; an interval that cron cannot repeat evenly is an error. The
    chart's cronjobs.everyToCron, rule for rule: counted in minutes, those dividing an hour, a
    whole number of hours dividing a day, a day (1d, 24h, 1440m) or a week (7d, 168h,
    10080m)."""
    m = EVERY.fullmatch(str(every).strip())
    minutes = int(m.group(1)) * {"m": 1, "h": 60, "d": 1440}[m.group(2)] if m else 0
    if 0 < minutes < 60 and 60 % minutes == 0:
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    if 0 < minutes < 1440 and minutes % 60 == 0 and 1440 % minutes == 0:
        return "0 * * * *" if minutes == 60 else f"0 */{minutes // 60} * * *"
    if minutes == 1440:
        return "0 0 * * *"
    if minutes == 10080:
        return "0 0 * * 0"
    raise RegistrationError(
        f"{where}: every={every!r} cannot be a cron schedule that repeats evenly: use minutes "
        "that divide 60 (1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m, 30m), hours that divide 24 "
        "(1h, 2h, 3h, 4h, 6h, 8h, 12h), 1d or 7d; or schedule= with a cron expression"
    )


EVERY_MACRO = (
    "is not a cron schedule for this chart: Kubernetes accepts `@every`, but counts it from the "
    "CronJob's creation or last run (not the clock), and never runs it when "
    "startingDeadlineSeconds is shorter than the interval"
)
"""Why `@every` is refused (the chart's cronjobs.validateSchedule says the same)."""


def cron_problem(schedule: str) -> str | None:
    """What is wrong with a 5-field cron expression (or @daily-style macro), or None: exactly
    what the chart's cronjobs.validateSchedule rejects, including a schedule that never fires
    (which Kubernetes accepts, and then never runs: the controller's InvalidSchedule)."""
    text = schedule.strip()
    if _TZ.search(text):
        return (
            "do not put a time zone in the schedule (Kubernetes rejects TZ=); set the job's "
            "timeZone in the chart's values instead"
        )
    if text.startswith("@every"):
        return f"{text!r} {EVERY_MACRO}; use every= for an interval (e.g. every='15m')"
    if text.startswith("@"):
        if text in MACROS:
            return None
        return (
            f"{text!r} is not a cron macro Kubernetes accepts; use one of {', '.join(MACROS)}, "
            "or every= for an interval (e.g. every='15m')"
        )
    if not text:
        return "it is empty; e.g. '0 2 * * *' (02:00 daily) or '*/30 * * * *' (every 30 minutes)"
    parts = _SPACE.split(text)
    if len(parts) != 5:
        return (
            f"it has {len(parts)} fields; cron has 5 (minute hour day-of-month month "
            "day-of-week), or use a macro such as @daily"
        )
    for part, spec in zip(parts, _FIELDS, strict=True):
        for item in part.split(","):
            subject = f"the {spec.label} field {part!r}" + (f" ({item!r})" if item != part else "")
            problem = _item_problem(item, spec)
            if problem:
                return f"{subject} {problem}"
    return _never_fires(text, parts)


def _never_fires(text: str, parts: list[str]) -> str | None:
    """The controller's verdict (cronjobs.cron, robfig's Next): no time within five years.
    Only a day-of-month and a month field that both name values can miss each other (31 in
    February): any other schedule fires, and is not parsed again (the cron engine costs ~30 ms
    to import, paid by every `cronjobs --help`)."""
    if parts[2] in ("*", "?") or parts[3] in ("*", "?"):
        return None
    from datetime import UTC, datetime

    from cronjobs import cron

    try:
        fires = cron.parse(text).next(datetime.now(UTC)) is not None
    except cron.CronError as e:  # the chart's syntax is narrower than robfig's: not expected
        return f"Kubernetes cannot parse it: {e}"
    if fires:
        return None
    return (
        f"it never fires: none of the months in the month field {parts[3]!r} has a day in "
        f"the day-of-month field {parts[2]!r} (Kubernetes accepts the schedule and never starts "
        "the job: InvalidSchedule); choose days those months have"
    )


def _item_problem(item: str, spec: _Field) -> str | None:
    """What is wrong with one comma-separated item of a field, in the chart's words."""
    if not _ITEM.fullmatch(item):
        return f"is not valid cron syntax: {_SYNTAX}"
    base, _, step_text = item.partition("/")
    if step_text and int(step_text) < 1:
        return "has a step of 0; a step must be at least 1"
    if base in ("*", "?"):
        if base == "?" and spec.label not in ("day-of-month", "day-of-week"):
            return "uses ?, which is allowed only in the day-of-month and day-of-week fields; use *"
        return None
    ends: list[int] = []
    for end in base.split("-"):
        if end.isdigit():
            ends.append(int(end))
        elif end.upper() in spec.names:
            ends.append(spec.names.index(end.upper()) + spec.low)
        else:
            return f"has {end!r}, which is not a number or a name; {spec.range}"
    if not all(spec.low <= e <= spec.high for e in ends):
        return f"is out of range: {spec.range}"
    if ends[0] > ends[-1]:
        return "has a range whose start is after its end; write it as START-END with START <= END"
    return None
