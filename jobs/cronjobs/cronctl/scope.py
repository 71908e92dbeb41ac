"""What cronctl's helpers need of a controller: the API client, where to look, and the clock.

`CronJobController` hands a `Scope` to claim, backfill, diagnose, follow, suspension and
trigger instead of itself, so they depend on this small frozen value, never on the controller
(which imports them). Reads go through here, each object checked on the way in
(cronjobs.cronctl.intake).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cronjobs.cronctl import intake, model
from cronjobs.cronctl.errors import ConfigError, NotFound
from cronjobs.cronctl.model import Obj

if TYPE_CHECKING:
    from cronjobs.cronctl.api import KubeApi

CRONJOBS, JOBS, PODS = "batch/cronjobs", "batch/jobs", "/pods"


@dataclass(frozen=True)
class Scope:
    api: KubeApi
    namespace: str
    all_namespaces: bool
    selector: str
    confined: bool
    """Only the CronJobs the selector matches exist, by name too (the dashboard's mode)."""
    poll_interval: float
    clock: Callable[[], datetime]

    @property
    def where(self) -> str | None:
        """The namespace to list in: None across all of them (-A)."""
        return None if self.all_namespaces else self.namespace

    def ns_for_name(self) -> str:
        if self.all_namespaces:
            raise ConfigError("a CronJob name needs one namespace: use -n NAMESPACE instead of -A")
        return self.namespace

    def get(self, name: str) -> Obj:
        """The CronJob NAME in this scope's namespace."""
        return self.fetch(self.ns_for_name(), name)

    def fetch(self, namespace: str, name: str) -> Obj:
        """One CronJob, read defensively (intake.cronjob). When `confined`, only one that
        the selector matches (the API server evaluates it: a list by name): any other is
        NotFound, as if it did not exist."""
        if not self.confined:
            return intake.cronjob(self.api.get(CRONJOBS, namespace, name))
        found = self.api.list(
            CRONJOBS, namespace, self.selector, field_selector=f"metadata.name={name}"
        )
        if not found:
            raise NotFound("CronJob", name, namespace)
        return intake.cronjob(found[0])

    def objects(
        self,
        resource: str,
        namespace: str | None,
        selector: str | None = None,
        fields: str | None = None,
    ) -> list[Obj]:
        """CronJobs, Jobs or Events, each read defensively (cronjobs.cronctl.intake)."""
        clean = {CRONJOBS: intake.cronjob, JOBS: intake.job}.get(resource, intake.event)
        return [clean(obj) for obj in self.api.list(resource, namespace, selector, fields)]

    def owned_jobs(self, cronjob: Obj) -> list[Obj]:
        """The CronJob's Jobs: listed by its job template's labels (which the CronJob controller
        and `kubectl create job --from` copy onto every Job), joined by ownerReferences uid."""
        namespace = cronjob["metadata"]["namespace"]
        uid = str(cronjob["metadata"].get("uid"))
        jobs = self.objects(JOBS, namespace, model.template_selector(cronjob))
        return [j for j in jobs if model.owner_uid(j) == uid]
