"""Find APScheduler 3 job registrations in the app's syntax trees and map each to chart values.

Recognised: `scheduler.add_job(func, "cron"|"interval"|trigger, ...)` with a trigger given as
keywords, `CronTrigger(...)`, `CronTrigger.from_crontab("...")` or `IntervalTrigger(...)`; the
`@scheduler.scheduled_job(...)` decorator; and the app's wrapper,
`scheduler_service.add_cron_job(func, cron_expression=..., job_id=...)` and
`add_interval_job(func, minutes=..., job_id=...)`, whose cron expression is read as
`from_crontab` reads it. A call whose func is a parameter of the function around it is a wrapper's
own `add_job` (not a job) and is skipped.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cronjobs.chart_values import time_zones
from cronjobs.migrate.result import ImportedJob
from cronjobs.migrate.source import Names, Source, Unresolved, call_name
from cronjobs.migrate.triggers import (
    FIELD_NAMES,
    Converted,
    Unmappable,
    cron_from_fields,
    crontab_fields,
    every_from_interval,
)

JOB_OPTIONS: tuple[str, ...] = ("args", "kwargs", "id", "name", "misfire_grace_time", "coalesce")
JOB_OPTIONS += ("max_instances", "next_run_time", "jobstore", "executor", "replace_existing")
ADD_JOB = ("func", "trigger", *JOB_OPTIONS)
SCHEDULED_JOB = ("trigger", *JOB_OPTIONS[:-1])
TRIGGER_OPTIONS = ("start_date", "end_date", "timezone", "jitter")
INTERVAL_FIELDS = ("weeks", "days", "hours", "minutes", "seconds")
CRON_TRIGGER = (*FIELD_NAMES, *TRIGGER_OPTIONS)
INTERVAL_TRIGGER = (*INTERVAL_FIELDS, *TRIGGER_OPTIONS)
WRAPPER_CRON = ("func", "cron_expression", "job_id")
SCHEDULERS = {"BlockingScheduler", "BackgroundScheduler", "AsyncIOScheduler", "GeventScheduler"}
SCHEDULERS |= {"TornadoScheduler", "TwistedScheduler", "QtScheduler"}
MAX_KEY = 43
"""Longest key whose CronJob name (`cronjobs-<key>`, release `cronjobs`) fits in 52 characters."""


def run_target(reference: str) -> dict[str, Any]:
    """What the chart runs for the function `module:function`: the one place that decides it.
    A function the app registered with @job (and `cronjobs` found) runs as its subcommand;
    any other through `cronjobs run`."""
    from cronjobs.registry import registered

    module, _, name = reference.partition(":")
    for job in registered():
        func = job.func
        if func is not None and (func.__module__, func.__name__) == (module, name):
            return {"subcommand": job.command}
    return {"subcommand": "run", "args": [reference]}


def registrations(source: Source, context: Context) -> tuple[list[ImportedJob], list[str]]:
    """Every job registered in one module, mapped (or with the problems that stop it), and
    notes on the module (a wrapper whose calls are not recognised)."""
    names = Names(source)
    jobs: list[ImportedJob] = []
    notes: list[str] = []
    for node, scope in _walk(source.tree, Scope("", frozenset())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and call_name(deco.func) == "scheduled_job":
                    where = f"{source.display}:{deco.lineno}"
                    bound, problems = _bind(deco, SCHEDULED_JOB)
                    top_level = names.functions.get(node.name) is node
                    own = f"{source.module}:{node.name}" if top_level else None
                    if not top_level:
                        problems.append(f"{node.name}() is not a module-level function")
                    jobs.append(_job(names, where, own, node.name, bound, problems, context))
            continue
        name = call_name(node.func) if isinstance(node, ast.Call) else ""
        if not isinstance(node, ast.Call) or name not in ("add_job", *WRAPPERS):
            continue
        where = f"{source.display}:{node.lineno}"
        bound, problems = _bind(node, WRAPPERS.get(name, ADD_JOB))
        func = bound.get("func")
        if isinstance(func, ast.Name) and func.id in scope.params:
            if scope.function not in WRAPPERS:
                notes.append(
                    f"{where}: {scope.function}() passes its parameter {func.id} to {name}(): "
                    f"a wrapper, whose calls are not read (only add_cron_job/add_interval_job are)"
                )
            continue
        if name in WRAPPERS:
            bound = _wrapper_as_add_job(name, bound)
        ref: str | None = None
        label = "job"
        if func is None:
            problems.append(f"{name}() without a function")
        else:
            try:
                ref = names.reference(func)
            except Unresolved as e:
                problems.append(f"cannot resolve the function: {e}")
            label = ref.rpartition(":")[2] if ref else ast.unparse(func)
        jobs.append(_job(names, where, ref, label, bound, problems, context))
    return jobs, notes


@dataclass(frozen=True)
class Context:
    """What a job's mapping needs beyond its own module."""

    defaults: dict[str, ast.expr] = field(default_factory=dict)
    """The scheduler's timezone and job_defaults (misfire_grace_time, coalesce, max_instances)."""
    docs: dict[str, str] = field(default_factory=dict)
    """First docstring lines of the scanned functions, by `module:function`."""


