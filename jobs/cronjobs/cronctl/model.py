"""Plain data: what cronctl reports about CronJobs and their runs, built from API dicts.

Pure functions only (no I/O), so the FastAPI app, the CLI and the tests share them.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

DEFAULT_SELECTOR = "app.kubernetes.io/name=cronjobs"
"""The label the chart puts on every object of a release: which CronJobs cronctl looks at."""
PREFIX = "cronctl.cronjobs.dev/"
SUSPENDED_BY = PREFIX + "suspended-by"
SUSPENDED_AT = PREFIX + "suspended-at"
SUSPEND_REASON = PREFIX + "suspend-reason"
SUSPENDED_UNTIL = PREFIX + "suspended-until"
"""When a suspension expires (UTC): `list`/`check` show it, `resume --expired` ends it."""
MAINTENANCE = PREFIX + "maintenance"
"""The id of the suspend run that changed this CronJob: `resume --maintenance ID` ends it."""
HISTORY = PREFIX + "history"
"""A short JSON history of suspends and resumes (who, when, why), newest last."""
SUSPEND_ANNOTATIONS = (SUSPENDED_BY, SUSPENDED_AT, SUSPEND_REASON, SUSPENDED_UNTIL, MAINTENANCE)
VALUES_SUSPEND = PREFIX + "values-suspend"
"""On the CronJob, from the chart: "true" when the values set `suspend: true` (they own it)."""
ALLOWED_ARGS = PREFIX + "allowed-args"
"""On the CronJob, from the chart: the JSON list of arguments `trigger NAME -- ARGS` may add."""
TRIGGER_ARGS = PREFIX + "trigger-args"
"""On a triggered Job: the JSON list of arguments cronctl appended."""
TRIGGER = PREFIX + "trigger"
"""On a manual Job cronctl made other than by `trigger`: how ("backfill")."""
TRIGGER_REQUEST = PREFIX + "trigger-request"
"""On a CronJob: a run asked for by someone without `create jobs`, JSON {"id", "by", "args",
"at"}; the keeper (jobs/cronjobs/keeper) starts it and records the outcome in TRIGGER_HANDLED."""
KEEPER = "cronjobs.dev/keeper"
"""On a CronJob, from the chart when the keeper runs (its Lease's name): `cronctl trigger`
may then ask the keeper for a run it may not create itself."""
TRIGGER_HANDLED = PREFIX + "trigger-handled"
"""The last request the keeper acted on: JSON {"id", "job", "result"} (result: started,
refused: ..., failed: ...)."""
RUN_TICK = "cronjobs.dev/scheduled-at"
"""On a run's pod template (cronctl trigger, backfill): the tick the run belongs to (jobs/cronjobs/tick.py)."""
TRIGGERED_BY = PREFIX + "triggered-by"
"""cronctl's one addition to the Job kubectl would build: who triggered it."""

MANUAL = "cronjob.kubernetes.io/instantiate"  # set to "manual" by kubectl create job --from
SCHEDULED_AT = "batch.kubernetes.io/cronjob-scheduled-timestamp"  # set by the CronJob controller
HELM_RELEASE = "meta.helm.sh/release-name"

Obj = dict[str, Any]
log = logging.getLogger(__name__)


PROBLEMS = "cronctl.problems"
"""The key under which cronjobs.cronctl.intake lists what it removed from an object it read (an
in-memory addition: objects are never sent back to the API server whole)."""


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


JOB, LEDGER = "job", "ledger"
"""Where a run was found (Run.source): its Job, or only the keeper's ledger."""


@dataclass(frozen=True)
class Run:
    """One Job owned by a CronJob."""

    name: str
    namespace: str
    trigger: str
    """"scheduled" (the CronJob controller's annotation), "manual" (kubectl's or cronctl's), or
    "unknown" (a controller older than Kubernetes 1.28 set neither)."""
    result: str
    """Succeeded, Failed, Running, Suspended or Pending."""
    created: datetime | None
    started: datetime | None
    finished: datetime | None
    duration_seconds: float | None
    triggered_by: str | None = None
    message: str | None = None
    reason: str | None = None
    """Why a failed Job failed: BackoffLimitExceeded, DeadlineExceeded, PodFailurePolicy..."""
    scheduled_at: datetime | None = None
    """The tick a scheduled run was created for (the controller's annotation, or its name)."""
    exit_code: int | None = None
    """The container's exit code (from its pod, while the pod exists)."""
    summary: Obj | None = None
    """The run's one-line JSON summary from the container's termination message, if any."""
    termination_message: str | None = None
    """A termination message that is not a summary (with FallbackToLogsOnError: the log's
    tail when the container failed without writing one)."""
    trigger_args: tuple[str, ...] = ()
    """The arguments `cronctl trigger NAME -- ARG...` appended to this manual run's args."""
    uid: str | None = None
    """The Job's uid: a run the keeper's ledger also remembers is the same run."""
    source: str = JOB
    """Where cronctl found the run: JOB (its Job still exists) or LEDGER (only the keeper's
    ledger remembers it: its Job and pods are gone)."""
    log_tail: tuple[str, ...] = ()
    """A failed run's last log lines, scrubbed, as the keeper's ledger kept them."""

    def to_dict(self) -> Obj:
        d = asdict(self)
        for key in ("created", "started", "finished", "scheduled_at"):
            d[key] = iso(d[key])
        d["log_tail"] = list(self.log_tail)
        return d


@dataclass(frozen=True)
class CronJobInfo:
    """A CronJob as `cronctl list`/`describe` show it."""

    name: str
    namespace: str
    schedule: str
    schedule_description: str
    time_zone: str | None
    suspended: bool
    active: int
    last_schedule: datetime | None
    last_success: datetime | None
    last_result: str | None
    last_job: str | None
    next_run: datetime | None
    concurrency_policy: str
    starting_deadline_seconds: int | None
    helm_release: str | None
    component: str | None
    suspended_by: str | None = None
    suspended_at: str | None = None
    suspend_reason: str | None = None
    suspended_for_seconds: float | None = None
    """How long it has been suspended (from cronctl's suspended-at annotation), if known."""
    last_trigger: str | None = None
    """The newest run's trigger: scheduled, manual or unknown."""
    last_failure: datetime | None = None
    """When the newest failed run still kept ended."""
    streak: tuple[str, int] | None = None
    """(Succeeded|Failed, n): the newest n finished runs all had that result."""
    missed: int | None = None
    """Ticks of the last 24 hours that did not run, suspension aside (None: not known, e.g. a
    schedule cronctl cannot read)."""
    suspended_until: datetime | None = None
    """When the suspension expires (cronctl's suspended-until annotation), if set."""
    suspend_expired: bool = False
    """Suspended past its `suspended_until`: `cronctl resume --expired` resumes it."""
    maintenance: str | None = None
    """The id of the suspend run that suspended it (`cronctl resume --maintenance ID`)."""
    changes: tuple[Obj, ...] = field(default=())
    """The recent suspends and resumes, oldest first: action, by, at, reason, until, run."""
    never_runs: str | None = None
    """Why the controller will never start it (a schedule that never fires, an `@every`
    longer than startingDeadlineSeconds...), or None."""
    problems: tuple[str, ...] = ()
    """What cronctl could not read in the CronJob or its Jobs (each ignored), and why."""
    ledger: str | None = None
    """The keeper's ledger of its runs (cronjobs.cronctl.runs): "read" (its runs are merged with
    the Jobs'), "none" (there is none: no keeper, or no run recorded yet), "forbidden" (the
    keeper runs but this reader may not read it: the Jobs alone), "unreadable", or None (not
    looked for)."""
    runs: tuple[Run, ...] = field(default=())

    def to_dict(self, with_runs: bool = False) -> Obj:
        d = asdict(self)
        d["changes"] = [dict(c) for c in self.changes]
        d["problems"] = list(self.problems)
        for key in ("last_schedule", "last_success", "next_run", "last_failure", "suspended_until"):
            d[key] = iso(d[key])
        d["streak"] = {"result": self.streak[0], "count": self.streak[1]} if self.streak else None
        d.pop("runs")
        if with_runs:
            d["runs"] = [run.to_dict() for run in self.runs]
        return d


def owner_uid(job: Obj) -> str | None:
    """The uid of the CronJob that controls this Job, if any."""
    for ref in job.get("metadata", {}).get("ownerReferences") or ():
        if ref.get("kind") == "CronJob" and ref.get("controller"):
            return str(ref.get("uid"))
    return None


def _condition(job: Obj, *types: str) -> Obj | None:
    for cond in job.get("status", {}).get("conditions") or ():
        if cond.get("type") in types and cond.get("status") == "True":
            return dict(cond)
    return None


def job_result(job: Obj) -> str:
    if _condition(job, "Complete", "SuccessCriteriaMet"):
        return "Succeeded"
    if _condition(job, "Failed", "FailureTarget"):
        return "Failed"
    if job.get("spec", {}).get("suspend"):
        return "Suspended"
    status = job.get("status", {})
    if status.get("active") or status.get("startTime"):
        return "Running"
    return "Pending"


def is_finished(job: Obj) -> bool:
    return job_result(job) in ("Succeeded", "Failed")


def run_from_job(job: Obj, now: datetime) -> Run:
    meta = job.get("metadata", {})
    annotations = meta.get("annotations") or {}
    scheduled_at = None
    if annotations.get(MANUAL) == "manual":
        trigger = str(annotations.get(TRIGGER) or "manual")  # "backfill" from cronctl backfill
    elif SCHEDULED_AT in annotations:
        trigger = "scheduled"
        scheduled_at = parse_time(annotations[SCHEDULED_AT])
    elif (m := _CONTROLLER_NAME.search(str(meta.get("name", "")))) and int(m[1]) < _MAX_MINUTE:
        trigger = "scheduled"  # <cronjob>-<minutes since the epoch>, before the annotation
        scheduled_at = datetime.fromtimestamp(int(m[1]) * 60, UTC)
    else:
        trigger = "unknown"
    status = job.get("status", {})
    result = job_result(job)
    started = parse_time(status.get("startTime"))
    finished = parse_time(status.get("completionTime"))
    done = _condition(job, "Complete", "SuccessCriteriaMet", "Failed", "FailureTarget")
    if finished is None and done is not None:
        finished = parse_time(done.get("lastTransitionTime"))
    end = finished or (now if result == "Running" else None)
    duration = (end - started).total_seconds() if started and end else None
    failed = _condition(job, "Failed")
    return Run(
        name=meta.get("name", ""),
        namespace=meta.get("namespace", ""),
        trigger=trigger,
        result=result,
        created=parse_time(meta.get("creationTimestamp")),
        started=started,
        finished=finished if result in ("Succeeded", "Failed") else None,
        duration_seconds=duration,
        triggered_by=annotations.get(TRIGGERED_BY),
        trigger_args=_json_list(annotations.get(TRIGGER_ARGS)),
        uid=str(meta["uid"]) if meta.get("uid") else None,
        message=(failed or {}).get("message") or (failed or {}).get("reason"),
        reason=(failed or {}).get("reason"),
        scheduled_at=scheduled_at,
    )


_CONTROLLER_NAME = re.compile(r"-(\d{8,10})$")
_MAX_MINUTE = 4_000_000_000
"""Minutes since the epoch in the year 9575: a larger number in a name is no tick (x-9999999999)."""


def _json_list(raw: str | None) -> tuple[str, ...]:
    try:
        value = json.loads(raw) if raw else []
    except ValueError:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def run_key(run: Run) -> datetime:
    return run.created or run.started or datetime.min.replace(tzinfo=UTC)


STABLE_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "cronjobs.dev/job",
)
"""The job template's labels that a `helm upgrade` does not change: a Job started before an
upgrade still carries them (not `helm.sh/chart` or `app.kubernetes.io/version`)."""


