"""Which ticks of a schedule ran, and why the others did not: the Kubernetes controller's rules.

The CronJob controller (pkg/controller/cronjob, `syncCronJob` and `mostRecentScheduleTime`)
acts at each tick, and when a Job of the CronJob changes. It does nothing while `spec.suspend`
is set. Otherwise it takes the *most recent* unmet tick since `status.lastScheduleTime` (or the
creation), never the older ones; drops it with a `MissSchedule` event when it is more than
`startingDeadlineSeconds` old; under `concurrencyPolicy: Forbid` waits while a Job is active
(`JobAlreadyActive`), so a skipped tick starts late when that Job ends, unless a newer tick or
the deadline overtook it; and past 100 unmet ticks warns `TooManyMissedTimes` (before 1.21 it
stopped with `FailedNeedsStart`). A Job it creates is named `<cronjob>-<minutes since epoch>`
and annotated with the tick. Finished Jobs beyond the history limits (and after
ttlSecondsAfterFinished) are deleted, so before the oldest kept one a tick's Job may be gone:
those ticks are "unknown", never "missed".

Pure functions: `verdicts(cronjob, runs, events, now, since)`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from cronjobs.cronctl import model
from cronjobs.cronctl import schedule as sched
from cronjobs.cronctl.model import Obj, Run

TOO_MANY = 100
"""The controller's limit of unmet start times (utils.go)."""
DUE = timedelta(seconds=60)
"""A tick younger than this may simply not have been acted on yet: not judged."""
LATE = timedelta(seconds=60)

REASONS = {
    "suspended": "the CronJob was suspended (cronctl's history says when, by whom and why)",
    "forbid": "a run was still active and concurrencyPolicy is Forbid",
    "deadline": "past startingDeadlineSeconds when the controller could start it",
    "too-many-missed": "too many missed start times (over 100)",
    "controller": "the CronJob controller did not start it",
}
CONTROLLER_EVENTS = {
    "SuccessfulCreate",
    "SawCompletedJob",
    "SuccessfulDelete",
    "JobAlreadyActive",
    "MissSchedule",
    "TooManyMissedTimes",
    "FailedNeedsStart",
    "UnexpectedJob",
    "MissingJob",
    "FailedCreate",
}


@dataclass(frozen=True)
class Event:
    at: datetime | None
    type: str
    reason: str
    message: str
    kind: str
    name: str
    count: int = 1

    @classmethod
    def from_api(cls, obj: Obj) -> Event:
        involved = obj.get("involvedObject") or obj.get("regarding") or {}
        when = (
            obj.get("lastTimestamp")
            or obj.get("eventTime")
            or (obj.get("series") or {}).get("lastObservedTime")
            or obj.get("firstTimestamp")
            or obj.get("metadata", {}).get("creationTimestamp")
        )
        return cls(
            at=model.parse_time(when),
            type=str(obj.get("type") or "Normal"),
            reason=str(obj.get("reason") or ""),
            message=str(obj.get("message") or obj.get("note") or ""),
            kind=str(involved.get("kind") or ""),
            name=str(involved.get("name") or ""),
            count=int(obj.get("count") or 1),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": model.iso(self.at),
            "type": self.type,
            "reason": self.reason,
            "message": self.message,
            "object": f"{self.kind}/{self.name}",
            "count": self.count,
        }

    def created_tick(self) -> datetime | None:
        """The tick of the Job a SuccessfulCreate event names (`<cronjob>-<minutes>`)."""
        if self.reason != "SuccessfulCreate":
            return None
        m = re.search(r"-(\d{8,10})$", self.message.strip())
        return datetime.fromtimestamp(int(m[1]) * 60, UTC) if m else None

    def missed_tick(self) -> datetime | None:
        """The tick a MissSchedule event names ("... to start a job: <RFC 1123Z>")."""
        if self.reason != "MissSchedule" or ": " not in self.message:
            return None
        try:
            return parsedate_to_datetime(self.message.rsplit(": ", 1)[1].strip())
        except (TypeError, ValueError, IndexError):
            return None


