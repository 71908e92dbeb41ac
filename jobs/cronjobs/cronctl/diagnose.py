"""Why, what next, and is it healthy: `explain`, `next` and `check` behind Scope.

Each function takes the controller (for its API and clock) and returns a frozen result with a
stable `to_dict()`; the CLI renders it. Costs: `explain` five requests (the CronJob, its Jobs,
their pods, and two lists of Events), `next` one, `check` two whatever the number of CronJobs.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cronjobs.cronctl import model, overview, results, runs, ticks
from cronjobs.cronctl import schedule as sched
from cronjobs.cronctl.display import span
from cronjobs.cronctl.errors import ConfigError, CronctlError
from cronjobs.cronctl.model import CronJobInfo, Obj, Run
from cronjobs.cronctl.scope import Scope
from cronjobs.cronctl.ticks import Event, Verdict

EVENTS = "/events"
PODS = "/pods"


def pod_selector(cronjob: Obj) -> str | None:
    """The pod template's labels, which every pod of the CronJob's Jobs carries."""
    template = cronjob.get("spec", {}).get("jobTemplate", {}).get("spec", {}).get("template", {})
    labels = (template.get("metadata") or {}).get("labels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or None


def with_pods(c: Scope, cronjob: Obj, info: CronJobInfo) -> CronJobInfo:
    """The runs with their exit codes and summaries: one list of pods."""
    selector = pod_selector(cronjob)
    if not info.runs or selector is None:
        return info
    pods = c.api.list(PODS, info.namespace, selector)
    return _replace_runs(info, results.attach(info.runs, pods))


def _replace_runs(info: CronJobInfo, runs: tuple[Run, ...]) -> CronJobInfo:
    from dataclasses import replace

    return replace(info, runs=runs)


def events(c: Scope, cronjob: Obj, runs: Sequence[Run]) -> list[Event]:
    """The CronJob's Events and its Jobs' (the API server keeps them about an hour)."""
    ns, name = cronjob["metadata"]["namespace"], cronjob["metadata"]["name"]
    own = c.objects(EVENTS, ns, fields=f"involvedObject.kind=CronJob,involvedObject.name={name}")
    names = {r.name for r in runs}
    of_jobs = [
        e
        for e in c.objects(EVENTS, ns, fields="involvedObject.kind=Job")
        if (e.get("involvedObject") or {}).get("name") in names
    ]
    found = [Event.from_api(e) for e in own + of_jobs]
    return sorted(found, key=lambda e: e.at or datetime.min.replace(tzinfo=UTC))


@dataclass(frozen=True)
class Explanation:
    info: CronJobInfo
    since: datetime
    verdicts: tuple[Verdict, ...]
    events: tuple[Event, ...]
    last_failure: Run | None
    advice: str

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(v.outcome for v in self.verdicts)
        return {k: counted.get(k, 0) for k in ("ran", "late", "missed", "skipped", "unknown")}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.info.name,
            "namespace": self.info.namespace,
            "schedule": self.info.schedule,
            "time_zone": self.info.time_zone,
            "suspended": self.info.suspended,
            "since": model.iso(self.since),
            "counts": self.counts,
            "missed": [v.to_dict() for v in self.verdicts if v.outcome == "missed"],
            "ticks": [v.to_dict() for v in self.verdicts],
            "last_failure": _failure_dict(self.last_failure),
            "streak": self.info.to_dict()["streak"],
            "ledger": self.info.ledger,
            "events": [e.to_dict() for e in self.events],
            "advice": self.advice,
        }


def _failure_dict(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        **run.to_dict(),
        "exit_meaning": results.exit_meaning(run.exit_code) if run.exit_code is not None else None,
    }


def explain(
    c: Scope,
    name: str,
    since: datetime | None = None,
    fit: Callable[[Obj, datetime, datetime], datetime] | None = None,
) -> Explanation:
    """`fit(cronjob, start, now)` may move the window's start (cronjobs.cronctl.window)."""
    cronjob = c.get(name)
    now = c.clock()
    start = ticks.window_start(cronjob, now, since)
    if fit is not None:
        start = fit(cronjob, start, now)
    info = with_pods(c, cronjob, runs.describe(c, cronjob))
    found = events(c, cronjob, info.runs)
    verdicts = tuple(ticks.verdicts(cronjob, info.runs, found, now, start))
    failure = next((r for r in info.runs if r.result == "Failed"), None)
    return Explanation(
        info, start, verdicts, tuple(found), failure, advice(info, verdicts, failure)
    )


