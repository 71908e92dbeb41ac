"""Forbid holds under concurrent triggers: a claim written on the CronJob by compare-and-swap.

Looking for a running Job and then creating one is not enough: two triggers can both look before
either creates. So a trigger of a Forbid CronJob (without --force) first records a claim in the
CronJob's `cronctl.cronjobs.dev/trigger-claim` annotation, with a JSON merge patch that carries
the `metadata.resourceVersion` it read: the API server applies it only to that version, so of
two triggers that read the same CronJob one claim succeeds and the other gets 409 Conflict; the
loser reads the CronJob again, finds the winner's claim (or its Job) and is refused. The winner
creates the Job named in its claim, then marks the claim `created`.

A claim whose trigger died before creating its Job must not block for ever: a claim that is not
`created`, whose Job does not exist, lapses CLAIM_TTL after it was made. A trigger gives up
without creating anything if more than CLAIM_BUDGET passed since it started claiming (by its
own monotonic clock), so a slow trigger cannot create its Job after its claim lapsed (the
margin allows for the clocks of two machines and a create's request timeout).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from cronjobs.cronctl import model
from cronjobs.cronctl.errors import Conflict, CronctlError, Refused
from cronjobs.cronctl.model import Obj
from cronjobs.cronctl.scope import Scope

log = logging.getLogger(__name__)
CRONJOBS = "batch/cronjobs"

CLAIM = model.PREFIX + "trigger-claim"
CLAIM_TTL = timedelta(minutes=5)
"""A claim not marked `created`, whose Job does not exist, blocks other triggers this long."""
CLAIM_BUDGET = 60.0
"""Seconds a trigger may take from claiming to creating its Job; past it, it gives up."""
ATTEMPTS = 5
"""Claims tried (each after reading the CronJob again) before giving up with 409 Conflict."""


@dataclass(frozen=True)
class Claim:
    job: str
    at: datetime
    by: str
    created: bool = False

    def to_annotation(self) -> str:
        body = {"job": self.job, "at": model.iso(self.at), "by": self.by, "created": self.created}
        return json.dumps(body, separators=(",", ":"))


def read(cronjob: Obj) -> Claim | None:
    """The CronJob's claim, or None when absent or unreadable (an unreadable one blocks
    nothing: the compare-and-swap, not the claim's content, keeps triggers apart)."""
    raw = ((cronjob.get("metadata") or {}).get("annotations") or {}).get(CLAIM)
    try:
        body = json.loads(raw) if isinstance(raw, str) else None
        at = model.parse_time(body["at"]) if isinstance(body, dict) else None
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(body, dict) or at is None or not isinstance(body.get("job"), str):
        return None
    return Claim(body["job"], at, str(body.get("by") or "?"), body.get("created") is True)


def blocker(cronjob: Obj, jobs: list[Obj], now: datetime) -> str | None:
    """Why another run may not start now under Forbid (None: it may): a Job of the CronJob
    still running, or a claim whose Job is being created."""
    running = [j["metadata"]["name"] for j in jobs if not model.is_finished(j)]
    if running:
        return f"Job {', '.join(running)} is still running"
    claim = read(cronjob)
    names = {j["metadata"]["name"] for j in jobs}
    if claim is None or claim.created or claim.job in names or now - claim.at >= CLAIM_TTL:
        return None
    return (
        f"a trigger by {claim.by} at {model.iso(claim.at)} is creating Job {claim.job} "
        f"(if that trigger died, its claim lapses at {model.iso(claim.at + CLAIM_TTL)})"
    )


def patch(cronjob: Obj, claim: Claim) -> Obj:
    """The conditional merge patch that records `claim`: 409 if the CronJob changed since it
    was read."""
    meta: Obj = {"annotations": {CLAIM: claim.to_annotation()}}
    version = (cronjob.get("metadata") or {}).get("resourceVersion")
    if version:
        meta["resourceVersion"] = version
    return {"metadata": meta}


def refuse_if_blocked(c: Scope, cronjob: Obj, jobs: list[Obj]) -> None:
    """Refused (exit 3) when `blocker` names a reason."""
    why = blocker(cronjob, jobs, c.clock())
    if why:
        raise Refused(
            f"CronJob {cronjob['metadata']['name']} forbids concurrent runs and {why}: "
            "wait for it, or pass --force to start another anyway"
        )


def claim(c: Scope, cronjob: Obj, job_name: str, who: str) -> Obj:
    """Record the claim for `job_name` on the CronJob (compare-and-swap on its
    resourceVersion), refusing while another run is active or claimed; the CronJob as
    patched. A 409 (another trigger, or the controller, changed it) reads it again."""
    meta = cronjob["metadata"]
    for _ in range(ATTEMPTS):
        refuse_if_blocked(c, cronjob, c.owned_jobs(cronjob))
        mine = Claim(job_name, c.clock(), who)
        try:
            return c.api.merge_patch(
                CRONJOBS, meta["namespace"], meta["name"], patch(cronjob, mine)
            )
        except Conflict:
            cronjob = c.fetch(meta["namespace"], meta["name"])
    raise Conflict(
        f"CronJob {meta['name']} changed {ATTEMPTS} times while cronctl claimed a run: nothing "
        "was created; try again"
    )


def settle(c: Scope, cronjob: Obj, job_name: str) -> None:
    """Mark the claim `created` (best effort: an unmarked claim whose Job exists blocks
    nothing either, until that Job is deleted)."""
    meta = cronjob["metadata"]
    for _ in range(ATTEMPTS):
        current = read(cronjob)
        if current is None or current.job != job_name or current.created:
            return
        done = Claim(current.job, current.at, current.by, created=True)
        try:
            c.api.merge_patch(CRONJOBS, meta["namespace"], meta["name"], patch(cronjob, done))
            return
        except Conflict:
            cronjob = c.fetch(meta["namespace"], meta["name"])
        except CronctlError as e:
            log.debug("could not mark the claim of Job %s created: %s", job_name, e)
            return
