"""cleanup-old-sessions: delete chat and peptide info sessions inactive for 90 days."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from jobs.exitcodes import ExitCode
from jobs.purge import PurgeResult, purge
from jobs.retention import SESSIONS, Retention


@dataclass
class CleanupResult:
    older_than_days: int
    cutoff: datetime
    tables: list[PurgeResult] = field(default_factory=list)
    not_started: list[str] = field(default_factory=list)
    """Tables a stop request kept this run from reaching."""
    dry_run: bool = False

    @property
    def interrupted(self) -> bool:
        return bool(self.not_started) or any(t.interrupted for t in self.tables)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.INTERRUPTED if self.interrupted else ExitCode.OK

    def lines(self) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        out = [f"cutoff: {self.cutoff.isoformat()} (older than {self.older_than_days} days)"]
        for t in self.tables:
            extra = f" and {t.children_deleted} child rows" if t.children_deleted else ""
            out.append(f"{t.table}: {verb} {t.deleted} rows{extra} in {t.batches} batches")
        if self.interrupted:
            out.append("interrupted: committed batches stay; the next run completes the work")
        return out


def cutoff_for(rule: Retention, days: int, now: datetime) -> datetime:
    cutoff = now - timedelta(days=days)
    if rule.whole_days:
        cutoff = cutoff.replace(hour=0, minute=0, second=0, microsecond=0)
    return cutoff


def cleanup_old_sessions(
    engine: Engine,
    *,
    older_than_days: int | None = None,
    batch_size: int = 5000,
    dry_run: bool = False,
    stop: threading.Event | None = None,
    now: datetime | None = None,
) -> CleanupResult:
    now = now or datetime.now(UTC)
    days = older_than_days if older_than_days is not None else SESSIONS[0].days
    result = CleanupResult(days, cutoff_for(SESSIONS[0], days, now), dry_run=dry_run)
    for rule in SESSIONS:
        if stop is not None and stop.is_set():
            result.not_started.append(rule.name)
            continue
        result.tables.append(
            purge(engine, rule, result.cutoff, batch_size=batch_size, dry_run=dry_run, stop=stop)
        )
    return result