@dataclass(frozen=True)
class Scope:
    function: str
    params: frozenset[str]


WRAPPERS = {"add_cron_job": WRAPPER_CRON, "add_interval_job": ("func",)}


def _walk(node: ast.AST, scope: Scope) -> Iterator[tuple[ast.AST, Scope]]:
    """Every node, with the innermost function around it and the parameters of all of them."""
    for child in ast.iter_child_nodes(node):
        yield child, scope
        inner = scope
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            a = child.args
            every = [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, [a.vararg, a.kwarg])]
            name = getattr(child, "name", "<lambda>")
            inner = Scope(name, scope.params | {arg.arg for arg in every})
        yield from _walk(child, inner)


def _bind(call: ast.Call, params: tuple[str, ...]) -> tuple[dict[str, ast.expr], list[str]]:
    bound: dict[str, ast.expr] = {}
    problems = []
    for i, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred) or i >= len(params):
            problems.append(f"the argument {ast.unparse(arg)} cannot be read without running it")
        else:
            bound[params[i]] = arg
    for kw in call.keywords:
        if kw.arg is None:
            problems.append(
                f"**{ast.unparse(kw.value)}: its keywords cannot be read without running it"
            )
        else:
            bound[kw.arg] = kw.value
    return bound, problems


def _wrapper_as_add_job(name: str, bound: dict[str, ast.expr]) -> dict[str, ast.expr]:
    """The wrapper's arguments as add_job's: job_id is id, the rest is trigger and options."""
    out = {k: v for k, v in bound.items() if k not in ("job_id", "cron_expression")}
    if "job_id" in bound:
        out["id"] = bound["job_id"]
    out["trigger"] = ast.Constant("crontab" if name == "add_cron_job" else "interval")
    if "cron_expression" in bound:
        out["expression"] = bound["cron_expression"]
    return out


def _job(
    names: Names,
    where: str,
    ref: str | None,
    label: str,
    bound: dict[str, ast.expr],
    problems: list[str],
    context: Context,
) -> ImportedJob:
    notes: list[str] = []
    key = label
    if "id" in bound:
        try:
            key = str(names.literal(bound["id"]))
        except Unresolved as e:
            problems.append(f"the job id: {e}")
    key = job_key(key)
    values: dict[str, Any] = {"enabled": True, **(run_target(ref) if ref else {})}
    trigger_args = {k: v for k, v in bound.items() if k not in ADD_JOB}
    for k, v in context.defaults.items():
        if k not in bound and k not in trigger_args and k != "timezone":
            bound = {**bound, k: v}
    if "timezone" in context.defaults and not isinstance(bound.get("trigger"), ast.Call):
        trigger_args.setdefault("timezone", context.defaults["timezone"])
    try:
        values |= _schedule(names, bound.get("trigger"), trigger_args, problems, notes)
    except (Unmappable, Unresolved) as e:
        problems.append(str(e))
    values |= _options(names, bound, problems, notes)
    if ref and "description" not in values and ref in context.docs:
        values["description"] = context.docs[ref]
    if len(key) > MAX_KEY:
        notes.append(
            f"the key is {len(key)} characters: the CronJob name <fullname>-<key> must stay "
            "within 52, so shorten it or the release name"
        )
    if not problems:
        return ImportedJob(key, where, ref, values, (), tuple(notes))
    return ImportedJob(key, where, ref, {}, tuple(problems), ())


