"""Suspend and resume: set `spec.suspend` (never toggle), record who/when/why/until, keep history.

A suspend writes the current record (suspended-by, -at, -reason, -until, and the id of the
suspend run that changed it) and appends to a short history; a resume clears the current record
but appends to the history, so who suspended and who resumed stay readable. Every change is one
JSON merge patch carrying the object's `resourceVersion`, so a concurrent change fails with 409
instead of being overwritten; cronctl then reads the CronJob again and re-plans once.

A suspend run gets an id (`m-<UTC yymmddhhmmss>-<4 random>`) stored only on the CronJobs it
changed: `resume --maintenance ID` (or the run's reason) resumes exactly those and leaves alone
the ones that were suspended before.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from cronjobs.cronctl import access, backfill, catchup, model, trigger
from cronjobs.cronctl.errors import ConfigError, Conflict, CronctlError
from cronjobs.cronctl.model import Obj
from cronjobs.cronctl.poll import poll_until
from cronjobs.cronctl.scope import Scope

CRONJOBS = "batch/cronjobs"
HISTORY_LIMIT = 10
"""Changes kept per CronJob (an annotation stays far below the 256 KiB limit)."""


@dataclass(frozen=True)
class Change:
    """The outcome of suspend/resume for one CronJob (planned only, with `dry_run`)."""

    name: str
    namespace: str
    action: str
    """suspended, already suspended, resumed, not suspended."""
    changed: bool
    warning: str | None = None
    dry_run: bool = False
    until: str | None = None
    """suspend: when the suspension expires (UTC), if `until` was given."""
    run: str | None = None
    """The suspend run's id (suspend), or the one this resume ended (resume --maintenance)."""
    catch_up: catchup.CatchUp | None = None
    """resume: the missed ticks, the controller's own action and the --catch-up choice's."""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["catch_up"] = self.catch_up.to_dict() if self.catch_up else None
        return d


def new_run_id(now: datetime) -> str:
    suffix = "".join(secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(4))
    return f"m-{now:%y%m%d%H%M%S}-{suffix}"


def until_time(until: datetime | timedelta | None, now: datetime) -> datetime | None:
    """`until` as an instant; a time not in the future is a usage error (exit 2)."""
    if until is None:
        return None
    when = now + until if isinstance(until, timedelta) else until
    if when <= now:
        raise ConfigError(
            f"--until {model.iso(when)} is not in the future (now {model.iso(now)}): give a "
            "duration such as 2h, or a later time"
        )
    return when


def _history(cronjob: Obj, entry: Obj) -> str:
    entries = [*model.changes(cronjob), {k: v for k, v in entry.items() if v is not None}]
    return json.dumps(entries[-HISTORY_LIMIT:], separators=(",", ":"))


def _suspend_plan(
    cj: Obj, *, who: str, now: datetime, reason: str | None, until: datetime | None, run: str
) -> tuple[Change, Obj | None]:
    meta = cj["metadata"]
    if cj.get("spec", {}).get("suspend"):
        return Change(meta["name"], meta["namespace"], "already suspended", False), None
    entry = {
        "action": "suspend",
        "by": who,
        "at": model.iso(now),
        "reason": reason,
        "until": model.iso(until),
        "run": run,
    }
    annotations = {
        model.SUSPENDED_BY: who,
        model.SUSPENDED_AT: model.iso(now),
        model.SUSPEND_REASON: reason,  # None removes a stale one
        model.SUSPENDED_UNTIL: model.iso(until),
        model.MAINTENANCE: run,
        model.HISTORY: _history(cj, entry),
    }
    patch = {"metadata": {"annotations": annotations}, "spec": {"suspend": True}}
    change = Change(
        meta["name"], meta["namespace"], "suspended", True, until=model.iso(until), run=run
    )
    return change, patch