def template_selector(cronjob: Obj) -> str | None:
    """An equality selector of the job template's labels (which every Job it makes carries):
    only the stable ones when it has any, so a Job that a `helm upgrade` bumped the chart's
    labels after (still running: the Forbid check must see it) is found. A narrowing only:
    callers join the Jobs to the CronJob by ownerReferences uid."""
    template = cronjob.get("spec", {}).get("jobTemplate", {}).get("metadata") or {}
    labels = template.get("labels") or {}
    stable = {k: v for k, v in labels.items() if k in STABLE_LABELS}
    return ",".join(f"{k}={v}" for k, v in sorted((stable or labels).items())) or None


def index_jobs(jobs: list[Obj]) -> dict[str, list[Obj]]:
    """Jobs grouped by the uid of the CronJob that controls them: the in-memory join."""
    by_owner: dict[str, list[Obj]] = {}
    for job in jobs:
        uid = owner_uid(job)
        if uid:
            by_owner.setdefault(uid, []).append(job)
    return by_owner


def changes(cronjob: Obj) -> list[Obj]:
    """The CronJob's recorded suspends and resumes, oldest first ([] when absent or unreadable:
    the history is informative, never a reason to refuse a change)."""
    raw = (cronjob.get("metadata", {}).get("annotations") or {}).get(HISTORY)
    try:
        entries = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def anchor(cronjob: Obj, schedule: str) -> datetime | None:
    """Where an `@every` schedule counts from, as the controller does: the last schedule time,
    else the creation time (None for cron expressions, which need none)."""
    if not schedule.strip().lower().startswith("@every"):
        return None
    status, meta = cronjob.get("status", {}), cronjob.get("metadata", {})
    return parse_time(status.get("lastScheduleTime")) or parse_time(meta.get("creationTimestamp"))


