"""aggregate-daily-analytics: raw analytics events rolled up into daily figures.

Aggregation is one `INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE` per UTC day, in
SQL, on PostgreSQL and SQLite alike: running it twice gives the same rows. The SQL is text on
the run's own connection (cronjobs.dbapi): a run imports no SQLAlchemy. The cleanup of old raw
events is jobs/cronjobs/builtin/analytics_cleanup.py.
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

from cronjobs.dblike import connection, on
from cronjobs.errors import JobError
from cronjobs.exitcodes import ExitCode
from cronjobs.render import plural
from cronjobs.retention.names import DEFAULT_ANALYTICS, AnalyticsNames, analytics_names

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


_FIGURE_KEYS = ("day", "event_type", "event_count", "unique_users", "updated_at")


@lru_cache(maxsize=16)
def figures_sql(names: AnalyticsNames, dialect: str) -> str:
    """One day's figures per event type: `:day`, `:start`, `:end` (the day's bounds), `:now`."""
    e, d = names.events, names.daily
    stamp = e.timestamp(dialect)
    day, now, start, end = (":day", ":now", ":start", ":end")
    if stamp:  # typed as the columns are (PostgreSQL), so the index on occurred_at serves
        day, now = "CAST(:day AS date)", f"CAST(:now AS {d.timestamp(dialect)})"
        start, end = f"CAST(:start AS {stamp})", f"CAST(:end AS {stamp})"
    at = e.c("occurred_at")
    return (
        f"SELECT {day} AS day, {e.c('event_type')} AS event_type, count(*) AS event_count, "
        f"count(DISTINCT {e.c('user_id')}) AS unique_users, {now} AS updated_at "
        f"FROM {e.sql} WHERE {at} >= {start} AND {at} < {end} GROUP BY {e.c('event_type')}"
    )


@lru_cache(maxsize=16)
def upsert_sql(names: AnalyticsNames, dialect: str) -> str:
    """The day's figures written into the daily table (one row per event type; a rerun
    replaces them): the event count of each row written."""
    d = names.daily
    keys = [d.c(k) for k in _FIGURE_KEYS]
    updates = ", ".join(f"{k} = excluded.{k}" for k in keys[2:])
    return (
        f"INSERT INTO {d.sql} ({', '.join(keys)}) {figures_sql(names, dialect)} "
        f"ON CONFLICT ({keys[0]}, {keys[1]}) DO UPDATE SET {updates} RETURNING {keys[2]}"
    )


def aggregate_day(
    conn: Any,
    day: date,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    tables: Any = DEFAULT_ANALYTICS,
) -> DayFigures:
    """Upsert one day's figures on `conn` (a `Db`, or a SQLAlchemy Connection in a transaction);
    in a dry run, compute them only. `tables`: AnalyticsNames, or SQLAlchemy AnalyticsTables."""
    db, names = on(conn), analytics_names(tables)
    start, end = day_bounds(day)
    now = now or datetime.now(UTC)
    params = {"day": day, "start": start, "end": end, "now": now}
    sql = figures_sql if dry_run else upsert_sql
    if dry_run:
        counts = [int(row[2]) for row in db.rows(sql(names, db.dialect), params)]
    else:
        counts = [int(n) for n in db.scalars(sql(names, db.dialect), params)]
    return DayFigures(day, event_types=len(counts), events=sum(counts), partial=end > now)


def aggregate(
    db: Any,
    days: list[date],
    *,
    dry_run: bool = False,
    stop: threading.Event | None = None,
    keep_before: date | None = None,
    now: datetime | None = None,
    tables: Any = DEFAULT_ANALYTICS,
) -> AggregateResult:
    """Aggregate each day in its own short transaction.

    Days before `keep_before` that already have figures are left alone: their raw events may
    already be partly deleted, and recomputing would replace complete figures by partial ones.
    """
    result = AggregateResult(dry_run=dry_run)
    names = analytics_names(tables)
    with connection(db) as conn:
        if keep_before is not None and days and days[0] < keep_before:
            d = names.daily
            with conn.transaction() as tx:
                done = {
                    date.fromisoformat(str(day)[:10])  # SQLite holds the day as text
                    for day in tx.scalars(
                        f"SELECT DISTINCT {d.c('day')} FROM {d.sql} WHERE {d.c('day')} < :keep",
                        {"keep": keep_before},
                    )
                }
            result.kept = [d for d in days if d in done]
            days = [d for d in days if d not in done]
        for day in days:
            if stop is not None and stop.is_set():
                result.interrupted = True
                log.warning("stop requested: days done stay done", extra={"done": len(result.days)})
                break
            started = time.monotonic()
            with conn.transaction() as tx:
                figures = aggregate_day(tx, day, dry_run=dry_run, now=now, tables=names)
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
