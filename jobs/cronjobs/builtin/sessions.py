"""cleanup-old-sessions: delete chat and peptide info sessions inactive past their retention
(SESSION_DAYS, or each table of a rules file by its own age).

The job's declaration (its schedule and flags) and what it does; the batched delete itself is
cronjobs.retention.purge. Importing this module costs no SQLAlchemy: `cronjobs list` reads it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cronjobs import options
from cronjobs.exitcodes import ExitCode
from cronjobs.registry import job
from cronjobs.render import plural
from cronjobs.retention import SESSION_DAYS as DAYS
from cronjobs.retention.batch_time import DEFAULT_BATCH_TIME

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from cronjobs.context import JobContext
    from cronjobs.retention.purge import PurgeResult
    from cronjobs.retention.tables import Retention


@job(
    schedule="0 2 * * *",
    description="Delete chat sessions and peptide info sessions whose last activity is older "
    f"than {DAYS} days, with their messages.",
    mutating=True,
    needs=("database",),
    options=[options.rules, options.older_than_days(DAYS), options.batch_size, options.batch_time],
)
def cleanup_old_sessions(ctx: JobContext) -> CleanupResult:
    from cronjobs.retention import rule_tables

    return cleanup(
        ctx.engine,
        older_than_days=ctx.options["older_than_days"],
        batch_size=ctx.options["batch_size"],
        batch_time=ctx.options["batch_time"],
        dry_run=ctx.dry_run,
        stop=ctx.stop,
        now=ctx.now,
        rules=rule_tables.sessions(ctx.engine, rule_tables.checked(ctx)),
    )


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

    def counts(self) -> dict[str, int]:
        return {
            "deleted": sum(t.deleted for t in self.tables),
            "child_rows": sum(t.children_deleted for t in self.tables),
            "in_use": sum(t.in_use for t in self.tables),
        }

    def lines(self) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        days = plural(self.older_than_days, "day")
        out = [f"cutoff: {self.cutoff.isoformat()} (older than {days})"]
        for t in self.tables:  # a rules file may give a table an age of its own
            own = f" (cutoff {t.cutoff.isoformat()})" if t.cutoff != self.cutoff else ""
            out.append(f"{t.table}: {verb} {deleted(t)}{own}")
        if self.interrupted:
            out.append("interrupted: committed batches stay; the next run completes the work")
        return out


def deleted(t: PurgeResult) -> str:
    """`5 rows and 12 child rows in 1 batch; 1 row in use, left for the next run`."""
    children = f" and {plural(t.children_deleted, 'child row')}" if t.children_deleted else ""
    text = f"{plural(t.deleted, 'row')}{children}"
    if not t.dry_run:
        text += f" in {plural(t.batches, 'batch', 'batches')}"
    if t.in_use:
        text += f"; {plural(t.in_use, 'row')} in use, left for the next run"
    return text


def cleanup(
    engine: Engine,
    *,
    older_than_days: int | None = None,
    batch_size: int = 1000,
    batch_time: float = DEFAULT_BATCH_TIME,
    dry_run: bool = False,
    stop: threading.Event | None = None,
    now: datetime | None = None,
    rules: tuple[Retention, ...] | None = None,
) -> CleanupResult:
    """Purge each rule's table in turn (the built-in tables, or a rules file's), in batches of
    `batch_size` rows first, then sized to take `batch_time` seconds each (cronjobs.retention.purge)."""
    from cronjobs.retention.purge import purge
    from cronjobs.retention.tables import SESSIONS

    rules = rules or SESSIONS
    now = now or datetime.now(UTC)
    days = older_than_days if older_than_days is not None else rules[0].days
    result = CleanupResult(days, rules[0].cutoff(days, now), dry_run=dry_run)
    for rule in rules:
        if stop is not None and stop.is_set():
            result.not_started.append(rule.name)
            continue
        cutoff = rule.cutoff(older_than_days, now)
        result.tables.append(
            purge(
                engine,
                rule,
                cutoff,
                batch_size=batch_size,
                batch_time=batch_time,
                dry_run=dry_run,
                stop=stop,
            )
        )
    return result
