"""Where cluster data comes in: every field cronctl reads from a CronJob, Job or Event, checked.

The API server validates most fields, but not annotations (free text: anyone with `patch` can
write `cronctl.cronjobs.dev/suspended-at: yesterday`), and a field it validates may still be one
cronctl cannot read (a time zone missing from this machine's tzdata, a cron extension). A field
that does not have the expected shape is removed from cronctl's copy, and the object lists what
was removed, and why, under `model.PROBLEMS`: the rest of the object (and every other object)
is shown as usual, and `list`, `describe`, `check` and the dashboard say what was ignored.
Everything downstream (model, ticks, diagnose, suspension) can then trust the shapes.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cronjobs.cronctl import model
from cronjobs.cronctl import schedule as sched
from cronjobs.cronctl.model import PROBLEMS, Obj

Path = tuple[str, ...]
Check = Callable[[Any], bool]
_TIME = "an RFC 3339 time (such as 2026-01-02T03:04:05Z)"


def _time(value: Any) -> bool:
    try:
        return isinstance(value, str) and model.parse_time(value) is not None
    except (ValueError, OverflowError):
        return False


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _strings(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _json_list(value: Any) -> bool:
    try:
        return isinstance(value, str) and isinstance(json.loads(value), list)
    except ValueError:
        return False


def _schedule(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        sched.slots(value, None, datetime(2000, 1, 1, tzinfo=UTC))
    except ValueError:
        return False
    return True


def _zone(value: Any) -> bool:
    try:
        return isinstance(value, str) and sched.zone(value) is not None
    except ValueError:
        return False


def _is(kind: type) -> Check:
    return lambda value: isinstance(value, kind) and not (kind is int and isinstance(value, bool))


_MAP, _LIST, _STR, _BOOL = "a map", "a list", "a string", "true or false"
_COUNT = "a whole number of 0 or more"
_KEPT = "kept: "
"""Marks a field that is kept, though cronctl cannot read it (it shows it, and computes no
times from it): a schedule or time zone that the API server accepted."""
_META: tuple[tuple[Path, Check, str], ...] = (
    (("metadata",), _is(dict), _MAP),
    (("metadata", "name"), _is(str), _STR),
    (("metadata", "namespace"), _is(str), _STR),
    (("metadata", "creationTimestamp"), _time, _TIME),
    (("metadata", "labels"), _strings, "a map of strings"),
    (("metadata", "annotations"), _strings, "a map of strings"),
)
CRONJOB: tuple[tuple[Path, Check, str], ...] = (
    *_META,
    (("metadata", "annotations", model.SUSPENDED_AT), _time, _TIME),
    (("metadata", "annotations", model.SUSPENDED_UNTIL), _time, _TIME),
    (("metadata", "annotations", model.HISTORY), _json_list, "a JSON list"),
    (("spec",), _is(dict), _MAP),
    (("spec", "schedule"), _is(str), _STR),
    (("spec", "schedule"), _schedule, _KEPT + "a cron schedule cronctl can read"),
    (("spec", "timeZone"), _is(str), _STR),
    (("spec", "timeZone"), _zone, _KEPT + "a time zone this machine knows (tzdata)"),
    (("spec", "suspend"), _is(bool), _BOOL),
    (("spec", "concurrencyPolicy"), lambda v: v in ("Allow", "Forbid", "Replace"), "Allow, Forbid or Replace"),
    (("spec", "startingDeadlineSeconds"), _count, _COUNT),
    (("spec", "successfulJobsHistoryLimit"), _count, _COUNT),
    (("spec", "failedJobsHistoryLimit"), _count, _COUNT),
    (("spec", "jobTemplate"), _is(dict), _MAP),
    (("spec", "jobTemplate", "metadata"), _is(dict), _MAP),
    (("spec", "jobTemplate", "metadata", "labels"), _strings, "a map of strings"),
    (("spec", "jobTemplate", "spec"), _is(dict), _MAP),
    (("spec", "jobTemplate", "spec", "ttlSecondsAfterFinished"), _count, _COUNT),
    (("status",), _is(dict), _MAP),
    (("status", "lastScheduleTime"), _time, _TIME),
    (("status", "lastSuccessfulTime"), _time, _TIME),
    (("status", "active"), _is(list), _LIST),
)  # fmt: skip
JOB: tuple[tuple[Path, Check, str], ...] = (
    *_META,
    (("metadata", "annotations", model.SCHEDULED_AT), _time, _TIME),
    (("metadata", "ownerReferences"), lambda v: isinstance(v, list) and all(isinstance(r, dict) for r in v), "a list of maps"),
    (("spec",), _is(dict), _MAP),
    (("spec", "suspend"), _is(bool), _BOOL),
    (("status",), _is(dict), _MAP),
    (("status", "startTime"), _time, _TIME),
    (("status", "completionTime"), _time, _TIME),
    (("status", "active"), _count, _COUNT),
    (("status", "conditions"), lambda v: isinstance(v, list) and all(isinstance(c, dict) for c in v), "a list of maps"),
)  # fmt: skip
EVENT: tuple[tuple[Path, Check, str], ...] = (
    *_META,
    (("involvedObject",), _is(dict), _MAP),
    (("regarding",), _is(dict), _MAP),
    (("series",), _is(dict), _MAP),
    (("series", "lastObservedTime"), _time, _TIME),
    (("lastTimestamp",), _time, _TIME),
    (("firstTimestamp",), _time, _TIME),
    (("eventTime",), _time, _TIME),
    (("count",), _count, _COUNT),
    (("reason",), _is(str), _STR),
    (("message",), _is(str), _STR),
    (("note",), _is(str), _STR),
    (("type",), _is(str), _STR),
)  # fmt: skip


def cronjob(obj: Any) -> Obj:
    """The CronJob as cronctl reads it: malformed fields removed and listed (model.PROBLEMS)."""
    return _clean(obj, CRONJOB)


def job(obj: Any) -> Obj:
    """A Job as cronctl reads it; a condition's malformed lastTransitionTime is removed too."""
    cleaned = _clean(obj, JOB)
    conditions = cleaned.get("status", {}).get("conditions") or []
    bad = [c for c in conditions if c.get("lastTransitionTime") is not None]
    bad = [c for c in bad if not _time(c["lastTransitionTime"])]
    if bad:
        cleaned = copy.deepcopy(cleaned) if cleaned is obj else cleaned
        problems = cleaned.setdefault(PROBLEMS, [])
        for cond in cleaned["status"]["conditions"]:
            value = cond.get("lastTransitionTime")
            if value is not None and not _time(value):
                problems.append(
                    f"status.conditions[{cond.get('type')}].lastTransitionTime: {_show(value)} "
                    f"is not {_TIME}: ignored"
                )
                del cond["lastTransitionTime"]
    return cleaned


