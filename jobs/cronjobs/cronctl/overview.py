"""A CronJob and its runs as cronctl reports them (`CronJobInfo`): the Jobs it owns, and the
runs the keeper's ledger remembers after their Jobs are gone, merged into one list.

Pure functions (no I/O): cronjobs.cronctl.runs reads the Jobs and the ledger, this module
summarizes them, building on model (the data) and ticks (the controller's rules).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from cronjobs.cronctl import schedule as sched
from cronjobs.cronctl import ticks
from cronjobs.cronctl.model import (
    HELM_RELEASE,
    MAINTENANCE,
    PROBLEMS,
    SUSPEND_REASON,
    SUSPENDED_AT,
    SUSPENDED_BY,
    SUSPENDED_UNTIL,
    CronJobInfo,
    Obj,
    Run,
    anchor,
    changes,
    is_helm_managed,
    parse_time,
    run_from_job,
    run_key,
)

log = logging.getLogger(__name__)


def merge(live: Sequence[Run], remembered: Sequence[Run]) -> tuple[Run, ...]:
    """The runs of the Jobs that exist and those only the ledger remembers, newest first: a
    run in both (the same Job uid, or name when a uid is missing) is shown once, as its Job
    says, with what its pod no longer tells (exit code, summary, log tail) from the ledger."""
    kept = {r.uid or r.name: r for r in remembered}
    out = []
    for run in live:
        entry = kept.pop(run.uid or run.name, None) or (
            kept.pop(run.name, None) if run.uid else None
        )
        if entry is not None:
            run = dataclasses.replace(
                run,
                exit_code=run.exit_code if run.exit_code is not None else entry.exit_code,
                summary=run.summary or entry.summary,
                log_tail=run.log_tail or entry.log_tail,
            )
        out.append(run)
    live_names = {r.name for r in out}
    out += [r for r in kept.values() if r.uid is not None or r.name not in live_names]
    return tuple(sorted(out, key=run_key, reverse=True))


def summarize(
    cronjob: Obj,
    jobs: list[Obj],
    now: datetime,
    remembered: Sequence[Run] = (),
    ledger: str | None = None,
) -> CronJobInfo:
    """A CronJob and the Jobs it owns (any order) as a CronJobInfo; runs newest first, with
    the runs the keeper's ledger `remembered` merged in (`merge`); `ledger` says how reading
    the ledger went (CronJobInfo.ledger)."""
    meta, spec = cronjob.get("metadata", {}), cronjob.get("spec", {})
    status = cronjob.get("status", {})
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    runs = merge([run_from_job(j, now) for j in jobs], remembered)
    finished = [r for r in runs if r.result in ("Succeeded", "Failed")]
    successes = [r.finished for r in runs if r.result == "Succeeded" and r.finished]
    last_success = max(
        [t for t in [parse_time(status.get("lastSuccessfulTime")), *successes] if t],
        default=None,
    )
    active = max(len(status.get("active") or ()), sum(r.result == "Running" for r in runs))
    suspended = bool(spec.get("suspend"))
    schedule = str(spec.get("schedule", ""))
    time_zone = spec.get("timeZone") or sched.split_zone(schedule)[0]  # legacy CRON_TZ=
    suspended_since = parse_time(annotations.get(SUSPENDED_AT))
    until = parse_time(annotations.get(SUSPENDED_UNTIL)) if suspended else None
    failures = [r for r in runs if r.result == "Failed"]
    day = ticks.verdicts(cronjob, runs, (), now, since=now - timedelta(days=1))
    never = sched.never_runs(schedule, time_zone, spec.get("startingDeadlineSeconds"), now)
    return CronJobInfo(
        name=meta.get("name", ""),
        namespace=meta.get("namespace", ""),
        schedule=schedule,
        schedule_description=sched.describe(schedule),
        time_zone=time_zone,
        suspended=suspended,
        active=active,
        last_schedule=parse_time(status.get("lastScheduleTime")),
        last_success=last_success,
        last_result=finished[0].result if finished else None,
        last_job=finished[0].name if finished else None,
        next_run=None
        if suspended or never
        else sched.next_run(schedule, time_zone, now, anchor(cronjob, schedule)),
        concurrency_policy=spec.get("concurrencyPolicy", "Allow"),
        starting_deadline_seconds=spec.get("startingDeadlineSeconds"),
        helm_release=annotations.get(HELM_RELEASE)
        or (labels.get("app.kubernetes.io/instance") if is_helm_managed(cronjob) else None),
        component=labels.get("app.kubernetes.io/component"),
        suspended_by=annotations.get(SUSPENDED_BY),
        suspended_at=annotations.get(SUSPENDED_AT),
        suspend_reason=annotations.get(SUSPEND_REASON),
        suspended_for_seconds=(now - suspended_since).total_seconds()
        if suspended and suspended_since
        else None,
        last_trigger=runs[0].trigger if runs else None,
        last_failure=max([t for r in failures if (t := r.finished or r.created)], default=None),
        streak=ticks.streak(runs),
        missed=ticks.missed(day) if day or sched.next_run(schedule, time_zone, now) else None,
        suspended_until=until,
        suspend_expired=bool(suspended and until and until <= now),
        maintenance=annotations.get(MAINTENANCE) if suspended else None,
        changes=tuple(changes(cronjob)),
        never_runs=never,
        problems=tuple(
            [
                *cronjob.get(PROBLEMS, ()),
                *(
                    f"Job {j['metadata'].get('name')}: {p}"
                    for j in jobs
                    for p in j.get(PROBLEMS, ())
                ),
            ]
        ),
        ledger=ledger,
        runs=runs,
    )


def summarize_safely(
    cronjob: Obj,
    jobs: list[Obj],
    now: datetime,
    remembered: Sequence[Run] = (),
    ledger: str | None = None,
) -> CronJobInfo:
    """`summarize`, or, should something still fail on data `clean_*` let through, a bare
    CronJobInfo that says so: one odd object must never take a whole listing down."""
    try:
        return summarize(cronjob, jobs, now, remembered, ledger)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as e:
        log.warning("cannot read CronJob %s", cronjob.get("metadata", {}).get("name"), exc_info=e)
        meta, spec = cronjob.get("metadata") or {}, cronjob.get("spec") or {}
        return CronJobInfo(
            name=str(meta.get("name") or ""),
            namespace=str(meta.get("namespace") or ""),
            schedule=str(spec.get("schedule") or ""),
            schedule_description="",
            time_zone=None,
            suspended=spec.get("suspend") is True,
            active=0,
            last_schedule=None,
            last_success=None,
            last_result=None,
            last_job=None,
            next_run=None,
            concurrency_policy=str(spec.get("concurrencyPolicy") or "Allow"),
            starting_deadline_seconds=None,
            helm_release=None,
            component=None,
            problems=(
                *cronjob.get(PROBLEMS, ()),
                f"cronctl cannot read it ({type(e).__name__}: {e})",
            ),
        )