def job_key(name: str) -> str:
    """A job id as a `jobs:` key: `cleanupOld_sessions` -> `cleanup-old-sessions`."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name)
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "job"


def _schedule(
    names: Names,
    trigger: ast.expr | None,
    args: dict[str, ast.expr],
    problems: list[str],
    notes: list[str],
) -> dict[str, Any]:
    """`schedule` or `every` (and `timeZone`) from add_job's trigger and trigger keywords."""
    if isinstance(trigger, ast.Name) and trigger.id in names.constants:
        trigger = names.constants[trigger.id]
    kind: str
    if trigger is None:
        raise Unmappable("no trigger: APScheduler runs the job once, at once (a date trigger)")
    if isinstance(trigger, ast.Call) and call_name(trigger.func) == "OrTrigger":
        return _or_trigger(names, trigger, problems, notes)
    if isinstance(trigger, ast.Call):
        kind = call_name(trigger.func)
        params = {"CronTrigger": CRON_TRIGGER, "IntervalTrigger": INTERVAL_TRIGGER}
        params["from_crontab"] = ("expression", "timezone")
        if kind not in params:
            raise Unmappable(f"{ast.unparse(trigger.func)}(...) is not a cron or interval trigger")
        args, bind_problems = _bind(trigger, params[kind])
        problems += bind_problems
        kind = {"CronTrigger": "cron", "IntervalTrigger": "interval"}.get(kind, "crontab")
    else:
        try:
            kind = str(names.literal(trigger))
        except Unresolved as e:
            raise Unresolved(f"the trigger: {e}") from None
    for option in ("start_date", "end_date"):
        node = args.get(option)
        if node is not None and ast.unparse(node) not in ("None", "0"):
            problems.append(OPTION_PROBLEMS[option].format(ast.unparse(node)))
    out: dict[str, Any] = {}
    if args.get("jitter") is not None:
        out |= _jitter(names, args["jitter"], problems)
    if "timezone" in args:
        out["timeZone"] = _timezone(names, args["timezone"], notes)
    fields = {k: v for k, v in args.items() if k not in TRIGGER_OPTIONS}
    converted: Converted
    if kind == "cron":
        unknown = sorted(set(fields) - set(FIELD_NAMES))
        if unknown:
            raise Unmappable(f"{', '.join(unknown)}: not CronTrigger fields")
        given = {k: names.literal(v) for k, v in fields.items()}
        converted = cron_from_fields({k: str(v) for k, v in given.items() if v is not None})
    elif kind == "crontab":
        expression = str(names.literal(fields.get("expression", ast.Constant(""))))
        converted = cron_from_fields(crontab_fields(expression), crontab=True)
    elif kind == "interval":
        unknown = sorted(set(fields) - set(INTERVAL_FIELDS))
        if unknown:
            raise Unmappable(f"{', '.join(unknown)}: not IntervalTrigger fields")
        amounts = {k: names.literal(v) for k, v in fields.items()}
        if not all(isinstance(v, int | float) for v in amounts.values()):
            raise Unmappable(f"the interval {amounts} is not numbers")
        converted = Converted(every=every_from_interval(**amounts))
    elif kind == "date":
        raise Unmappable(
            "a date trigger runs the job once; a CronJob repeats: run it once with "
            "`cronctl trigger` (or a Kubernetes Job) instead"
        )
    else:
        raise Unmappable(f"trigger {kind!r} is neither 'cron' nor 'interval'")
    notes += converted.notes
    if converted.every:
        return {"every": converted.every, **out}
    return {"schedule": converted.schedule, **out}


def _or_trigger(
    names: Names, trigger: ast.Call, problems: list[str], notes: list[str]
) -> dict[str, Any]:
    """`OrTrigger([CronTrigger(...), ...])` runs at each trigger's times: the chart's
    `schedules`, one CronJob per trigger (all in one time zone, as the job has one)."""
    args, bind_problems = _bind(trigger, ("triggers", "jitter"))
    problems += bind_problems
    listed = args.get("triggers")
    if not isinstance(listed, ast.List | ast.Tuple) or not listed.elts:
        raise Unmappable("OrTrigger(...): its triggers are not a literal list")
    parts = [_schedule(names, sub, {}, problems, notes) for sub in listed.elts]
    zones = {p.get("timeZone") for p in parts}
    if len(zones) > 1:
        raise Unmappable(
            f"OrTrigger(...) mixes time zones ({', '.join(sorted(str(z) for z in zones))}): a "
            "job has one timeZone; split it into one job per time zone"
        )
    out: dict[str, Any] = {}
    if None not in zones:
        out["timeZone"] = zones.pop()
    schedules = []
    for p in parts:
        if "every" in p:
            from cronjobs.registry import every_to_cron

            schedules.append(every_to_cron(p["every"], "OrTrigger(...)"))
        else:
            schedules.append(p["schedule"])
        if "jitter" in p:
            out["jitter"] = max(out.get("jitter", 0), p["jitter"])
    if args.get("jitter") is not None:
        out |= _jitter(names, args["jitter"], problems)
    out["schedules"] = list(dict.fromkeys(schedules))
    return out