def event(obj: Any) -> Obj:
    """An Event as cronctl reads it (what it cannot read is dropped: Events only inform)."""
    return _clean(obj, EVENT)


def _clean(obj: Any, fields: tuple[tuple[Path, Check, str], ...]) -> Obj:
    if not isinstance(obj, dict):
        return {"metadata": {}, PROBLEMS: [f"the object: {_show(obj)} is not {_MAP}: ignored"]}
    out: Obj = obj
    problems: list[str] = []
    for path, check, what in fields:
        parent = _dig(out, path[:-1])
        if not isinstance(parent, dict) or parent.get(path[-1]) is None:
            continue
        value = parent[path[-1]]
        if check(value):
            continue
        if what.startswith(_KEPT):
            problems.append(f"{_label(path)}: {_show(value)} is not {what.removeprefix(_KEPT)}")
            continue
        if out is obj:
            out = copy.deepcopy(obj)
            parent = _dig(out, path[:-1])
        assert isinstance(parent, dict)
        problems.append(f"{_label(path)}: {_show(value)} is not {what}: ignored")
        del parent[path[-1]]
    if problems:
        out = copy.deepcopy(obj) if out is obj else out
        out[PROBLEMS] = problems
    return out


def _dig(obj: Obj, path: Path) -> Any:
    found: Any = obj
    for key in path:
        found = found.get(key) if isinstance(found, dict) else None
    return found


def _label(path: Path) -> str:
    """metadata.annotations[cronctl.cronjobs.dev/suspended-at], spec.timeZone."""
    text = ""
    for key in path:
        text += f"[{key}]" if "/" in key or "." in key else (f".{key}" if text else key)
    return text


def _show(value: Any) -> str:
    """The value as a short, one-line repr (control characters escaped by repr)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