def is_helm_managed(cronjob: Obj) -> bool:
    meta = cronjob.get("metadata", {})
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    return labels.get("app.kubernetes.io/managed-by") == "Helm" or HELM_RELEASE in annotations


_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the API server's generateName alphabet
_SUFFIX_LENGTH = 4
_NAME_BUDGET = 63 - len("-manual-") - len("YYMMDDhhmmss") - 1 - _SUFFIX_LENGTH


def manual_job_name(cronjob_name: str, now: datetime) -> str:
    """`<cronjob name, cut to 38>-manual-<UTC yymmddhhmmss>-<4 random>`: a valid name of at
    most 63 characters, unique even for two triggers in the same second."""
    stem = cronjob_name[:_NAME_BUDGET].rstrip("-.")
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(_SUFFIX_LENGTH))
    return f"{stem}-manual-{now.astimezone(UTC):%y%m%d%H%M%S}-{suffix}"


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def valid_job_name(name: str) -> bool:
    return len(name) <= 63 and bool(_DNS_LABEL.match(name))


def build_manual_job(
    cronjob: Obj,
    name: str,
    triggered_by: str | None = None,
    extra_args: tuple[str, ...] = (),
    scheduled_at: datetime | None = None,
) -> Obj:
    """The Job `kubectl create job NAME --from=cronjob/X` builds, plus cronctl's triggered-by
    and the run's tick (`scheduled_at`: the pod annotation RUN_TICK, which the chart hands to
    the job as CRONJOBS_SCHEDULED_AT, so a run that starts late still works on its tick).

    annotations: instantiate=manual, then the job template's annotations copied over it; labels:
    the job template's; one controller ownerReference without blockOwnerDeletion (which would
    need the cronjobs/finalizers permission); spec: the job template's spec unchanged, except
    `extra_args` (already checked against the allowlist) appended to the container's args and
    recorded in the trigger-args annotation.
    """
    meta = cronjob.get("metadata", {})
    template = cronjob.get("spec", {}).get("jobTemplate", {})
    template_meta = template.get("metadata") or {}
    annotations: dict[str, str] = {MANUAL: "manual"}
    if triggered_by:
        annotations[TRIGGERED_BY] = triggered_by
    annotations.update(template_meta.get("annotations") or {})
    if extra_args:
        annotations[TRIGGER_ARGS] = json.dumps(list(extra_args))
    job_meta: Obj = {"name": name, "namespace": meta.get("namespace")}
    if template_meta.get("labels"):
        job_meta["labels"] = dict(template_meta["labels"])
    job_meta["annotations"] = annotations
    job_meta["ownerReferences"] = [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": meta.get("name"),
            "uid": meta.get("uid"),
            "controller": True,
        }
    ]
    spec = copy.deepcopy(template.get("spec") or {})
    containers = spec.get("template", {}).get("spec", {}).get("containers") or []
    if extra_args and containers:
        containers[0]["args"] = [*(containers[0].get("args") or []), *extra_args]
    if scheduled_at is not None:
        pod_meta = spec.setdefault("template", {}).setdefault("metadata", {})
        pod_meta["annotations"] = {
            **(pod_meta.get("annotations") or {}),
            RUN_TICK: iso(scheduled_at),
        }
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": job_meta, "spec": spec}


def request_job_name(cronjob: str, request_id: str) -> str:
    """The Job a trigger request starts: derived from the request, so starting it twice (a
    keeper restarted mid-way) is a 409, never a second run."""
    import hashlib

    digest = hashlib.sha256(f"{cronjob}\0{request_id}".encode()).hexdigest()[:10]
    return f"{cronjob[:40].rstrip('-.')}-req-{digest}"
