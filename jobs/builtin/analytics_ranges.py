"""cleanup-old-analytics on PostgreSQL: runs of whole UTC days deleted by time range, one
statement per run, each deleted event checked against the daily figures by that statement.

`old_days` finds the UTC days before the cutoff that hold raw events (one probe per day on the
`occurred_at` index, not a read of the events). `plan` packs consecutive days into runs of at
most `batch_size` events, sizes taken from the days' figures. `delete_run` deletes one run:

    WITH gone  AS (DELETE FROM events WHERE occurred_at >= :lo AND occurred_at < :hi
                   RETURNING day, event_type, user_id),
         got   AS (SELECT day, event_type, count(*) AS n FROM gone GROUP BY 1, 2),
         cmp   AS (got LEFT JOIN daily_analytics: n beside the figures' event_count c),
         short AS (the (day, type)s whose figures are missing or count fewer events),
         fixed AS (INSERT INTO daily_analytics the recount of the short ones, from gone
                   ON CONFLICT DO UPDATE)
    SELECT deleted, events of (day, type)s whose figures count more (c > n), missing days, ...

Figures equal to the events deleted are not rewritten (no unique-users recount for them);
missing or short ones become exactly the events deleted, in the same statement. If any
figures count more events than are left (the app deleted some, or they arrived after an
earlier cleanup of the day), or a row is locked for more than FAST_LOCK_WAIT, the run is
rolled back and its days go through the careful per-day path (`purge_unit`), which keeps
such types and skips locked rows. Whole days are the unit: unique users are counted over a
(day, type)'s events at once.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, cast, delete, func, literal, or_, select
from sqlalchemy import Date as SqlDate
from sqlalchemy.dialects import postgresql

from jobs.builtin.analytics import _FIGURE_KEYS, AnalyticsTables, day_bounds


def _utc_day(column: Any) -> Any:
    return cast(func.timezone("UTC", column), SqlDate)


def old_days(
    conn: Connection, tables: AnalyticsTables, cutoff: datetime, since: datetime | None = None
) -> list[date]:
    """The UTC days before `cutoff` (from `since`) with raw events, oldest first: a recursive
    skip scan, one `min(occurred_at)` probe per day (an index lookup with the `occurred_at`
    index; on a partitioned table the bounds prune it to the partitions they span)."""
    at = tables.events.c.occurred_at
    before = at < bindparam("cutoff", cutoff, type_=at.type)
    if since is not None:
        before = and_(before, at >= bindparam("since", since, type_=at.type))
    first = select(_utc_day(func.min(at)).label("day")).where(before)
    days = first.cte("days", recursive=True)
    following = select(_utc_day(func.min(at))).where(before, at >= days.c.day + 1)
    step = select(following.scalar_subquery()).where(days.c.day.is_not(None))
    days = days.union_all(step)
    return list(conn.scalars(select(days.c.day).where(days.c.day.is_not(None))))


def figures_by_day(
    conn: Connection, tables: AnalyticsTables, before: date, days: list[date] | None = None
) -> dict[date, dict[str, int]]:
    """Each day's figures (event type -> event_count) before `before` (of `days` only, if
    given): the sizes `plan` uses."""
    daily = tables.daily
    query = select(daily.c.day, daily.c.event_type, daily.c.event_count)
    query = query.where(daily.c.day < before)
    if days is not None:
        query = query.where(daily.c.day.in_(bindparam("days", days, expanding=True)))
    found: dict[date, dict[str, int]] = {}
    for day, event_type, n in conn.execute(query):
        found.setdefault(day, {})[event_type] = int(n)
    return found


@dataclass
class Run:
    """Consecutive old days deleted by one statement (`days[-1]` included)."""

    days: list[date]
    expected: int

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return day_bounds(self.days[0])[0], day_bounds(self.days[-1] + timedelta(days=1))[0]


def plan(days: list[date], figures: dict[date, dict[str, int]], batch_size: int) -> list[Run]:
    """Pack `days` into runs of at most `batch_size` events by their figures (a day without
    figures counts as the median day, or `batch_size`); a bigger day is a run by itself."""
    known = [sum(types.values()) for types in figures.values()]
    guess = int(statistics.median(known)) if known else batch_size
    runs: list[Run] = []
    for day in days:
        size = sum(figures[day].values()) if day in figures else guess
        if runs and runs[-1].expected + size <= batch_size:
            runs[-1].days.append(day)
            runs[-1].expected += size
        else:
            runs.append(Run([day], size))
    return runs


@lru_cache(maxsize=8)
def delete_run_statement(tables: AnalyticsTables) -> Select[Any]:
    """The statement `delete_run` sends (parameters `lo`, `hi`, `now`)."""
    events, daily = tables.events, tables.daily
    at = events.c.occurred_at
    lo, hi = bindparam("lo", type_=at.type), bindparam("hi", type_=at.type)
    gone = (
        delete(events)
        .where(at >= lo, at < hi)
        .returning(
            _utc_day(at).label("day"),
            events.c.event_type.label("event_type"),
            events.c.user_id.label("user_id"),
        )
        .cte("gone")
    )
    got = select(gone.c.day, gone.c.event_type, func.count().label("n"))
    got_cte = got.group_by(gone.c.day, gone.c.event_type).cte("got")
    same = and_(daily.c.day == got_cte.c.day, daily.c.event_type == got_cte.c.event_type)
    cmp = select(got_cte, daily.c.event_count.label("c")).select_from(
        got_cte.outerjoin(daily, same)
    )
    cmp_cte = cmp.cte("cmp")
    short = select(cmp_cte.c.day, cmp_cte.c.event_type).where(
        or_(cmp_cte.c.c.is_(None), cmp_cte.c.c < cmp_cte.c.n)
    )
    short_cte = short.cte("short")
    of_short = and_(gone.c.day == short_cte.c.day, gone.c.event_type == short_cte.c.event_type)
    recount = (
        select(
            gone.c.day,
            gone.c.event_type,
            func.count(),
            func.count(gone.c.user_id.distinct()),
            bindparam("now", type_=daily.c.updated_at.type),
        )
        .select_from(gone.join(short_cte, of_short))
        .group_by(gone.c.day, gone.c.event_type)
    )
    insert = postgresql.insert(daily).from_select([daily.c[k] for k in _FIGURE_KEYS], recount)
    changed = (daily.c.event_count != insert.excluded.event_count) | (
        daily.c.unique_users != insert.excluded.unique_users
    )
    upsert = insert.on_conflict_do_update(
        index_elements=[daily.c.day, daily.c.event_type],
        set_={daily.c[k]: insert.excluded[k] for k in _FIGURE_KEYS[2:]},
        where=changed,
    )
    fixed = upsert.returning(literal(1)).cte("fixed")
    over = cmp_cte.c.c > cmp_cte.c.n
    return select(
        select(func.count()).select_from(gone).scalar_subquery(),
        select(func.coalesce(func.sum(cmp_cte.c.n), 0)).where(over).scalar_subquery(),
        select(func.array_agg(cmp_cte.c.day.distinct()))
        .where(cmp_cte.c.c.is_(None))
        .scalar_subquery(),
        select(func.count()).select_from(fixed).scalar_subquery(),
    )


@dataclass
class RunResult:
    deleted: int
    over: int
    """Events of (day, type)s whose figures count more: nonzero means roll back."""
    missing: list[date] = field(default_factory=list)
    """Days that had no figures at all: they got them from the events deleted."""


def delete_run(conn: Connection, tables: AnalyticsTables, run: Run, now: datetime) -> RunResult:
    """Delete the run's events and fix their figures, in the caller's transaction (which must
    roll back when `over` is nonzero)."""
    lo, hi = run.bounds
    row = conn.execute(delete_run_statement(tables), {"lo": lo, "hi": hi, "now": now}).one()
    return RunResult(int(row[0]), int(row[1]), sorted(row[2] or []))
