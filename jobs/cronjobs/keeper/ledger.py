"""The ledger: every run of one CronJob, kept in a ConfigMap of its own after the Job and its
pods are gone (the CronJob controller keeps 3 successes and 1 failure by default).

Why a ConfigMap: it needs no server beyond the API server, the keeper's Role can be narrowed to
it, `kubectl get configmap NAME -o yaml` reads it, and it is deleted with its CronJob (owner
reference). Bounded: at most MAX_ENTRIES runs and MAX_BYTES of JSON (a ConfigMap holds 1 MiB);
the oldest runs go first, and a failed run's log tail is cut to LOG_LINES lines. Idempotent:
a run is keyed by its Job's uid, so recording it twice (a restart, two events) keeps one entry.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from cronjobs.redact import scrub

KEY = "runs.json"
"""The ConfigMap's data key: a JSON list of entries, oldest first."""
SUFFIX = "-runs"
LEDGER_LABEL = "cronjobs.dev/ledger-of"
"""On the ConfigMap: the CronJob whose runs it holds."""
MAX_ENTRIES = 500
MAX_BYTES = 700_000
LOG_LINES = 20
MAX_LINE = 500


@dataclass(frozen=True)
class Entry:
    """One run, as the keeper saw it finish."""

    uid: str
    """The Job's uid: the entry's key."""
    job: str
    result: str
    """Succeeded, Failed, or Stopped (the keeper ended it: maxDuration)."""
    trigger: str
    """scheduled, manual, backfill, catch-up, request (asked for through the keeper), unknown."""
    cronjob: str = ""
    """The CronJob it belongs to (the ledger's owner)."""
    started: str | None = None
    finished: str | None = None
    duration_seconds: float | None = None
    exit_code: int | None = None
    reason: str | None = None
    """Why it failed: BackoffLimitExceeded, DeadlineExceeded, MaxDuration..."""
    scheduled_at: str | None = None
    triggered_by: str | None = None
    summary: dict[str, Any] | None = None
    """The run's one-line JSON summary (its termination message), when it wrote one."""
    log_tail: tuple[str, ...] = field(default=())
    """The last lines of a failed run's log, scrubbed of secrets."""

    def counts(self) -> dict[str, int]:
        """The whole numbers of the run's summary (what it deleted, wrote...)."""
        raw = (self.summary or {}).get("counts") or {}
        if not isinstance(raw, dict):
            return {}
        return {str(k): v for k, v in raw.items() if isinstance(v, int) and not isinstance(v, bool)}


def configmap_name(cronjob: str) -> str:
    """The ledger's name: `<cronjob>-runs` (a CronJob name is at most 52 characters)."""
    return cronjob[: 253 - len(SUFFIX)] + SUFFIX


def tail(log: str, lines: int = LOG_LINES) -> tuple[str, ...]:
    """The last `lines` lines of a log, each cut to MAX_LINE characters, scrubbed."""
    kept = [line[:MAX_LINE] for line in log.splitlines()[-lines:]]
    return tuple(scrub(line) for line in kept)


def load(data: dict[str, str] | None) -> list[Entry]:
    """The entries of a ConfigMap's data; what cannot be read is skipped, never fatal (the
    ledger is a record, not a reason to stop keeping it). A ConfigMap anyone with the right
    may edit: an entry whose fields are not of their types (a hand edit, another writer) is
    skipped whole."""
    try:
        raw = json.loads((data or {}).get(KEY) or "[]")
    except ValueError:
        return []
    if not isinstance(raw, list):
        return []
    entries = []
    for item in raw:
        entry = _entry(item)
        if entry is not None:
            entries.append(entry)
    return entries


_TEXT = ("uid", "job", "result", "trigger")
_OPTIONAL_TEXT = ("started", "finished", "reason", "scheduled_at", "triggered_by")


def _entry(item: Any) -> Entry | None:
    """One entry of the JSON list, or None when any field is not of its type."""
    if not isinstance(item, dict):
        return None
    if not all(isinstance(item.get(k), str) for k in _TEXT):
        return None
    if not all(isinstance(item.get(k), (str, type(None))) for k in (*_OPTIONAL_TEXT, "cronjob")):
        return None
    duration, code = item.get("duration_seconds"), item.get("exit_code")
    if isinstance(duration, bool) or not isinstance(duration, (int, float, type(None))):
        return None
    if isinstance(code, bool) or not isinstance(code, (int, type(None))):
        return None
    summary, tail_lines = item.get("summary"), item.get("log_tail") or []
    if not isinstance(summary, (dict, type(None))) or not isinstance(tail_lines, list):
        return None
    names = {f.name for f in fields(Entry)}
    known = {k: v for k, v in item.items() if k in names}
    known["cronjob"] = known.get("cronjob") or ""
    known["log_tail"] = tuple(str(x) for x in tail_lines)
    return Entry(**known)


def add(entries: list[Entry], new: Entry) -> list[Entry]:
    """The entries with `new` in (replacing one with its uid), oldest first, within bounds."""
    kept = [e for e in entries if e.uid != new.uid] + [new]
    kept.sort(key=lambda e: (e.started or e.finished or "", e.uid))
    return bounded(kept)


def bounded(entries: list[Entry]) -> list[Entry]:
    """At most MAX_ENTRIES entries and MAX_BYTES of JSON: the oldest go first."""
    kept = entries[-MAX_ENTRIES:]
    while len(kept) > 1 and len(dump(kept)[KEY].encode()) > MAX_BYTES:
        kept = kept[max(1, len(kept) // 10) :]
    return kept


def dump(entries: list[Entry]) -> dict[str, str]:
    """The ConfigMap's data for these entries."""
    rows = [{k: v for k, v in asdict(e).items() if v not in (None, (), [], {})} for e in entries]
    return {KEY: json.dumps(rows, separators=(",", ":"), sort_keys=True)}


def has(entries: list[Entry], uid: str) -> bool:
    return any(e.uid == uid for e in entries)


def as_run(entry: Entry, namespace: str) -> Any:
    """An entry as cronctl shows a run (cronjobs.cronctl.model.Run): for `history` once the Job is
    gone."""
    from datetime import datetime

    from cronjobs.cronctl.model import Run

    def when(value: str | None) -> datetime | None:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
        except ValueError:
            return None

    return Run(
        name=entry.job,
        namespace=namespace,
        trigger=entry.trigger,
        result=entry.result,
        created=when(entry.started),
        started=when(entry.started),
        finished=when(entry.finished),
        duration_seconds=entry.duration_seconds,
        triggered_by=entry.triggered_by,
        message=entry.reason,
        reason=entry.reason,
        scheduled_at=when(entry.scheduled_at),
        exit_code=entry.exit_code,
        summary=entry.summary,
    )
