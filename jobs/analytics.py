"""aggregate-daily-analytics and cleanup-old-analytics.

Aggregation is one `INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE` per UTC day, in
SQL, on PostgreSQL and SQLite alike: running it twice gives the same rows. The cleanup never
deletes a day's raw events before that day has daily figures.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from sqlalchemy import Connection, Engine, Insert, bindparam, cast, func, select
from sqlalchemy import Date as SqlDate
from sqlalchemy.dialects import postgresql, sqlite

from jobs.errors import JobError
from jobs.exitcodes import ExitCode
from jobs.models import AnalyticsEvent, DailyAnalytics
from jobs.purge import PurgeResult, purge
from jobs.retention import ANALYTICS_EVENTS
from jobs.sessions import cutoff_for

log = logging.getLogger(__name__)

events = AnalyticsEvent.__table__
daily = DailyAnalytics.__table__

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

    def lines(self) -> list[str]:
        verb = "would write" if self.dry_run else "wrote"
        total = sum(d.events for d in self.days)
        out = [f"{len(self.days)} days aggregated ({total} events): {verb} daily figures"]
        out += [
            f"  {d.day}: {d.events} events, {d.event_types} event types" for d in self.days[-7:]
        ]
        if len(self.days) > 7:
            out.insert(1, f"  ... {len(self.days) - 7} earlier days")
        if self.kept:
            out.append(
                f"kept the figures of {len(self.kept)} days older than the retention cutoff "
                f"({self.kept[0]} .. {self.kept[-1]}): their raw events may be partly deleted; "
                "--force recomputes them"
            )
        if self.interrupted:
            out.append("interrupted: days written stay written; rerun to complete the range")
        return out


# One day's figures, with the day and its bounds as parameters: built once, so each day only
# binds values (SQLAlchemy's compiled cache then serves every day).
_FIGURES = (
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


def _upsert(dialect: str) -> Insert:
    module: Any = postgresql if dialect == "postgresql" else sqlite
    insert = module.insert(daily).from_select(
        ["day", "event_type", "event_count", "unique_users", "updated_at"], _FIGURES
    )
    return insert.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=["day", "event_type"],
        set_={
            "event_count": insert.excluded.event_count,
            "unique_users": insert.excluded.unique_users,
            "updated_at": insert.excluded.updated_at,
        },
    ).returning(daily.c.event_count)


_UPSERTS = {dialect: _upsert(dialect) for dialect in ("postgresql", "sqlite")}


def aggregate_day(conn: Connection, day: date, *, dry_run: bool = False) -> DayFigures:
    """Upsert one day's figures; in a dry run, compute them only."""
    start, end = day_bounds(day)
    params = {"day": day, "start": start, "end": end, "now": datetime.now(UTC)}
    if dry_run:
        counts = [int(row.event_count) for row in conn.execute(_FIGURES, params)]
    else:
        counts = [int(n) for n in conn.scalars(_UPSERTS[conn.dialect.name], params)]
    return DayFigures(day=day, event_types=len(counts), events=sum(counts))


def aggregate(
    engine: Engine,
    days: list[date],
    *,
    dry_run: bool = False,
    stop: threading.Event | None = None,
    keep_before: date | None = None,
) -> AggregateResult:
    """Aggregate each day in its own short transaction.

    Days before `keep_before` that already have figures are left alone: their raw events may
    already be partly deleted, and recomputing would replace complete figures by partial ones.
    """
    result = AggregateResult(dry_run=dry_run)
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
            figures = aggregate_day(conn, day, dry_run=dry_run)
        result.days.append(figures)
        log.info(
            "day aggregated" if not dry_run else "dry run: day computed",
            extra={
                "day": day.isoformat(),
                "events": figures.events,
                "event_types": figures.event_types,
                "seconds": round(time.monotonic() - started, 4),
            },
        )
    return result


def _utc_day(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), SqlDate)
    return func.date(column)  # SQLite holds UTC text: 'YYYY-MM-DD HH:MM:SS...'


def days_missing_figures(conn: Connection, before: datetime) -> list[date]:
    """Days before `before` that have raw events but no daily figures (one query)."""
    day = _utc_day(events.c.occurred_at, conn.dialect.name).label("day")
    old_days = select(day).where(events.c.occurred_at < before).distinct().subquery()
    query = (
        select(old_days.c.day)
        .where(old_days.c.day.not_in(select(daily.c.day).distinct()))
        .order_by(old_days.c.day)
    )
    return [d if isinstance(d, date) else date.fromisoformat(str(d)) for d in conn.scalars(query)]


@dataclass
class AnalyticsCleanupResult:
    older_than_days: int
    cutoff: datetime
    aggregated_first: list[date] = field(default_factory=list)
    purge: PurgeResult | None = None
    dry_run: bool = False

    @property
    def interrupted(self) -> bool:
        return self.purge is None or self.purge.interrupted

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.INTERRUPTED if self.interrupted else ExitCode.OK

    def lines(self) -> list[str]:
        verb = "would " if self.dry_run else ""
        out = [
            f"cutoff: {self.cutoff.isoformat()} (whole UTC days older than {self.older_than_days} days)"
        ]
        if self.aggregated_first:
            out.append(
                f"{verb}aggregate first {len(self.aggregated_first)} days with no daily figures "
                f"({self.aggregated_first[0]} .. {self.aggregated_first[-1]})"
            )
        if self.purge is not None:
            deleted = "would delete" if self.dry_run else "deleted"
            out.append(
                f"{self.purge.table}: {deleted} {self.purge.deleted} rows in {self.purge.batches} batches"
            )
        if self.interrupted:
            out.append("interrupted: committed batches stay; the next run completes the work")
        return out


def cleanup_old_analytics(
    engine: Engine,
    *,
    older_than_days: int | None = None,
    batch_size: int = 5000,
    aggregate_missing: bool = True,
    dry_run: bool = False,
    stop: threading.Event | None = None,
    now: datetime | None = None,
) -> AnalyticsCleanupResult:
    """Delete raw events of whole UTC days older than the cutoff, never before their figures."""
    now = now or datetime.now(UTC)
    days = older_than_days if older_than_days is not None else ANALYTICS_EVENTS.days
    result = AnalyticsCleanupResult(days, cutoff_for(ANALYTICS_EVENTS, days, now), dry_run=dry_run)
    with engine.connect() as conn:
        missing = days_missing_figures(conn, result.cutoff)
    if missing and not aggregate_missing:
        raise JobError(
            f"{len(missing)} days older than the cutoff have raw events but no daily figures "
            f"({missing[0]} .. {missing[-1]}); nothing was deleted. Run `cronjobs "
            f"aggregate-daily-analytics --since {missing[0]} --until {missing[-1]}` first, or "
            "drop --no-aggregate-missing"
        )
    result.aggregated_first = missing
    if missing:
        done = aggregate(engine, missing, dry_run=dry_run, stop=stop)
        if done.interrupted:
            return result
    result.purge = purge(
        engine, ANALYTICS_EVENTS, result.cutoff, batch_size=batch_size, dry_run=dry_run, stop=stop
    )
    return result