def _resume_plan(
    cj: Obj, *, who: str, now: datetime, run: str | None, catch_up: catchup.CatchUp | None
) -> tuple[Change, Obj | None]:
    meta, spec = cj["metadata"], cj.get("spec", {})
    stale = set(model.SUSPEND_ANNOTATIONS) & set(meta.get("annotations") or {})
    warnings = []
    if spec.get("startingDeadlineSeconds") is None and spec.get("suspend"):
        warnings.append(
            f"CronJob {meta['name']} has no startingDeadlineSeconds: if it missed runs "
            "while suspended, the controller may start one at once"
        )
    if spec.get("suspend") and (meta.get("annotations") or {}).get(model.VALUES_SUSPEND):
        warnings.append(_values_own_suspend(cj))
    warning = "; ".join(warnings) or None
    if not spec.get("suspend") and not stale:
        return Change(meta["name"], meta["namespace"], "not suspended", False), None
    entry = {
        "action": "resume",
        "by": who,
        "at": model.iso(now),
        "run": run,
        "catch_up": catch_up.choice if catch_up else None,
    }
    annotations: dict[str, str | None] = dict.fromkeys(model.SUSPEND_ANNOTATIONS)
    if spec.get("suspend"):
        annotations[model.HISTORY] = _history(cj, entry)
    patch = {"metadata": {"annotations": annotations}, "spec": {"suspend": False}}
    action = "resumed" if spec.get("suspend") else "not suspended"
    change = Change(
        meta["name"], meta["namespace"], action, True, warning, run=run, catch_up=catch_up
    )
    return change, patch


def _values_own_suspend(cj: Obj) -> str:
    """The chart renders `suspend: true` for this job: its values own the field."""
    meta = cj["metadata"]
    key = (meta.get("labels") or {}).get("app.kubernetes.io/component") or "<key>"
    return (
        f"CronJob {meta['name']}: the chart's values suspend it (jobs.{key}.suspend: true), so "
        "the next helm upgrade suspends it again (with Helm 4's server-side apply, only with "
        '--force-conflicts: without it the upgrade fails on a conflict with "cronctl" over '
        f".spec.suspend); to resume it for good, set jobs.{key}.suspend: false in the values "
        "and run helm upgrade"
    )


def _commit(
    c: Scope,
    cj: Obj,
    plan: Callable[[Obj], tuple[Change, Obj | None]],
    dry_run: bool,
) -> tuple[Change, Obj]:
    """Plan against the CronJob as read and patch it, guarded by its resourceVersion; on a 409
    (someone changed it meanwhile) read it again and plan once more."""
    meta = cj["metadata"]
    for attempt in (1, 2):
        change, patch = plan(cj)
        if patch is None or dry_run:
            return replace(change, dry_run=dry_run), cj
        if cj["metadata"].get("resourceVersion"):
            patch["metadata"]["resourceVersion"] = cj["metadata"]["resourceVersion"]
        try:
            return change, c.api.merge_patch(CRONJOBS, meta["namespace"], meta["name"], patch)
        except Conflict:
            if attempt == 2:
                raise
            cj = c.api.get(CRONJOBS, meta["namespace"], meta["name"])
    raise AssertionError("unreachable")


def suspend(
    c: Scope,
    targets: list[Obj],
    *,
    reason: str | None,
    who: str | None,
    until: datetime | timedelta | None,
    dry_run: bool,
) -> list[Change]:
    now = c.clock()
    when = until_time(until, now)
    run = new_run_id(now)
    if not dry_run:
        _require(c, targets, "patch", CRONJOBS)
    actor = who or c.api.user
    return [
        _commit(
            c,
            cj,
            lambda obj: _suspend_plan(obj, who=actor, now=now, reason=reason, until=when, run=run),
            dry_run,
        )[0]
        for cj in targets
    ]


class NoSuchRun(CronctlError):
    """`resume --maintenance KEY`: no CronJob names a suspend run with that id or reason."""