def _jitter(names: Names, node: ast.expr, problems: list[str]) -> dict[str, Any]:
    """APScheduler delays each run by up to `jitter` seconds: the chart's `jitter` does the same
    (whole seconds, rounded up)."""
    try:
        value = names.literal(node)
    except Unresolved as e:
        problems.append(f"jitter: {e}")
        return {}
    if value is None or value == 0:
        return {}
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        problems.append(f"jitter={ast.unparse(node)} is not a number of seconds")
        return {}
    return {"jitter": math.ceil(value)}


OPTION_PROBLEMS = {
    "start_date": "start_date={}: a CronJob has no start date; install it (or resume it) then",
    "end_date": "end_date={}: a CronJob has no end date; suspend or remove it then",
}


def _timezone(names: Names, node: ast.expr, notes: list[str]) -> str:
    """`"Europe/Paris"`, `ZoneInfo("Europe/Paris")`, `pytz.timezone(...)`, `pytz.utc`, ..."""
    zone_call = isinstance(node, ast.Call) and call_name(node.func) in (
        "timezone",
        "ZoneInfo",
        "gettz",
    )
    if isinstance(node, ast.Call) and zone_call and node.args and not node.keywords:
        node = node.args[0]
    if isinstance(node, ast.Attribute | ast.Name) and ast.unparse(node).split(".")[-1] in (
        "utc",
        "UTC",
    ):
        return "Etc/UTC"
    value = names.literal(node)
    if not isinstance(value, str):
        raise Unresolved(f"timezone={ast.unparse(node)} is not a time zone name")
    if time_zones() and value not in time_zones():  # (no tz database here: cannot tell)
        near = [z for z in time_zones() if z.lower() == value.lower()]
        if len(near) == 1:  # pytz, which APScheduler 3 uses, ignores case; Kubernetes does not
            notes.append(f"timezone={value!r} is written {near[0]!r}, as Kubernetes spells it")
            return near[0]
        raise Unmappable(
            f"timezone={value!r} is not a time zone the chart and Kubernetes accept (an IANA "
            "name that zoneinfo knows, such as 'Europe/Paris' or 'Etc/UTC')"
        )
    return value


def _options(
    names: Names, bound: dict[str, ast.expr], problems: list[str], notes: list[str]
) -> dict[str, Any]:
    """concurrencyPolicy, startingDeadlineSeconds, suspend, description from add_job's options."""
    out: dict[str, Any] = {}
    read = ("args", "kwargs", "name", "misfire_grace_time", "coalesce", "max_instances")
    try:
        value = {k: names.literal(v) for k, v in bound.items() if k in read}
    except Unresolved as e:
        problems.append(f"an option: {e}")
        return out
    if value.get("args") or value.get("kwargs"):
        problems.append(
            "args=/kwargs= pass arguments to the function: `cronjobs run` calls it without; "
            "wrap the call in a function that takes none"
        )
    if "max_instances" in value:
        n = value["max_instances"]
        out["concurrencyPolicy"] = "Forbid" if n == 1 else "Allow"
        if n != 1:
            notes.append(f"max_instances={n}: Allow has no limit on concurrent runs")
    if "misfire_grace_time" in value:
        grace = value["misfire_grace_time"]
        if grace is None:
            notes.append("misfire_grace_time=None (run however late): the chart default applies")
        else:
            out["startingDeadlineSeconds"] = max(10, int(grace))
            if grace < 10:
                notes.append(f"misfire_grace_time={grace}: raised to 10, the chart's minimum")
    if value.get("coalesce") is False:
        notes.append(
            "coalesce=False: Kubernetes starts at most one missed run (as coalesce=True does)"
        )
    if "next_run_time" in bound and ast.unparse(bound["next_run_time"]) == "None":
        out["suspend"] = True
        notes.append("next_run_time=None (added paused): suspend: true")
    if isinstance(value.get("name"), str):
        out["description"] = value["name"]
    return out
