"""Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it:
the holder renews `renewTime` within `leaseDurationSeconds`; another replica takes the Lease
only once that has passed. Every write carries the resourceVersion it read, so two replicas
that both see an expired Lease cannot both take it (one gets 409 Conflict)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cronjobs.cronctl.api import KubeApi as Api
from cronjobs.cronctl.errors import Conflict, NotFound

LEASES = "coordination.k8s.io/leases"


def micro(when: datetime) -> str:
    """A Lease's MicroTime."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class Lease:
    api: Api
    namespace: str
    name: str
    identity: str
    duration: timedelta = timedelta(seconds=30)

    def acquire(self, now: datetime) -> bool:
        """Take or renew the Lease; False when another replica holds it (or won the race)."""
        try:
            current = self.api.get(LEASES, self.namespace, self.name)
        except NotFound:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._spec(now, now, 0),
            }
            try:
                self.api.create(LEASES, self.namespace, body)
            except Conflict:
                return False
            return True
        spec = current.get("spec") or {}
        holder = spec.get("holderIdentity")
        renewed = parse_micro(spec.get("renewTime"))
        seconds = spec.get("leaseDurationSeconds") or int(self.duration.total_seconds())
        free = not holder or renewed is None or renewed + timedelta(seconds=seconds) < now
        if holder != self.identity and not free:
            return False
        transitions = int(spec.get("leaseTransitions") or 0) + (holder != self.identity)
        acquired = parse_micro(spec.get("acquireTime")) if holder == self.identity else now
        patch = {
            "metadata": {"resourceVersion": current["metadata"].get("resourceVersion")},
            "spec": self._spec(acquired or now, now, transitions),
        }
        try:
            self.api.merge_patch(LEASES, self.namespace, self.name, patch)
        except Conflict:
            return False
        return True

    def release(self, now: datetime) -> None:
        """Give the Lease up on a clean stop, so another replica need not wait it out."""
        try:
            current = self.api.get(LEASES, self.namespace, self.name)
        except NotFound:
            return
        if (current.get("spec") or {}).get("holderIdentity") != self.identity:
            return
        patch = {
            "metadata": {"resourceVersion": current["metadata"].get("resourceVersion")},
            "spec": {"holderIdentity": None, "renewTime": micro(now)},
        }
        with contextlib.suppress(Conflict):
            self.api.merge_patch(LEASES, self.namespace, self.name, patch)

    def _spec(self, acquired: datetime, now: datetime, transitions: int) -> dict[str, object]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.duration.total_seconds()),
            "acquireTime": micro(acquired),
            "renewTime": micro(now),
            "leaseTransitions": transitions,
        }