@dataclass(frozen=True)
class Verdict:
    at: datetime
    outcome: str
    """ran, late (ran, but started over a minute after the tick), missed, skipped (while
    suspended: reason "suspended"), unknown."""
    job: str | None = None
    reason: str | None = None
    """For a missed or skipped tick: a key of REASONS."""
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": model.iso(self.at),
            "outcome": self.outcome,
            "job": self.job,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Suspension:
    """A time the CronJob was suspended: from cronctl's history annotation (suspend, then
    resume), or the current suspension. The controller starts nothing meanwhile."""

    start: datetime | None
    """None: since an unknown time (suspended without cronctl, and no run before)."""
    end: datetime | None
    """None: still suspended (or resumed without cronctl, when unknown)."""
    by: str | None = None
    reason: str | None = None
    resumed_by: str | None = None
    catch_up: str | None = None
    """The resume's --catch-up choice."""
    known_start: bool = True
    ended: bool = False

    def covers(self, tick: datetime) -> bool:
        after = self.start is None or (
            tick >= self.start if self.known_start else tick > self.start
        )
        return after and (self.end is None or tick < self.end)

    def detail(self) -> str:
        since = model.iso(self.start) if self.start and self.known_start else "an unknown time"
        if not self.ended:
            text = f"since {since}"
        elif self.end is not None:
            text = f"from {since} to {model.iso(self.end)}"
        else:
            text = f"from {since}, resumed without cronctl (when unknown)"
        text += (f" by {self.by}" if self.by else "") + (f": {self.reason}" if self.reason else "")
        if self.resumed_by:
            text += f" (resumed by {self.resumed_by})"
        return text


def suspensions(cronjob: Obj, runs: Sequence[Run] = ()) -> list[Suspension]:
    """When the CronJob was suspended, oldest first: each suspend in cronctl's history with the
    resume that ended it, and the current suspension (from the annotations; suspended without
    cronctl: since its newest scheduled run)."""
    spec, meta = cronjob.get("spec", {}), cronjob.get("metadata", {})
    out: list[Suspension] = []
    current: Suspension | None = None
    for entry in model.changes(cronjob):
        at = _time(entry.get("at"))
        if at is None:
            continue  # unreadable: the history informs, it never misleads
        by, reason = _text(entry.get("by")), _text(entry.get("reason"))
        if entry.get("action") == "suspend" and current is None:
            current = Suspension(at, None, by, reason)
        elif entry.get("action") == "resume" and current is not None:
            out.append(
                Suspension(
                    current.start,
                    at,
                    current.by,
                    current.reason,
                    resumed_by=by,
                    catch_up=_text(entry.get("catch_up")),
                    ended=True,
                )
            )
            current = None
    if spec.get("suspend"):
        annotations = meta.get("annotations") or {}
        since = model.parse_time(annotations.get(model.SUSPENDED_AT))
        if since is not None:
            out.append(
                Suspension(
                    since,
                    None,
                    annotations.get(model.SUSPENDED_BY),
                    annotations.get(model.SUSPEND_REASON),
                )
            )
        else:  # suspended without cronctl: after its newest scheduled run, if any
            newest = max((r.scheduled_at for r in runs if r.scheduled_at), default=None)
            by = "the chart's values" if annotations.get(model.VALUES_SUSPEND) else None
            out.append(Suspension(newest, None, by, known_start=False))
    elif current is not None:  # resumed without cronctl: ended by its next scheduled run
        after = [r.created for r in runs if r.trigger == "scheduled" and r.created]
        end = min((t for t in after if current.start and t > current.start), default=None)
        out.append(Suspension(current.start, end, current.by, current.reason, ended=True))
    return out


