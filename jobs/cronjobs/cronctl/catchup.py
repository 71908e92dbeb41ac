"""What resuming a CronJob starts: the ticks it missed, and what the controller does on its own.

The CronJob controller (pkg/controller/cronjob, `syncCronJob` and `mostRecentScheduleTime`)
ignores a suspended CronJob entirely: `status.lastScheduleTime` stays where it was. Once it is
resumed, the controller looks for unmet ticks after `status.lastScheduleTime` (or the creation)
and, when `startingDeadlineSeconds` is set, no earlier than that many seconds ago. It starts
*one* Job, for the most recent unmet tick only (never one per missed tick), and drops it when it
is older than the deadline. So without `startingDeadlineSeconds` a resume starts one late run at
once, however old the tick; with it, only a tick of the last `startingDeadlineSeconds`. Under
`concurrencyPolicy: Forbid` that run waits while another Job of the CronJob is active.

`all` backfills every tick missed while suspended, one Job each carrying its tick, oldest first
and one at a time (cronjobs.cronctl.backfill), after recording the newest as handled as `none`
does, so the controller's own late run does not double the last one.

Pure functions: `preview(cronjob, now, choice)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cronjobs.cronctl import model
from cronjobs.cronctl.model import Obj
from cronjobs.cronctl.ticks import expected_ticks

CHOICES = ("none", "once", "all")
RESYNC = timedelta(seconds=10)
"""The controller re-examines a CronJob about every 10 s: a tick closer than this to its
deadline may be dropped before the controller acts, so it counts as not started."""


@dataclass(frozen=True)
class CatchUp:
    """The preview of a resume: missed ticks, the controller's own action, and the choice's."""

    missed: int
    """Ticks while suspended (since the suspension, or the last schedule time)."""
    last_missed: datetime | None
    controller_starts: datetime | None
    """The tick the controller starts one late run for on its own, or None."""
    controller: str
    """What the controller does on its own, in words."""
    choice: str | None
    """none, once, or None (no choice: the controller's behaviour applies)."""
    action: str
    """What the choice makes cronctl do, in words."""
    mark: datetime | None = None
    """`none`: the tick to record as handled in status.lastScheduleTime (so none starts)."""
    trigger: bool = False
    """`once`: cronctl triggers one run now."""
    job: str | None = None
    """The Job cronctl triggered (set after the fact)."""
    backfill: tuple[datetime, ...] = ()
    """`all`: the ticks cronctl backfills, oldest first."""
    jobs: tuple[str, ...] = ()
    """`all`: the Jobs cronctl created (set after the fact)."""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "missed": self.missed,
            "last_missed": model.iso(self.last_missed),
            "controller_starts": model.iso(self.controller_starts),
            "controller": self.controller,
            "choice": self.choice,
            "action": self.action,
            "job": self.job,
        }
        if self.choice == "all":
            d.update(backfill=[model.iso(t) for t in self.backfill], jobs=list(self.jobs))
        return d

    def lines(self) -> list[str]:
        last = f" (the last at {model.iso(self.last_missed)})" if self.last_missed else ""
        text = [f"missed {self.missed} tick{'s' if self.missed != 1 else ''}{last}"]
        text.append(f"the controller {self.controller}")
        if self.choice:
            text.append(f"--catch-up {self.choice}: {self.action}")
        return text


def _ticks(cronjob: Obj, start: datetime, now: datetime) -> list[datetime]:
    return expected_ticks(cronjob, start, now, due=timedelta(0))


def preview(cronjob: Obj, now: datetime, choice: str | None = None) -> CatchUp:
    """What resuming `cronjob` (as it is now, suspended) at `now` starts, and what `choice`
    makes cronctl do about it."""
    meta, spec = cronjob.get("metadata", {}), cronjob.get("spec", {})
    status = cronjob.get("status", {})
    annotations = meta.get("annotations") or {}
    created = model.parse_time(meta.get("creationTimestamp")) or now
    last_schedule = model.parse_time(status.get("lastScheduleTime"))
    suspended_at = model.parse_time(annotations.get(model.SUSPENDED_AT))
    since = max([t for t in (last_schedule, suspended_at) if t], default=created)
    missed = _ticks(cronjob, since, now) if spec.get("suspend") else []
    # The controller's own window: after lastScheduleTime (or the creation), clamped to the
    # deadline when one is set; it starts the newest unmet tick of it.
    earliest = last_schedule or created
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None:
        earliest = max(earliest, now - timedelta(seconds=int(deadline)))
    unmet = _ticks(cronjob, earliest, now) if spec.get("suspend") else []
    starts = unmet[-1] if unmet else None
    late = deadline is not None and starts is not None
    if late and starts + timedelta(seconds=int(deadline)) - now < RESYNC:  # type: ignore[operator]
        starts = None  # past the deadline by the time the controller looks
    if starts is not None:
        why = (
            f"within startingDeadlineSeconds={deadline}"
            if deadline is not None
            else "no startingDeadlineSeconds: the newest missed tick, however old"
        )
        controller = f"starts one late run at once, for the tick of {model.iso(starts)} ({why})"
        if spec.get("concurrencyPolicy") == "Forbid":
            controller += "; under Forbid, only once no other run of it is active"
    elif missed and deadline is not None:
        controller = (
            f"starts none: every missed tick is older than startingDeadlineSeconds={deadline}"
        )
    else:
        controller = "starts none: no tick was missed"
    mark, trigger, backfill = None, False, tuple(missed) if choice == "all" else ()
    if choice is None:
        action = ""
    elif choice == "all":
        mark = starts
        action = (
            f"cronctl backfills the {len(missed)} missed tick{'s' if len(missed) != 1 else ''}, "
            "one Job each with its tick, oldest first, one at a time"
            + (" (recording the controller's late run as handled first)" if starts else "")
            if missed
            else "nothing to catch up: no tick was missed"
        )
    elif choice == "none":
        if starts is not None:
            mark = starts
            action = (
                f"cronctl records the tick of {model.iso(starts)} as handled "
                "(status.lastScheduleTime) before resuming, so the controller starts none"
            )
        else:
            action = "nothing to do: the controller starts none"
    elif starts is not None:
        action = "nothing to add: the controller's late run is the one run"
    elif missed:
        trigger = True
        action = "cronctl triggers one run now"
    else:
        action = "nothing to catch up: no tick was missed"
    return CatchUp(
        missed=len(missed),
        last_missed=missed[-1] if missed else None,
        controller_starts=starts,
        controller=controller,
        choice=choice,
        action=action,
        mark=mark,
        trigger=trigger,
        backfill=backfill,
    )
