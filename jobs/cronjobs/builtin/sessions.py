"""cleanup-old-sessions: delete chat and peptide info sessions inactive past their retention
(SESSION_DAYS, or each table of a rules file by its own age).

The job's declaration (its schedule and flags) and what it does; the batched delete itself is
cronjobs.retention.purge, SQL text on the run's own connection (`ctx.db`). Neither importing
this module nor a run with the default rules costs SQLAlchemy; a rules file's tables are
checked and reflected with it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cronjobs import options
from cronjobs.exitcodes import ExitCode
from cronjobs.registry import job
from cronjobs.render import plural
from cronjobs.retention import SESSION_DAYS as DAYS
from cronjobs.retention.batch_time import DEFAULT_BATCH_TIME

if TYPE_CHECKING:
    from cronjobs.context import JobContext
    from cronjobs.retention.purge import PurgeResult
    from cronjobs.retention.rule_names import RuleNames

log = logging.getLogger(__name__)


@job(
    schedule="0 2 * * *",
    description="Delete chat sessions and peptide info sessions whose last activity is older "
    f"than {DAYS} days, with their messages.",
    mutating=True,
    needs=("database",),
    options=[options.rules, options.older_than_days(DAYS), options.batch_size, options.batch_time],
)
def cleanup_old_sessions(ctx: JobContext) -> CleanupResult:
    return cleanup(
        ctx.db,
        older_than_days=ctx.options["older_than_days"],
        batch_size=ctx.options["batch_size"],
        batch_time=ctx.options["batch_time"],
        dry_run=ctx.dry_run,
        stop=ctx.stop,
        now=ctx.now,
        rules=_rules(ctx),
    )


def _rules(ctx: JobContext) -> tuple[RuleNames, ...]:
    """The built-in tables (checked for foreign keys ON DELETE CASCADE the rules do not name,
    on the run's own connection), or a rules file's, checked and reflected (with SQLAlchemy,
    only then)."""
    from cronjobs.retention.rule_names import DEFAULT_SESSIONS, names_of
    from cronjobs.retention.rules import DEFAULTS, load

    loaded = load(ctx.options.get("rules"))
    if loaded is DEFAULTS:
        from cronjobs.retention.cascades import require_none_hidden

        for finding in require_none_hidden(ctx.db, DEFAULTS, ctx.job):
            log.warning("rules: %s", finding)
        return DEFAULT_SESSIONS
    from cronjobs.retention import rule_tables

    with rule_tables.checked(ctx, loaded) as engine:
        return tuple(names_of(r) for r in rule_tables.sessions(engine, loaded))


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
    db: Any,
    *,
    older_than_days: int | None = None,
    batch_size: int = 1000,
    batch_time: float = DEFAULT_BATCH_TIME,
    dry_run: bool = False,
    stop: threading.Event | None = None,
    now: datetime | None = None,
    rules: tuple[RuleNames, ...] | None = None,
) -> CleanupResult:
    """Purge each rule's table in turn (the built-in tables, or a rules file's), in batches of
    `batch_size` rows first, then sized to take `batch_time` seconds each (cronjobs.retention.purge),
    on `db`: the run's `Db`, or a SQLAlchemy Engine (tests, benches)."""
    from cronjobs.retention.purge import purge
    from cronjobs.retention.rule_names import DEFAULT_SESSIONS

    rules = rules or DEFAULT_SESSIONS
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
                db,
                rule,
                cutoff,
                batch_size=batch_size,
                batch_time=batch_time,
                dry_run=dry_run,
                stop=stop,
            )
        )
    return result