def running_jobs(c: Scope, cronjobs: list[Obj]) -> list[str]:
    """The Jobs of these CronJobs that have not finished (`namespace/name`), sorted."""
    running = []
    for cj in cronjobs:
        meta = cj["metadata"]
        uid = str(meta.get("uid"))
        for job in c.api.list("batch/jobs", meta["namespace"], model.template_selector(cj)):
            if model.owner_uid(job) == uid and not model.is_finished(job):
                running.append(f"{meta['namespace']}/{job['metadata']['name']}")
    return sorted(running)


def drain(
    c: Scope,
    cronjobs: list[Obj],
    *,
    timeout: float,
    resume_hint: str,
    on_wait: Callable[[list[str]], None] | None = None,
) -> None:
    """`suspend --wait`: poll (a list per CronJob every `c.poll_interval` s) until none of their
    Jobs runs (scheduled or manual). WaitTimeout (exit 5) after `timeout` s, naming them; the
    CronJobs stay suspended and `resume_hint` says how to undo it."""
    last: list[str] | None = None

    def probe(_deadline: float) -> bool | None:
        nonlocal last
        running = running_jobs(c, cronjobs)
        if not running:
            return True
        if on_wait is not None and running != last:
            on_wait(running)
        last = running
        return None

    def gave_up() -> str:
        running = last or []
        return (
            f"gave up after {timeout:g}s waiting for {len(running)} running Job(s) of the "
            f"suspended CronJobs: {', '.join(running)}. The CronJobs stay suspended: wait "
            f"longer (--timeout), or stop the Jobs, or undo it with `{resume_hint}`"
        )

    poll_until(probe, timeout=timeout, interval=c.poll_interval, gave_up=gave_up)


def by_maintenance(targets: list[Obj], key: str) -> tuple[list[Obj], set[str]]:
    """The CronJobs that a suspend run changed, by its id or reason; and the matching run ids.

    A CronJob already suspended before the run was not changed by it, so its history names no
    such run and it is not returned. No match anywhere is a NotFound (exit 1).
    """
    runs = {
        str(e.get("run"))
        for cj in targets
        for e in model.changes(cj)
        if e.get("action") == "suspend" and e.get("run") and key in (e.get("run"), e.get("reason"))
    }
    if not runs:
        raise NoSuchRun(
            f'no CronJob here was suspended by a suspend run with id or reason "{key}": see '
            "the changes `cronctl describe NAME` lists (-o json: changes), and check -n/-l"
        )
    hit = [cj for cj in targets if any(e.get("run") in runs for e in model.changes(cj))]
    return hit, runs


def resume(
    c: Scope,
    targets: list[Obj],
    *,
    who: str | None,
    expired: bool,
    maintenance: str | None,
    catch_up: str | None,
    dry_run: bool,
) -> list[Change]:
    if catch_up is not None and catch_up not in catchup.CHOICES:
        raise ConfigError(f"--catch-up {catch_up!r}: use one of {', '.join(catchup.CHOICES)}")
    now = c.clock()
    actor = who or c.api.user
    runs: set[str] = set()
    if maintenance is not None:
        targets, runs = by_maintenance(targets, maintenance)
    if expired:
        targets = [cj for cj in targets if _expired(cj, now)]
    if not dry_run and any(cj.get("spec", {}).get("suspend") for cj in targets):
        _require(c, targets, "patch", CRONJOBS)
        if catch_up in ("none", "all"):
            _require(c, targets, "patch", f"{CRONJOBS}/status")
        if catch_up in ("once", "all"):
            _require(c, targets, "create", "batch/jobs")
    if catch_up == "all":
        _check_all(targets, now)
    changes = []
    for cj in targets:
        annotations = cj["metadata"].get("annotations") or {}
        run = annotations.get(model.MAINTENANCE)
        if runs and run not in runs:
            # Resumed since, or suspended again by someone else: not this run's to end.
            meta = cj["metadata"]
            changes.append(Change(meta["name"], meta["namespace"], "not suspended", False))
            continue
        preview = catchup.preview(cj, now, catch_up) if cj.get("spec", {}).get("suspend") else None
        if preview is not None and preview.mark is not None and not dry_run:
            _mark_handled(c, cj, preview.mark)
        change, _ = _commit(
            c,
            cj,
            lambda obj, p=preview, r=run: _resume_plan(  # type: ignore[misc]
                obj, who=actor, now=now, run=r if runs else None, catch_up=p
            ),
            dry_run,
        )
        if preview is not None and preview.trigger and change.changed and not dry_run:
            change = _catch_up_once(c, cj, change, preview, actor)
        if preview is not None and preview.backfill and change.changed and not dry_run:
            change = _catch_up_all(c, cj, change, preview, actor)
        changes.append(change)
    return changes


