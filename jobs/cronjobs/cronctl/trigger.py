"""`cronctl trigger`: start a run now, as `kubectl create job --from=cronjob/NAME` does.

Under Forbid, through the claim (cronjobs.cronctl.claim) so that concurrent triggers start at
most one run; without `create jobs` but with the keeper on, as a request the keeper acts on
(`request`, then `await_request`).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from cronjobs.cronctl import access, claim, model, params
from cronjobs.cronctl.errors import ConfigError, Conflict, CronctlError, Refused
from cronjobs.cronctl.model import Obj
from cronjobs.cronctl.poll import poll_until
from cronjobs.cronctl.scope import CRONJOBS, JOBS, Scope


@dataclass(frozen=True)
class Triggered:
    job: Obj
    """The Job as created (or, with dry_run, as it would be created; for a request, its name)."""
    dry_run: bool
    request: str | None = None
    """The id of the trigger request made instead (no `create jobs`: the keeper starts it)."""

    @property
    def name(self) -> str:
        return str(self.job["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.job["metadata"].get("namespace") or "")


def trigger(
    c: Scope,
    name: str,
    *,
    force: bool = False,
    dry_run: bool = False,
    job_name: str | None = None,
    who: str | None = None,
    args: tuple[str, ...] = (),
    namespace: str | None = None,
    scheduled_at: datetime | None = None,
) -> Triggered:
    """See CronJobController.trigger."""
    if job_name is not None and not model.valid_job_name(job_name):
        raise ConfigError(
            f'invalid Job name "{job_name}": use at most 63 lowercase letters, digits and '
            "'-', starting and ending with a letter or digit"
        )
    cronjob = c.fetch(namespace or c.ns_for_name(), name)
    namespace = cronjob["metadata"]["namespace"]
    extra = params.check(cronjob, args)
    forbid = not force and cronjob.get("spec", {}).get("concurrencyPolicy") == "Forbid"
    who = who or c.api.user
    keeper = (cronjob["metadata"].get("annotations") or {}).get(model.KEEPER)
    if not dry_run and keeper and c.api.can("create", JOBS, namespace) is False:
        # No `create jobs` (the operator Role with the keeper on): ask the keeper instead.
        access.require(c.api, "patch", CRONJOBS, {namespace})
        return request(c, cronjob, who, extra, scheduled_at or c.clock())
    if not dry_run:
        access.require(c.api, "create", JOBS, {namespace})
        if forbid:
            access.require(c.api, "patch", CRONJOBS, {namespace})
    job = model.build_manual_job(
        cronjob,
        job_name or model.manual_job_name(name, c.clock()),
        triggered_by=who,
        extra_args=extra,
        scheduled_at=scheduled_at or c.clock(),
    )
    if forbid and dry_run:
        claim.refuse_if_blocked(c, cronjob, c.owned_jobs(cronjob))
    if dry_run:
        return Triggered(job, dry_run=True)
    started = time.monotonic()
    if forbid:
        cronjob = claim.claim(c, cronjob, job["metadata"]["name"], who)
        if time.monotonic() - started > claim.CLAIM_BUDGET:
            raise CronctlError(
                f"CronJob {name}: claiming the run took over {claim.CLAIM_BUDGET:g}s, so no "
                "Job was created (its claim lapses on its own): check the API server's "
                "health and try again"
            )
    try:
        created = Triggered(c.api.create(JOBS, namespace, job), False)
    except Conflict as e:
        raise Conflict(
            f'Job "{job["metadata"]["name"]}" already exists in namespace "{namespace}": '
            "pass --job-name with another name (or leave it out for a fresh one)"
        ) from e
    if forbid:
        claim.settle(c, cronjob, job["metadata"]["name"])
    return created


def request(c: Scope, cronjob: Obj, who: str, args: tuple[str, ...], at: datetime) -> Triggered:
    """Record a trigger request on the CronJob (guarded by its resourceVersion) for the
    keeper to start; the Triggered names the Job the keeper will create."""
    meta = cronjob["metadata"]
    request_id = f"{at:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
    body = {"id": request_id, "by": who, "args": list(args), "at": model.iso(at)}
    patch = {
        "metadata": {
            "resourceVersion": meta.get("resourceVersion"),
            "annotations": {model.TRIGGER_REQUEST: json.dumps(body)},
        }
    }
    c.api.merge_patch(CRONJOBS, meta["namespace"], meta["name"], patch)
    job = {"metadata": {"name": model.request_job_name(meta["name"], request_id),
                        "namespace": meta["namespace"]}}  # fmt: skip
    return Triggered(job, False, request=request_id)


def await_request(c: Scope, triggered: Triggered, cronjob: str, timeout: float) -> None:
    """See CronJobController.await_request."""

    def probe(_deadline: float) -> bool | None:
        obj = c.fetch(triggered.namespace, cronjob)
        raw = (obj["metadata"].get("annotations") or {}).get(model.TRIGGER_HANDLED)
        try:
            handled = json.loads(raw) if raw else {}
        except ValueError:
            handled = {}
        if not isinstance(handled, dict) or handled.get("id") != triggered.request:
            return None
        result = str(handled.get("result", ""))
        if result.startswith("refused"):
            raise Refused(f"the keeper did not start the run: {result}")
        if result != "started":
            raise CronctlError(f"the keeper did not start the run: {result}")
        return True

    def gave_up() -> str:
        return (
            f"the keeper has not acted on the request for CronJob {cronjob} within "
            f"{timeout:g}s (it stays asked for): is the keeper running? "
            "(kubectl get lease; keeper.enabled in the chart)"
        )

    poll_until(probe, timeout=timeout, interval=c.poll_interval, gave_up=gave_up)
