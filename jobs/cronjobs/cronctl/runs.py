"""A CronJob's runs: the Jobs that still exist and, with the keeper on, the runs its ledger
remembers after their Jobs were garbage-collected (cronjobs.keeper.ledger, docs/keeper.md).

`describe`, `history`, `explain`, `check`, `list` and the dashboard read through here. The
ledger is an addition, never a requirement: none (no keeper, or no run recorded yet), no right
to read it (403) or one that cannot be read leaves the Jobs alone, as before the keeper.
Costs: one get per CronJob named; for a listing one list of the ledgers by label, or, for a
reader allowed only to get them by name (the chart's viewer Role), a get per CronJob that the
keeper looks after.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from cronjobs.cronctl import model, overview
from cronjobs.cronctl.errors import CronctlError, Forbidden, NotFound
from cronjobs.cronctl.model import CronJobInfo, Obj, Run
from cronjobs.cronctl.scope import CRONJOBS, JOBS, Scope
from cronjobs.keeper import ledger

log = logging.getLogger(__name__)

CONFIGMAPS = "/configmaps"
READ, NONE, FORBIDDEN, UNREADABLE = "read", "none", "forbidden", "unreadable"


@dataclass(frozen=True)
class Kept:
    """What the ledger of one CronJob gave: its runs, newest first, and how reading went (one
    of READ, NONE, FORBIDDEN, UNREADABLE, or None when not looked for: CronJobInfo.ledger)."""

    runs: tuple[Run, ...] = ()
    state: str | None = NONE


def from_entry(entry: ledger.Entry, namespace: str) -> Run:
    """A ledger entry as cronctl shows a run whose Job is gone (the keeper's `as_run`, marked
    as the ledger's, with the Job's uid and the log tail)."""
    run: Run = ledger.as_run(entry, namespace)
    return replace(run, uid=entry.uid, source=model.LEDGER, log_tail=entry.log_tail)


def _runs(configmap: Obj) -> tuple[Run, ...]:
    namespace = str((configmap.get("metadata") or {}).get("namespace") or "")
    entries = ledger.load(configmap.get("data"))
    return tuple(from_entry(e, namespace) for e in reversed(entries))


def _looked_after(cronjob: Obj) -> bool:
    """The chart marks the CronJobs its keeper looks after (model.KEEPER)."""
    return bool((cronjob["metadata"].get("annotations") or {}).get(model.KEEPER))


def one(c: Scope, cronjob: Obj) -> Kept:
    """The ledger of one CronJob: one get. A 403 counts as FORBIDDEN only for a CronJob the
    keeper looks after (else there is no ledger to miss: NONE)."""
    meta = cronjob["metadata"]
    try:
        found = c.api.get(CONFIGMAPS, meta["namespace"], ledger.configmap_name(meta["name"]))
    except NotFound:
        return Kept()
    except Forbidden as e:
        log.debug("may not read the ledger of %s: %s", meta["name"], e)
        return Kept(state=FORBIDDEN if _looked_after(cronjob) else NONE)
    except CronctlError as e:
        log.debug("cannot read the ledger of %s: %s", meta["name"], e)
        return Kept(state=UNREADABLE)
    return Kept(_runs(found), READ)


def _slim(configmap: Obj) -> Obj:
    """A listed ledger reduced to its runs as its page arrives (a ledger may hold 700 KB)."""
    meta = configmap.get("metadata") or {}
    owner = (meta.get("labels") or {}).get(ledger.LEDGER_LABEL)
    return {"key": (meta.get("namespace"), owner), "runs": _runs(configmap)}


def every(c: Scope, cronjobs: Sequence[Obj]) -> dict[tuple[str, str], Kept]:
    """The ledgers of `cronjobs` by (namespace, name): one list by label; refused it (the
    chart's viewer Role gets each ledger by name and lists none), a get per CronJob the
    keeper looks after, stopping at the first 403."""
    keys = [(cj["metadata"]["namespace"], cj["metadata"]["name"]) for cj in cronjobs]
    try:
        listed = c.api.list(CONFIGMAPS, c.where, ledger.LEDGER_LABEL, keep=_slim)
    except Forbidden:
        return _one_by_one(c, cronjobs)
    except CronctlError as e:
        log.debug("cannot list the keeper's ledgers: %s", e)
        return dict.fromkeys(keys, Kept(state=UNREADABLE))
    found = {tuple(item["key"]): item["runs"] for item in listed}
    return {k: Kept(found[k], READ) if k in found else Kept() for k in keys}


def _one_by_one(c: Scope, cronjobs: Sequence[Obj]) -> dict[tuple[str, str], Kept]:
    out = {}
    refused = False
    for cj in cronjobs:
        key = (cj["metadata"]["namespace"], cj["metadata"]["name"])
        if not _looked_after(cj):
            out[key] = Kept()
        elif refused:
            out[key] = Kept(state=FORBIDDEN)
        else:
            out[key] = one(c, cj)
            refused = out[key].state == FORBIDDEN
    return out


def describe(c: Scope, cronjob: Obj, ledger: bool = True) -> CronJobInfo:
    """One CronJob with its runs (its Jobs and, with `ledger`, its ledger's), without pods."""
    jobs = c.owned_jobs(cronjob)
    kept = one(c, cronjob) if ledger else Kept(state=None)
    return overview.summarize_safely(cronjob, jobs, c.clock(), kept.runs, kept.state)


def listing(c: Scope, selector: str) -> list[tuple[Obj, CronJobInfo]]:
    """Every CronJob the selector matches in the scope, with its runs: three lists (CronJobs,
    their Jobs, the ledgers), whatever the number of CronJobs; sorted by namespace, name."""
    cronjobs = c.objects(CRONJOBS, c.where, selector)
    if not cronjobs:
        return []
    by_owner = model.index_jobs(c.objects(JOBS, c.where, selector))
    kept = every(c, cronjobs)
    now = c.clock()
    out = []
    for cj in cronjobs:
        meta = cj["metadata"]
        k = kept[meta["namespace"], meta["name"]]
        jobs = by_owner.get(str(meta.get("uid")), [])
        out.append((cj, overview.summarize_safely(cj, jobs, now, k.runs, k.state)))
    return sorted(out, key=lambda pair: (pair[1].namespace, pair[1].name))