_FIX_EXIT = {
    2: "fix the configuration the message names (the Secret or the chart's values), then "
    "`cronctl trigger {name} --wait`",
    3: "another run held the job's lock: look for a stuck run (`cronctl history {name}`)",
    4: "it was stopped (a node drain or deploy); the next run completes the work",
}


def advice(info: CronJobInfo, verdicts: Sequence[Verdict], failure: Run | None) -> str:
    """One line: what to do first."""
    name = info.name
    reasons = Counter(v.reason for v in verdicts if v.outcome == "missed")
    if info.never_runs:
        return f"It will never run: {info.never_runs}."
    if info.suspended:
        tail = (
            ""
            if info.starting_deadline_seconds is not None
            else " (it has no startingDeadlineSeconds: the newest missed tick would start at once)"
        )
        return f"Resume it when ready: `cronctl resume {name}`{tail}."
    if info.last_result == "Failed" and failure is not None:
        if failure.reason == "DeadlineExceeded":
            return (
                "The run took longer than activeDeadlineSeconds: raise it in the chart's values "
                f"or make the job faster, then `cronctl trigger {name} --wait`."
            )
        if failure.exit_code is not None and failure.exit_code > 128:
            return "The container was killed (out of memory?): raise its memory limit."
        fix = _FIX_EXIT.get(failure.exit_code or 0)
        if fix:
            return fix.format(name=name)[0].upper() + fix.format(name=name)[1:] + "."
        if failure.source == model.LEDGER:
            where = "its log tail (the keeper's ledger kept it; its Job is gone)"
            if not failure.log_tail:
                where = "its result (its Job and log are gone; the keeper's ledger kept no log)"
            return f"Read {where}, fix what it names, then `cronctl trigger {name} --wait`."
        return (
            f"Read the failed run's logs (`cronctl logs {name} --job {failure.name}`), fix "
            f"what it names, then `cronctl trigger {name} --wait`."
        )
    if reasons["forbid"]:
        return (
            "Runs overlap under Forbid: a run lasts longer than the interval; lengthen the "
            "schedule or shorten the run (activeDeadlineSeconds)."
        )
    if reasons["too-many-missed"]:
        return "Set or lower startingDeadlineSeconds, and check the controller's clock."
    if reasons["deadline"] or reasons["controller"]:
        return (
            "Check kube-controller-manager (the CronJob controller) and its clock; run the "
            f"missed work now with `cronctl trigger {name} --wait`."
        )
    ran = "ran"
    if any(v.outcome == "skipped" for v in verdicts):
        ran = "ran or was skipped while suspended"
    return f"Nothing to do: every tick in the window that can be judged {ran}, and no run failed."


# -- next --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upcoming:
    info: CronJobInfo
    slots: tuple[sched.Slot, ...]

    def to_dict(self) -> dict[str, Any]:
        tz = sched.zone(None if self.info.never_runs else self.info.time_zone)
        return {
            "name": self.info.name,
            "namespace": self.info.namespace,
            "schedule": self.info.schedule,
            "time_zone": self.info.time_zone or sched.DEFAULT_TIME_ZONE,
            "suspended": self.info.suspended,
            "never_runs": self.info.never_runs,
            "runs": [
                {
                    "at": model.iso(s.at),
                    "local": s.local,
                    "utc_offset": s.at.astimezone(tz).strftime("%z") if s.at else None,
                    "dst": s.dst,
                }
                for s in self.slots
            ],
        }


