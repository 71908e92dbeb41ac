"""`cronctl backfill`: run a CronJob's schedule over a past range, one Job per tick.

The ticks are the CronJob's own (its schedule in its timeZone, by the controller's rules:
cronjobs.cron), oldest first. Each gets one Job built as `trigger` builds it, plus:
- the pod-template annotation `cronjobs.dev/scheduled-at` (the tick, ISO UTC), which the chart
  hands the run as CRONJOBS_SCHEDULED_AT: the run processes that tick's window (cronjobs.tick);
- the Job annotation `cronctl.cronjobs.dev/trigger: backfill`;
- a name derived from the CronJob and the tick, `<cronjob cut>-bf-<minutes since the epoch>`
  (the controller's `<cronjob>-<minutes>` with a mark), so a re-run finds the ticks done.

Never two at once (as `concurrencyPolicy: Forbid`): before each Job, backfill waits for every
unfinished Job of the CronJob, scheduled or not. A re-run skips the ticks whose Job exists and
succeeded; a failed Job stops the backfill (delete it to retry its tick). Bounded: more than
`max_ticks` ticks in the range is a ConfigError (exit 2), before anything is created.

Plain functions: `ticks`, `job_name`, `plan`, `run`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cronjobs import cron
from cronjobs.cronctl import access, claim, follow, model
from cronjobs.cronctl.errors import ConfigError, CronctlError, Refused
from cronjobs.cronctl.model import Obj, Run
from cronjobs.cronctl.scope import Scope
from cronjobs.tick import ANNOTATION

DEFAULT_MAX = 100
TRIGGER = model.TRIGGER
"""Job annotation: what started the Job (`backfill`)."""
MARK = "-bf-"
JOBS = "batch/jobs"
CLAIM_ATTEMPTS = 5
"""Times backfill waits for a run that beat it to the claim before giving up (exit 3)."""


@dataclass(frozen=True)
class Step:
    """One tick of a backfill and what became of it."""

    tick: datetime
    job: str
    state: str
    """planned (dry run, or not reached), done (succeeded before: skipped), created (left
    running, the last one without --wait), succeeded or failed."""
    run: Run | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheduled_at": model.iso(self.tick),
            "job": self.job,
            "state": self.state,
            "exit_code": self.run.exit_code if self.run else None,
        }


@dataclass(frozen=True)
class Backfill:
    cronjob: str
    namespace: str
    steps: tuple[Step, ...]
    dry_run: bool

    @property
    def failed(self) -> Step | None:
        return next((s for s in self.steps if s.state == "failed"), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cronjob": self.cronjob,
            "namespace": self.namespace,
            "dry_run": self.dry_run,
            "ticks": [s.to_dict() for s in self.steps],
        }


def ticks(cronjob: Obj, start: datetime, end: datetime, limit: int) -> list[datetime]:
    """The ticks of `cronjob`'s schedule (in its timeZone) with start <= tick <= end, oldest
    first, at most `limit` + 1 of them (one more tells the caller the range is too long)."""
    spec = cronjob.get("spec", {})
    text = str(spec.get("schedule", ""))
    try:
        schedule = cron.parse(cron.format_schedule(text, spec.get("timeZone")))
    except cron.CronError as e:
        raise ConfigError(f"the CronJob's schedule {text!r} does not parse ({e})") from e
    out: list[datetime] = []
    t = schedule.next(start.astimezone(UTC) - timedelta(seconds=1))
    while t is not None and t <= end and len(out) <= limit:
        out.append(t.astimezone(UTC))
        t = schedule.next(t)
    return out


def job_name(cronjob_name: str, tick: datetime) -> str:
    """`<cronjob name, cut>-bf-<minutes since the epoch of the tick>`: at most 63 characters,
    the same for the same CronJob and tick (what makes a re-run skip the ticks done)."""
    minutes = str(int(tick.timestamp()) // 60)
    stem = cronjob_name[: 63 - len(MARK) - len(minutes)].rstrip("-.")
    return f"{stem}{MARK}{minutes}"


def build_job(cronjob: Obj, tick: datetime, who: str | None) -> Obj:
    """The Job `trigger` builds, named and annotated for `tick`."""
    job = model.build_manual_job(cronjob, job_name(cronjob["metadata"]["name"], tick), who)
    job["metadata"]["annotations"][TRIGGER] = "backfill"
    template = job["spec"].setdefault("template", {})
    pod_meta = template.setdefault("metadata", {})
    pod_meta["annotations"] = {**(pod_meta.get("annotations") or {}), ANNOTATION: model.iso(tick)}
    return job


def plan(
    cronjob: Obj, jobs: list[Obj], start: datetime, end: datetime, max_ticks: int
) -> list[Step]:
    """A step per tick in [start, end]: `done` where its Job exists and succeeded, `failed`
    where it exists and failed, `created` where it still runs, else `planned`."""
    if end < start:
        raise ConfigError("--to is before --from: give the range oldest first")
    found = ticks(cronjob, start, end, max_ticks)
    if len(found) > max_ticks:
        raise ConfigError(
            f"the range holds more than {max_ticks} ticks of {cronjob['metadata']['name']}'s "
            "schedule: narrow --from/--to, or raise --max"
        )
    by_name = {j["metadata"]["name"]: j for j in jobs}
    steps = []
    for tick in found:
        name = job_name(cronjob["metadata"]["name"], tick)
        job = by_name.get(name)
        if job is None:
            steps.append(Step(tick, name, "planned"))
            continue
        result = model.job_result(job)
        state = {"Succeeded": "done", "Failed": "failed"}.get(result, "created")
        steps.append(Step(tick, name, state))
    return steps


def run(
    c: Scope,
    name: str,
    start: datetime,
    end: datetime,
    *,
    max_ticks: int = DEFAULT_MAX,
    dry_run: bool = False,
    wait: bool = False,
    timeout: float = 600.0,
    who: str | None = None,
    namespace: str | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> Backfill:
    """Create the missing Jobs of [start, end] one at a time, oldest first (see the module).

    Stops at the first failed Job (its step `failed`; the rest stay `planned`). Without `wait`
    the last Job created is left running (`created`); with it, it is followed too."""
    cronjob = c.fetch(namespace or c.ns_for_name(), name)
    namespace = cronjob["metadata"]["namespace"]
    steps = plan(cronjob, c.owned_jobs(cronjob), start, end, max_ticks)
    if dry_run:
        return Backfill(name, namespace, tuple(steps), True)
    forbid = cronjob.get("spec", {}).get("concurrencyPolicy") == "Forbid"
    if any(s.state == "planned" for s in steps):
        access.require(c.api, "create", JOBS, {namespace})
        if forbid:
            access.require(c.api, "patch", "batch/cronjobs", {namespace})
    actor = who or c.api.user
    todo = [i for i, s in enumerate(steps) if s.state in ("planned", "created", "failed")]
    for i in todo:
        step = steps[i]
        if step.state == "failed":
            break
        if step.state == "planned":
            _create(c, cronjob, step, actor, forbid, timeout)
            step = replace(step, state="created")
        if i != todo[-1] or wait:
            result = follow.wait(
                c, step.job, namespace, timeout=timeout, on_log=None, on_progress=None
            )
            step = replace(step, state=result.result.lower(), run=result)
        steps[i] = step
        if on_step is not None:
            on_step(step)
        if step.state == "failed":
            break
    return Backfill(name, namespace, tuple(steps), False)


def _create(c: Scope, cronjob: Obj, step: Step, who: str, forbid: bool, timeout: float) -> None:
    """Create the step's Job once no other Job of the CronJob runs. Under Forbid, through the
    claim `cronctl trigger` takes (cronjobs.cronctl.claim), so a trigger racing the backfill is
    refused or refuses it; refused, backfill waits for that run and tries again."""
    meta = cronjob["metadata"]
    for attempt in range(CLAIM_ATTEMPTS):
        _wait_idle(c, cronjob, timeout)
        current = c.fetch(meta["namespace"], meta["name"])
        if forbid:
            try:
                current = claim.claim(c, current, step.job, who)
            except Refused:
                if attempt == CLAIM_ATTEMPTS - 1:
                    raise
                time.sleep(c.poll_interval)
                continue
        c.api.create(JOBS, meta["namespace"], build_job(current, step.tick, who))
        if forbid:
            claim.settle(c, current, step.job)
        return


def _wait_idle(c: Scope, cronjob: Obj, timeout: float) -> None:
    """Forbid: wait until no Job of the CronJob is unfinished (a scheduled run included)."""
    namespace = cronjob["metadata"]["namespace"]
    for job in c.owned_jobs(cronjob):
        if not model.is_finished(job):
            follow.wait(
                c,
                job["metadata"]["name"],
                namespace,
                timeout=timeout,
                on_log=None,
                on_progress=None,
            )


def failure_message(result: Backfill) -> str:
    step = result.failed
    if step is None:
        raise CronctlError("no failed step")
    return (
        f"Job {step.job} (the tick of {model.iso(step.tick)}) failed: the later ticks were not "
        f"started. See `cronctl logs {result.cronjob} --job {step.job}`; delete the Job "
        f"(`kubectl delete job {step.job} -n {result.namespace}`) and re-run the same backfill "
        "to retry from that tick"
    )