def _expired(cj: Obj, now: datetime) -> bool:
    until = model.parse_time((cj["metadata"].get("annotations") or {}).get(model.SUSPENDED_UNTIL))
    return bool(cj.get("spec", {}).get("suspend") and until and until <= now)


def _mark_handled(c: Scope, cj: Obj, tick: datetime) -> None:
    """Record `tick` as the last schedule time (the status subresource, as the controller does
    when it starts a Job): the controller then sees no unmet tick and starts none."""
    meta = cj["metadata"]
    patch = {"status": {"lastScheduleTime": model.iso(tick)}}
    c.api.merge_patch(CRONJOBS, meta["namespace"], meta["name"], patch, subresource="status")


def _catch_up_once(c: Scope, cj: Obj, change: Change, preview: catchup.CatchUp, who: str) -> Change:
    try:
        job = trigger.trigger(
            c, cj["metadata"]["name"], who=who, namespace=cj["metadata"]["namespace"]
        )
    except CronctlError as e:
        return replace(change, warning=f"--catch-up once: no run triggered: {e}")
    done = replace(preview, job=job.name, action=f"cronctl triggered job.batch/{job.name}")
    return replace(change, catch_up=done)


def _check_all(targets: list[Obj], now: datetime) -> None:
    """--catch-up all is bounded as backfill is: refuse before anything changes."""
    for cj in targets:
        if not cj.get("spec", {}).get("suspend"):
            continue
        missed = len(catchup.preview(cj, now, "all").backfill)
        if missed > backfill.DEFAULT_MAX:
            raise ConfigError(
                f"{cj['metadata']['name']} missed {missed} ticks, more than --catch-up all "
                f"backfills ({backfill.DEFAULT_MAX}): resume with --catch-up none or once, "
                "then `cronctl backfill NAME --from T1 --to T2 --max N`"
            )


def _catch_up_all(c: Scope, cj: Obj, change: Change, preview: catchup.CatchUp, who: str) -> Change:
    meta = cj["metadata"]
    first, last = preview.backfill[0], preview.backfill[-1]
    try:
        done = backfill.run(
            c,
            meta["name"],
            first,
            last,
            namespace=meta["namespace"],
            who=who,
            max_ticks=len(preview.backfill),
        )
    except CronctlError as e:
        return replace(change, warning=f"--catch-up all: stopped: {e}")
    jobs = tuple(s.job for s in done.steps if s.state != "planned")
    action = f"cronctl backfilled {len(jobs)} tick{'s' if len(jobs) != 1 else ''}"
    warning = backfill.failure_message(done) if done.failed else None
    return replace(change, catch_up=replace(preview, jobs=jobs, action=action), warning=warning)


def _require(c: Scope, targets: list[Obj], verb: str, resource: str) -> None:
    access.require(c.api, verb, resource, {cj["metadata"]["namespace"] for cj in targets})


def plan_suspend(
    cj: Obj, *, who: str, now: datetime, reason: str | None
) -> tuple[Change, Obj | None]:
    """The patch `suspend` would apply to one CronJob (None: already suspended), for callers
    that apply it themselves (the keeper)."""
    return _suspend_plan(cj, who=who, now=now, reason=reason, until=None, run=new_run_id(now))


def plan_resume(cj: Obj, *, who: str, now: datetime) -> tuple[Change, Obj | None]:
    """The patch `resume` would apply to one CronJob (None: nothing to change)."""
    return _resume_plan(cj, who=who, now=now, run=None, catch_up=None)