def upcoming(c: Scope, name: str, count: int, after: datetime | None = None) -> Upcoming:
    cronjob = c.get(name)
    now = after or c.clock()
    info = overview.summarize(cronjob, [], now)
    anchor = model.parse_time(cronjob.get("status", {}).get("lastScheduleTime")) or (
        model.parse_time(cronjob["metadata"].get("creationTimestamp"))
    )
    if info.never_runs:
        return Upcoming(info, ())
    try:
        found = sched.upcoming(info.schedule, info.time_zone, now, count, anchor)
    except ValueError as e:
        raise CronctlError(f"CronJob {name}: {e}") from e
    return Upcoming(info, tuple(found))


# -- check -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    name: str
    namespace: str
    window_seconds: float | None
    problems: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "ok": not self.problems,
            "window_seconds": self.window_seconds,
            "problems": list(self.problems),
        }


def default_window(info: CronJobInfo, now: datetime) -> timedelta | None:
    """Twice the longest gap between the schedule's next 10 runs (a daily job: 2 days)."""
    try:
        runs = sched.next_runs(info.schedule, info.time_zone, now, 11)
    except ValueError:
        return None
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    return 2 * max(gaps) if gaps else None


def health(
    info: CronJobInfo,
    now: datetime,
    created: datetime | None,
    *,
    max_age: timedelta | None,
    max_suspended: timedelta | None,
    max_failures: int,
) -> Health:
    window = max_age or default_window(info, now)
    label = f"{info.namespace}/{info.name}"
    problems = [f"{label}: {problem}" for problem in info.problems]
    if info.suspend_expired and info.suspended_until:
        ago = span((now - info.suspended_until).total_seconds())
        problems.append(
            f"{label}: the suspension expired {ago} ago (until {model.iso(info.suspended_until)}): "
            "`cronctl resume --expired`"
        )
    if info.suspended:
        since = info.suspended_for_seconds
        limit = max_suspended or window
        if since is None:
            problems.append(f"{label}: suspended (since when unknown: suspended without cronctl)")
        elif limit is not None and since > limit.total_seconds():
            problems.append(
                f"{label}: suspended for {span(since)}, over {span(limit.total_seconds())}"
            )
    if info.streak and info.streak[0] == "Failed" and info.streak[1] > max_failures:
        n = info.streak[1]
        problems.append(
            f"{label}: the last {n} runs failed" if n > 1 else f"{label}: the last run failed"
        )
    if window is not None and not info.suspended:
        reference = info.last_success or created
        if reference is not None and now - reference > window:
            what = (
                f"last success {span((now - reference).total_seconds())} ago"
                if info.last_success
                else "never succeeded"
            )
            problems.append(
                f"{label}: no successful run within {span(window.total_seconds())} ({what})"
            )
    if info.never_runs:
        problems.append(f"{label}: will never run: {info.never_runs}")
    elif window is None:
        problems.append(f"{label}: schedule {info.schedule!r} cannot be read: pass --max-age")
    return Health(
        info.name,
        info.namespace,
        window.total_seconds() if window else None,
        tuple(problems),
    )


def check(
    c: Scope,
    names: tuple[str, ...],
    *,
    selector: str | None,
    all_: bool,
    max_age: timedelta | None,
    max_suspended: timedelta | None,
    max_failures: int,
) -> list[Health]:
    """See Scope.check: a get per NAME plus its Jobs, or two lists."""
    if names and (selector is not None or all_):
        raise ConfigError("name the CronJobs, or select them with -l/--all, not both")
    if not names and selector is None and not all_:
        raise ConfigError("name the CronJobs, or pass -l SELECTOR, or --all")
    now = c.clock()
    if names:
        pairs = [(cj, runs.describe(c, cj)) for cj in (c.get(n) for n in names)]
    else:
        chosen = selector or c.selector
        pairs = runs.listing(c, chosen)
        if not pairs:
            where = f'namespace "{c.namespace}"' if c.where else "any namespace"
            raise CronctlError(f'no CronJob matches "{chosen}" in {where}: check -l and -n/-A')
    checked = [
        health(
            info,
            now,
            model.parse_time(cj["metadata"].get("creationTimestamp")),
            max_age=max_age,
            max_suspended=max_suspended,
            max_failures=max_failures,
        )
        for cj, info in pairs
    ]
    return sorted(checked, key=lambda h: (h.namespace, h.name))