def _time(value: object) -> datetime | None:
    try:
        return model.parse_time(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _text(value: object) -> str | None:
    return str(value) if value is not None else None


def _minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def history_horizon(cronjob: Obj, runs: Sequence[Run], now: datetime) -> datetime | None:
    """Before this instant a tick's Job may have been deleted (history limits, TTL)."""
    spec = cronjob.get("spec", {})
    bounds = []
    for result, key, default in (
        ("Succeeded", "successfulJobsHistoryLimit", 3),
        ("Failed", "failedJobsHistoryLimit", 1),
    ):
        limit = spec.get(key, default)
        kept = sorted(r.created or now for r in runs if r.result == result)
        if limit == 0:
            bounds.append(now)
        elif kept and len(kept) >= limit:
            bounds.append(kept[0])
    ttl = (spec.get("jobTemplate", {}).get("spec") or {}).get("ttlSecondsAfterFinished")
    if ttl is not None:
        bounds.append(now - timedelta(seconds=int(ttl)))
    return max(bounds) if bounds else None


def window_start(cronjob: Obj, now: datetime, since: datetime | None) -> datetime:
    created = model.parse_time(cronjob.get("metadata", {}).get("creationTimestamp"))
    start = since or now - timedelta(days=7)
    return max(start, created) if created else start


def expected_ticks(
    cronjob: Obj, start: datetime, now: datetime, due: timedelta = DUE
) -> list[datetime]:
    """The ticks of `cronjob`'s schedule from `start` to `due` before `now` (a tick younger
    than `due` may not have started its Job yet); none for a schedule that does not parse."""
    spec, status = cronjob.get("spec", {}), cronjob.get("status", {})
    schedule = str(spec.get("schedule", ""))
    zone = spec.get("timeZone") or sched.split_zone(schedule)[0]
    anchor = model.parse_time(status.get("lastScheduleTime")) or model.parse_time(
        cronjob.get("metadata", {}).get("creationTimestamp")
    )
    try:
        return sched.ticks(schedule, zone, start, now - due, anchor=anchor)
    except ValueError:
        return []


def verdicts(
    cronjob: Obj,
    runs: Sequence[Run],
    events: Sequence[Event],
    now: datetime,
    since: datetime | None = None,
) -> list[Verdict]:
    """A verdict for every tick in (since or creation or 7 days ago, now - 1 minute]."""
    spec = cronjob.get("spec", {})
    ticks = expected_ticks(cronjob, window_start(cronjob, now, since), now)
    by_tick = {_minute(r.scheduled_at): r for r in runs if r.scheduled_at}
    last_schedule = model.parse_time(cronjob.get("status", {}).get("lastScheduleTime"))
    # A tick the ledger does not name may have run while the keeper was down: how far back the
    # record is complete is still the Jobs' horizon, a ledger run only turns a tick to "ran".
    horizon = history_horizon(cronjob, [r for r in runs if r.source != model.LEDGER], now)
    # The controller's Events name the Jobs it created, deleted since or not; the oldest Event
    # kept shows how far back they reach (the API server expires them all alike, --event-ttl).
    own = [e for e in events if e.kind == "CronJob" and e.reason in CONTROLLER_EVENTS and e.at]
    created_by_event = {t: e.message.rsplit(" ", 1)[-1] for e in own if (t := e.created_tick())}
    if own and horizon is not None:
        horizon = min(horizon, min(e.at for e in own if e.at))
    deadline = spec.get("startingDeadlineSeconds")
    forbid = spec.get("concurrencyPolicy") == "Forbid"
    windows = suspensions(cronjob, runs)
    missed_by_event = {_minute(t) for e in events if (t := e.missed_tick())}
    acted = sorted(
        [r.created for r in runs if r.trigger == "scheduled" and r.created]
        + [e.at for e in events if e.reason in CONTROLLER_EVENTS and e.at and e.kind == "CronJob"]
    )
    too_many_events = [
        e.at for e in events if e.reason in ("TooManyMissedTimes", "FailedNeedsStart")
    ]
    out: list[Verdict] = []
    for i, tick in enumerate(ticks):
        run = by_tick.get(_minute(tick))
        if run is not None:
            delay = (run.created - tick) if run.created else timedelta(0)
            late = delay > LATE
            detail = f"started {_span(delay)} after the tick" if late else None
            out.append(Verdict(tick, "late" if late else "ran", run.name, None, detail))
            continue
        if _minute(tick) in created_by_event:
            job = created_by_event[_minute(tick)]
            out.append(Verdict(tick, "ran", job, None, "its Job has been deleted since"))
            continue
        window = next((w for w in windows if w.covers(tick)), None)
        marked = bool(
            window
            and window.catch_up == "none"
            and last_schedule
            and _minute(last_schedule) == _minute(tick)
        )
        if last_schedule and _minute(last_schedule) == _minute(tick) and not marked:
            out.append(Verdict(tick, "ran", None, None, "its Job has been deleted since"))
            continue
        if window is not None and (window.start is not None or not (horizon and tick < horizon)):
            detail = "while suspended " + window.detail()
            if marked:
                detail += "; `resume --catch-up none` recorded it as handled, so none started"
            out.append(Verdict(tick, "skipped", None, "suspended", detail))
            continue
        if horizon and tick < horizon:
            out.append(Verdict(tick, "unknown", detail="before the oldest Job kept"))
            continue
        j = bisect.bisect_right(acted, tick)
        acted_next = acted[j] if j < len(acted) else None
        later = ticks[i + 1] if i + 1 < len(ticks) else None
        if _minute(tick) in missed_by_event:
            out.append(Verdict(tick, "missed", None, "deadline", "MissSchedule event"))
            continue
        active = [
            r
            for r in runs
            if r.started and r.started <= tick and (r.finished is None or r.finished > tick)
        ]
        if forbid and active:
            blocker = active[0]
            until = f"until {model.iso(blocker.finished)}" if blocker.finished else "still running"
            detail = f"Job {blocker.name} was active ({until})"
            if (
                blocker.finished
                and deadline is not None
                and blocker.finished > tick + timedelta(seconds=int(deadline))
            ):
                detail += f"; when it ended the tick was past startingDeadlineSeconds={deadline}"
            elif blocker.finished and later is not None and later <= blocker.finished:
                detail += "; when it ended a newer tick was due, and only the newest starts"
            out.append(Verdict(tick, "missed", None, "forbid", detail))
            continue
        if any(tick <= t <= (acted_next or now) for t in too_many_events if t):
            out.append(Verdict(tick, "missed", None, "too-many-missed", "TooManyMissedTimes"))
            continue
        if deadline is not None and (acted_next or now) > tick + timedelta(seconds=int(deadline)):
            when = f"acted next at {model.iso(acted_next)}" if acted_next else "has not acted since"
            out.append(
                Verdict(
                    tick,
                    "missed",
                    None,
                    "deadline",
                    f"the controller {when}, past startingDeadlineSeconds={deadline}",
                )
            )
            continue
        if acted_next is not None and later is not None and later <= acted_next:
            gap = bisect.bisect_right(ticks, acted_next) - i  # unmet ticks until it acted
            reason = "too-many-missed" if gap > TOO_MANY else "controller"
            out.append(
                Verdict(
                    tick,
                    "missed",
                    None,
                    reason,
                    f"no controller action until {model.iso(acted_next)}; then only the "
                    "newest tick starts",
                )
            )
            continue
        out.append(
            Verdict(
                tick,
                "missed",
                None,
                "controller",
                "not suspended, no active run, within the deadline: is kube-controller-manager "
                "running, and its clock right?",
            )
        )
    return out


def missed(verdicts_: Sequence[Verdict]) -> int:
    """Ticks that did not run for a reason other than a suspension."""
    return sum(v.outcome == "missed" for v in verdicts_)


def streak(runs: Sequence[Run]) -> tuple[str, int] | None:
    """(result, n): the newest finished runs' common result, and how many in a row."""
    finished = [r for r in runs if r.result in ("Succeeded", "Failed")]  # newest first
    if not finished:
        return None
    first = finished[0].result
    n = next((i for i, r in enumerate(finished) if r.result != first), len(finished))
    return first, n


def _span(delta: timedelta) -> str:
    return sched.span(timedelta(seconds=int(delta.total_seconds())))
