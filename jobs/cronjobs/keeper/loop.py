"""One pass of the keeper over this release's CronJobs: record what finished, apply the
policies, start what operators asked for, end expired suspensions.

Each step is idempotent, so a keeper killed at any instant and restarted (or a second replica
that takes over the Lease) repeats nothing: a run is recorded under its Job's uid; a requested
run's Job has a name derived from the request, so creating it twice is a 409; a blackout
suspend carries its end on the CronJob itself; every write to a CronJob or a ledger is guarded
by the resourceVersion it was planned against.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cronjobs.cronctl import model, results, suspension
from cronjobs.cronctl.controller import CRONJOBS, JOBS, PODS, CronJobController
from cronjobs.cronctl.errors import Conflict, CronctlError, NotFound, Refused
from cronjobs.keeper import ledger, policy
from cronjobs.keeper.informer import Informer
from cronjobs.keeper.ledger import Entry

log = logging.getLogger(__name__)

CONFIGMAPS = "/configmaps"
REQUEST = model.TRIGGER_REQUEST
HANDLED = model.TRIGGER_HANDLED
request_job_name = model.request_job_name


@dataclass
class Pass:
    """What one pass did: for the log, the metrics and the tests."""

    recorded: list[Entry] = field(default_factory=list)
    actions: Counter[str] = field(default_factory=Counter)
    flags: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    states: dict[str, State] = field(default_factory=dict)
    """CronJob -> what its ledger and spec say now (for the gauges the alerts read)."""


@dataclass(frozen=True)
class State:
    """One CronJob as the alerts see it: from its ledger (so right after a restart too)."""

    created: float
    suspended: bool
    last_success: float | None
    last_failure: float | None
    last_failed: bool
    """The newest recorded run failed (or was stopped)."""

    @classmethod
    def of(cls, cj: model.Obj, recent: list[Entry]) -> State:
        def ended(e: Entry) -> float | None:
            at = _time(e.finished or e.started)
            return at.timestamp() if at else None

        ok = [t for e in recent if e.result == "Succeeded" and (t := ended(e)) is not None]
        bad = [
            t for e in recent if e.result in ("Failed", "Stopped") and (t := ended(e)) is not None
        ]
        created = _time(cj["metadata"].get("creationTimestamp"))
        return cls(
            created=created.timestamp() if created else 0.0,
            suspended=bool((cj.get("spec") or {}).get("suspend")),
            last_success=max(ok, default=None),
            last_failure=max(bad, default=None),
            last_failed=bool(recent) and recent[-1].result in ("Failed", "Stopped"),
        )


RECENT = 100
"""Entries of each ledger the keeper keeps at hand for the policies (a streak, a median of 20,
idleRuns up to 50)."""


@dataclass(frozen=True)
class _Known:
    version: str
    recent: list[Entry]
    uids: frozenset[str]


@dataclass(frozen=True)
class Cache:
    """The keeper's informers: this release's CronJobs, their Jobs (slimmed) and the ledgers
    (reduced to what the policies read), each kept up to date by a watch."""

    cronjobs: Informer
    jobs: Informer
    ledgers: Informer

    @classmethod
    def of(
        cls,
        keeper: Keeper,
        on_change: Callable[[], None] | None = None,
        **options: Any,
    ) -> Cache:
        api, scope = keeper.ctl.api, keeper.ctl.namespace

        def informer(
            resource: str, selector: str, keep: Callable[[model.Obj], model.Obj] | None
        ) -> Informer:
            return Informer(
                api, resource, scope, selector, clock=keeper.clock, keep=keep,
                on_change=on_change, **options,
            )  # fmt: skip

        return cls(
            informer(CRONJOBS, keeper.selector, None),
            informer(JOBS, keeper.selector, _slim),
            informer(CONFIGMAPS, ledger.LEDGER_LABEL, _reduce_ledger),
        )

    def all(self) -> tuple[Informer, ...]:
        return self.cronjobs, self.jobs, self.ledgers

    @property
    def synced(self) -> bool:
        return all(i.synced for i in self.all())

    @property
    def refused(self) -> bool:
        """The API server refuses one of the lists or watches (see Informer.refused), or one
        fails otherwise (Informer.failing): the keeper lists every pass meanwhile."""
        return any(i.refused is not None or i.failing is not None for i in self.all())

    def start(self, stop: threading.Event) -> None:
        for informer in self.all():
            informer.start(stop)


class Keeper:
    def __init__(
        self,
        ctl: CronJobController,
        selector: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.ctl = ctl
        self.selector = selector or ctl.selector
        self.clock = clock or ctl.clock
        self._known: dict[tuple[str, str], _Known] = {}
        """(namespace, ConfigMap) -> what the keeper keeps of each ledger between passes: its
        resourceVersion, its newest RECENT entries (all the policies read) and the uids it
        holds. A ledger is parsed again only when it changed; its whole data is held only while
        a run is being added to it."""
        self._cached = False

    def run_once(self, cache: Cache | None = None) -> Pass:
        """One pass, over what `cache` (the informers) holds, or else over fresh lists."""
        self._cached = cache is not None
        if cache is not None:
            cronjobs = cache.cronjobs.items()
            jobs = cache.jobs.items()
            ledgers = cache.ledgers.items()
        else:
            scope = self.ctl.namespace
            cronjobs = self.ctl.api.list(CRONJOBS, scope, self.selector)
            jobs = self.ctl.api.list(JOBS, scope, self.selector, keep=_slim)
            # Every ledger in one (paged) list, not a get per CronJob, each reduced as it
            # arrives (and parsed only when it changed since the last pass).
            ledgers = self.ctl.api.list(CONFIGMAPS, scope, ledger.LEDGER_LABEL, keep=self._remember)
        return self._pass(cronjobs, model.index_jobs(jobs), ledgers)

    def _pass(
        self,
        cronjobs: list[model.Obj],
        by_owner: dict[str, list[model.Obj]],
        ledgers: list[model.Obj],
    ) -> Pass:
        done = Pass()
        self._known = {_key(cm): cm[_KNOWN] for cm in ledgers}
        self._expire(cronjobs, done)
        for cj in cronjobs:
            name = cj["metadata"]["name"]
            try:
                self._keep(cj, by_owner.get(cj["metadata"].get("uid", ""), []), done)
            except CronctlError as e:  # one CronJob's trouble never stops the others
                log.warning("%s: %s", name, e)
                done.errors.append(f"{name}: {e}")
        return done

    def _expire(self, cronjobs: list[model.Obj], done: Pass) -> None:
        """End the suspensions whose `--until` has passed (what the expiry CronJob did)."""
        if not any(self._expired(cj) for cj in cronjobs):
            return
        changes = self.ctl.resume(expired=True, selector=self.selector, who=policy.ACTOR)
        done.actions["expire"] += sum(c.changed for c in changes)

    def _expired(self, cj: model.Obj) -> bool:
        until = (cj["metadata"].get("annotations") or {}).get(model.SUSPENDED_UNTIL)
        try:
            at = model.parse_time(until)
        except ValueError:
            return False
        return bool(cj.get("spec", {}).get("suspend") and at and at <= self.clock())

    # -- one CronJob -----------------------------------------------------------------------------

    def _keep(self, cj: model.Obj, jobs: list[model.Obj], done: Pass) -> None:
        now = self.clock()
        meta = cj["metadata"]
        known = self._known.get((meta["namespace"], ledger.configmap_name(meta["name"])))
        recent, uids = (known.recent, known.uids) if known else ([], frozenset[str]())
        new = [j for j in jobs if model.is_finished(j) and _uid(j) not in uids]
        if new:
            # The ledger as it is now. A fresh list shows every ledger that exists; a watch
            # may not have brought the keeper's own last write yet: read it, record only what
            # it lacks.
            entries, ledger_obj = self._whole(cj) if known or self._cached else ([], None)
            new = [j for j in new if not ledger.has(entries, _uid(j))]
            recent = entries[-RECENT:]
        if new:
            for entry in self._entries(cj, new, now):
                entries = ledger.add(entries, entry)
                done.recorded.append(entry)
            self._save(cj, ledger_obj, entries)
            recent = entries[-RECENT:]
        done.states[meta["name"]] = State.of(cj, recent)
        active = [j for j in jobs if not model.is_finished(j)]
        for action in policy.decide(cj, recent, active, now):
            self._apply(cj, action, recent, done)
        self._request(cj, jobs, done)

    def _remember(self, cm: model.Obj) -> model.Obj:
        """A listed ledger reduced (see _reduce_ledger), parsed only when it changed since the
        last pass."""
        meta = cm.get("metadata") or {}
        known = self._known.get(_key(cm))
        if known is not None and known.version and known.version == meta.get("resourceVersion"):
            return {"metadata": meta, _KNOWN: known}
        return _reduce_ledger(cm)

    def _whole(self, cj: model.Obj) -> tuple[list[Entry], model.Obj | None]:
        """The ledger as it is now, every entry (to add runs to it)."""
        meta = cj["metadata"]
        try:
            obj = self.ctl.api.get(
                CONFIGMAPS, meta["namespace"], ledger.configmap_name(meta["name"])
            )
        except NotFound:
            return [], None
        return ledger.load(obj.get("data")), obj

    def _save(self, cj: model.Obj, obj: model.Obj | None, entries: list[Entry]) -> None:
        meta = cj["metadata"]
        data = ledger.dump(entries)
        if obj is None:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": ledger.configmap_name(meta["name"]),
                    "namespace": meta["namespace"],
                    "labels": {
                        **{
                            k: v
                            for k, v in (meta.get("labels") or {}).items()
                            if k.startswith("app.kubernetes.io/")
                        },
                        ledger.LEDGER_LABEL: meta["name"],
                    },
                    "ownerReferences": [
                        {
                            "apiVersion": "batch/v1",
                            "kind": "CronJob",
                            "name": meta["name"],
                            "uid": meta.get("uid"),
                        }
                    ],
                },
                "data": data,
            }
            self.ctl.api.create(CONFIGMAPS, meta["namespace"], body)
            return
        patch = {
            "metadata": {"resourceVersion": obj["metadata"].get("resourceVersion")},
            "data": data,
        }
        self.ctl.api.merge_patch(CONFIGMAPS, meta["namespace"], obj["metadata"]["name"], patch)

    def _entries(self, cj: model.Obj, jobs: list[model.Obj], now: datetime) -> list[Entry]:
        namespace = cj["metadata"]["namespace"]
        runs = [model.run_from_job(j, now) for j in jobs]
        pods = self.ctl.api.list(PODS, namespace, _job_names_selector(jobs))
        runs = list(results.attach(runs, pods))
        out = []
        for job, run in zip(jobs, runs, strict=True):
            tail: tuple[str, ...] = ()
            if run.result == "Failed":
                tail = self._log_tail(namespace, run.name, pods)
            out.append(
                Entry(
                    uid=_uid(job),
                    job=run.name,
                    cronjob=cj["metadata"]["name"],
                    result=run.result,
                    trigger=run.trigger,
                    started=model.iso(run.started or run.created),
                    finished=model.iso(run.finished),
                    duration_seconds=run.duration_seconds,
                    exit_code=run.exit_code,
                    reason=run.reason,
                    scheduled_at=model.iso(run.scheduled_at),
                    triggered_by=run.triggered_by,
                    summary=run.summary,
                    log_tail=tail,
                )
            )
        return out

    def _log_tail(self, namespace: str, job: str, pods: list[model.Obj]) -> tuple[str, ...]:
        mine = [p for p in pods if results.job_of(p) == job]
        if not mine:
            return ()
        pod = max(mine, key=lambda p: str(p["metadata"].get("creationTimestamp", "")))
        try:
            return ledger.tail("\n".join(self.ctl.api.pod_log(namespace, pod["metadata"]["name"])))
        except CronctlError:
            return ()

    # -- actions ---------------------------------------------------------------------------------

    def _apply(
        self, cj: model.Obj, action: policy.Action, entries: list[Entry], done: Pass
    ) -> None:
        meta = cj["metadata"]
        if action.kind == "flag":
            done.flags.setdefault(meta["name"], []).append(action.reason)
            done.actions["flag"] += 1
            return
        log.info("%s %s: %s", action.kind, action.target, action.reason)
        if action.kind == "stop":
            self.ctl.api.delete(JOBS, meta["namespace"], action.target)
        elif action.kind == "suspend":
            mark = {policy.BLACKOUT_UNTIL: model.iso(action.until)} if action.until else {}
            self._patch_suspend(cj, True, action.reason, mark)
        elif action.kind == "restore":
            self._patch_suspend(cj, False, action.reason, {policy.BLACKOUT_UNTIL: None})
        elif action.kind == "unmark":
            self._patch(cj, {"metadata": {"annotations": {policy.BLACKOUT_UNTIL: None}}})
        done.actions[action.kind] += 1

    def _patch_suspend(
        self, cj: model.Obj, suspend: bool, reason: str, extra: dict[str, Any]
    ) -> None:
        """Suspend or resume as cronctl does (who, when, why, history), the keeper as actor."""
        now = self.clock()
        if suspend:
            _, patch = suspension.plan_suspend(cj, who=policy.ACTOR, now=now, reason=reason)
        else:
            _, patch = suspension.plan_resume(cj, who=policy.ACTOR, now=now)
        if patch is None:
            patch = {"metadata": {"annotations": {}}}
        patch["metadata"]["annotations"].update(extra)
        self._patch(cj, patch)

    def _patch(self, cj: model.Obj, patch: model.Obj) -> None:
        """A merge patch guarded by the resourceVersion it was planned against: on a conflict
        nothing is written and the next pass decides again on what is there then."""
        patch["metadata"]["resourceVersion"] = cj["metadata"].get("resourceVersion")
        meta = cj["metadata"]
        try:
            self.ctl.api.merge_patch(CRONJOBS, meta["namespace"], meta["name"], patch)
        except Conflict:
            log.info("%s changed meanwhile: the next pass decides again", meta["name"])

    def _request(self, cj: model.Obj, jobs: list[model.Obj], done: Pass) -> None:
        annotations = cj["metadata"].get("annotations") or {}
        try:
            request = json.loads(annotations.get(REQUEST) or "null")
            handled = json.loads(annotations.get(HANDLED) or "null") or {}
        except ValueError:
            return
        if (
            not isinstance(request, dict)
            or not request.get("id")
            or handled.get("id") == request["id"]
        ):
            return
        name = cj["metadata"]["name"]
        job_name = request_job_name(name, str(request["id"]))
        args = tuple(str(a) for a in request.get("args") or ())
        result = "started"  # also when an earlier pass created the Job but did not record it
        if not any(j["metadata"]["name"] == job_name for j in jobs):
            try:
                self.ctl.trigger(
                    name,
                    job_name=job_name,
                    who=str(request.get("by") or "unknown"),
                    args=args,
                    namespace=cj["metadata"]["namespace"],
                    scheduled_at=_time(request.get("at")),
                )
                done.actions["trigger"] += 1
            except Conflict:
                pass  # the Job exists: an earlier pass created it
            except Refused as e:
                result = f"refused: {e}"
            except CronctlError as e:
                result = f"failed: {e}"
            # A Forbid trigger's claim changed the CronJob: patch the CronJob as it is now.
            cj = self.ctl.api.get(CRONJOBS, cj["metadata"]["namespace"], name)
        handled_now = {"id": request["id"], "job": job_name, "result": result}
        # On a conflict the next pass sees the request again: its Job exists, nothing doubles.
        self._patch(cj, {"metadata": {"annotations": {HANDLED: json.dumps(handled_now)}}})


_KNOWN = "keeper.known"


def _reduce_ledger(cm: model.Obj) -> model.Obj:
    """What the policies need of a ledger (its newest RECENT entries, the uids it holds), its
    data dropped."""
    meta = cm.get("metadata") or {}
    entries = ledger.load(cm.get("data"))
    version = str(meta.get("resourceVersion") or "")
    return {
        "metadata": meta,
        _KNOWN: _Known(version, entries[-RECENT:], frozenset(e.uid for e in entries)),
    }


def _key(obj: model.Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace")), str(meta.get("name"))


def _slim(job: model.Obj) -> model.Obj:
    """What the keeper reads of a Job (its metadata, status and suspend flag): the pod
    template, most of a Job's bytes, is dropped as the list arrives."""
    spec = job.get("spec") or {}
    return {
        "metadata": job.get("metadata") or {},
        "spec": {"suspend": spec["suspend"]} if "suspend" in spec else {},
        "status": job.get("status") or {},
    }


def _time(value: object) -> datetime | None:
    """The request's time (its run's tick), or None when absent or unreadable."""
    try:
        return model.parse_time(str(value)) if value else None
    except ValueError:
        return None


def _uid(job: model.Obj) -> str:
    meta = job.get("metadata", {})
    return str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")


def _job_names_selector(jobs: list[model.Obj]) -> str:
    names = ",".join(sorted(j["metadata"]["name"] for j in jobs))
    return f"batch.kubernetes.io/job-name in ({names})"
