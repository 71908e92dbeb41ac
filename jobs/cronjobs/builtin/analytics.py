"""aggregate-daily-analytics: raw analytics events rolled up into daily figures.

Aggregation is one `INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE` per UTC day, in
SQL, on PostgreSQL and SQLite alike: running it twice gives the same rows. The cleanup of old
raw events is jobs/cronjobs/builtin/analytics_cleanup.py.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Insert,
    Select,
    bindparam,
    func,
    select,
)
from sqlalchemy import Date as SqlDate

from cronjobs.errors import JobError
from cronjobs.exitcodes import ExitCode
from cronjobs.render import plural
from cronjobs.retention.tables import DEFAULT_TABLES, AnalyticsTables

log = logging.getLogger(__name__)


MAX_BACKFILL_DAYS = 3660


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, dtime.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def days_between(since: date, until: date) -> list[date]:
    """Every day from `since` to `until`, both included."""
    if until < since:
        raise JobError(f"--until {until} is before --since {since}: swap them")
    count = (until - since).days + 1
    if count > MAX_BACKFILL_DAYS:
        raise JobError(f"{count} days asked for; a backfill covers at most {MAX_BACKFILL_DAYS}")
    return [since + timedelta(days=i) for i in range(count)]


@dataclass
class DayFigures:
    day: date
    event_types: int
    events: int
    partial: bool = False
    """The day was not over when it was aggregated: its figures are partial."""


@dataclass
class AggregateResult:
    days: list[DayFigures] = field(default_factory=list)
    kept: list[date] = field(default_factory=list)
    """Days past the retention cutoff that already had figures, left as they were."""
    dry_run: bool = False
    interrupted: bool = False

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.INTERRUPTED if self.interrupted else ExitCode.OK

    def counts(self) -> dict[str, int]:
        return {"days": len(self.days), "events": sum(d.events for d in self.days)}

    def lines(self) -> list[str]:
        verb = "would write" if self.dry_run else "wrote"
        total = plural(sum(d.events for d in self.days), "event")
        out = [f"{plural(len(self.days), 'day')} aggregated ({total}): {verb} daily figures"]
        for d in self.days[-7:]:
            line = f"  {d.day}: {plural(d.events, 'event')}, {plural(d.event_types, 'event type')}"
            if d.partial:
                line += " (the day is not over: partial figures; rerun it after it ends)"
            out.append(line)
        if len(self.days) > 7:
            out.insert(1, f"  ... {plural(len(self.days) - 7, 'earlier day')}")
        if self.kept:
            out.append(
                f"kept the figures of {plural(len(self.kept), 'day')} older than the retention "
                f"cutoff ({self.kept[0]} .. {self.kept[-1]}): their raw events may be partly "
                "deleted; --force recomputes them"
            )
        if self.interrupted:
            out.append("interrupted: days written stay written; rerun to complete the range")
        return out


# One day's figures, with the day and its bounds as parameters: built once per tables, so each
# day only binds values (SQLAlchemy's compiled cache then serves every day).
@lru_cache(maxsize=8)
def _figures(t: AnalyticsTables) -> Select[Any]:
    events, daily = t.events, t.daily
    return (
        select(
            bindparam("day", type_=SqlDate).label("day"),
            events.c.event_type,
            func.count().label("event_count"),
            func.count(events.c.user_id.distinct()).label("unique_users"),
            bindparam("now", type_=daily.c.updated_at.type).label("updated_at"),
        )
        .where(
            events.c.occurred_at >= bindparam("start", type_=events.c.occurred_at.type),
            events.c.occurred_at < bindparam("end", type_=events.c.occurred_at.type),
        )
        .group_by(events.c.event_type)
    )


_FIGURE_KEYS = ("day", "event_type", "event_count", "unique_users", "updated_at")


def dialect_insert(dialect: str) -> Any:
    """The INSERT with ON CONFLICT of `dialect` (postgresql or sqlite), imported on use: a run
    loads only the dialect it talks to."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


@lru_cache(maxsize=8)
def _upsert(t: AnalyticsTables, dialect: str) -> Insert:
    daily = t.daily
    insert = dialect_insert(dialect)(daily).from_select(
        [daily.c[k] for k in _FIGURE_KEYS], _figures(t)
    )
    return insert.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[daily.c.day, daily.c.event_type],
        set_={daily.c[k]: insert.excluded[k] for k in _FIGURE_KEYS[2:]},
    ).returning(daily.c.event_count)


def aggregate_day(
    conn: Connection,
    day: date,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    tables: AnalyticsTables = DEFAULT_TABLES,
) -> DayFigures:
    """Upsert one day's figures; in a dry run, compute them only."""
    start, end = day_bounds(day)
    now = now or datetime.now(UTC)
    params = {"day": day, "start": start, "end": end, "now": now}
    if dry_run:
        counts = [int(row.event_count) for row in conn.execute(_figures(tables), params)]
    else:
        counts = [int(n) for n in conn.scalars(_upsert(tables, conn.dialect.name), params)]
    return DayFigures(day, event_types=len(counts), events=sum(counts), partial=end > now)


def aggregate(
    engine: Engine,
    days: list[date],
    *,
    dry_run: bool = False,
    stop: threading.Event | None = None,
    keep_before: date | None = None,
    now: datetime | None = None,
    tables: AnalyticsTables = DEFAULT_TABLES,
) -> AggregateResult:
    """Aggregate each day in its own short transaction.

    Days before `keep_before` that already have figures are left alone: their raw events may
    already be partly deleted, and recomputing would replace complete figures by partial ones.
    """
    result = AggregateResult(dry_run=dry_run)
    daily = tables.daily
    if keep_before is not None and days and days[0] < keep_before:
        with engine.connect() as conn:
            done = set(
                conn.scalars(select(daily.c.day).distinct().where(daily.c.day < keep_before))
            )
        result.kept = [d for d in days if d in done]
        days = [d for d in days if d not in done]
    for day in days:
        if stop is not None and stop.is_set():
            result.interrupted = True
            log.warning("stop requested: days done stay done", extra={"done": len(result.days)})
            break
        started = time.monotonic()
        with engine.begin() as conn:
            figures = aggregate_day(conn, day, dry_run=dry_run, now=now, tables=tables)
        result.days.append(figures)
        log.info(
            "day aggregated" if not dry_run else "dry run: day computed",
            extra={
                "day": day.isoformat(),
                "events": figures.events,
                "event_types": figures.event_types,
                "partial": figures.partial,
                "seconds": round(time.monotonic() - started, 4),
            },
        )
    return result
