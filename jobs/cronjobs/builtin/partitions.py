"""Monthly RANGE partitions of analytics_events on PostgreSQL: telling a partitioned table from
pg_catalog, creating the months ahead, and dropping whole partitions past the retention.

A partition is dropped only when it lies wholly before the cutoff, on whole UTC days, and every
UTC day it holds events of has figures in daily_analytics. The days are found by a skip scan of
the `occurred_at` index (one probe per day), so the check does not read the partition's events.
It runs under `LOCK TABLE <parent>, <p> IN ACCESS EXCLUSIVE MODE` in the transaction that
detaches and drops it, so no event arrives between the check and the drop. The parent is locked
first, as the app's queries lock it (detaching and dropping lock it anyway: taking the partition
first deadlocked with any app query on the table); each attempt waits at most DROP_LOCK_WAIT
(the app's queries queue behind it meanwhile), and a partition whose locks are not granted in
DROP_ATTEMPTS attempts is kept for the next run; days lacking figures are then aggregated by
the per-day upsert, outside the lock, and the partition is tried once more. With `recount` (the cleanup's
`--recount-partitions`) every (day, event type) is also counted against its figures, reading
every event, once without the lock and again under it: short figures are aggregated first, and
a day whose figures count more events than are left keeps its partition (the per-day path keeps
such days too). The statements are SQL text (cronjobs.builtin.analytics_sql), the parent's and
the partition's names quoted, on one connection (cronjobs.dblike.connection).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any, NamedTuple

from cronjobs.builtin import analytics_sql as sql
from cronjobs.builtin.analytics import aggregate_day, day_bounds
from cronjobs.builtin.analytics_ranges import as_date, figures_by_day, old_days
from cronjobs.builtin.partition_months import Partition, partitions
from cronjobs.db_errors import DEADLOCK_DETECTED, LOCK_NOT_AVAILABLE, sqlstate
from cronjobs.dblike import DbLike, connection, on
from cronjobs.retention.names import AnalyticsNames, analytics_names

log = logging.getLogger(__name__)


@dataclass
class DroppedPartition:
    name: str
    lower: datetime | None
    upper: datetime
    rows: int


@dataclass
class PartitionsResult:
    """What the partition step of cleanup-old-analytics did (or would do, in a dry run)."""

    dropped: list[DroppedPartition] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    """Partitions wholly before the cutoff kept: a day's figures count more events than it
    holds (or its lock was not granted in time); the per-day path then handles their days."""
    kept_days: list[date] = field(default_factory=list)
    aggregated: list[date] = field(default_factory=list)
    """Days whose figures were missing or short, aggregated before their partition's drop."""
    interrupted: bool = False
    recounted: bool = False
    """Each dropped partition's `rows` are its events, counted (--recount-partitions); else
    the events its days' figures count, which is what they held unless events came late."""

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.dropped)


Counts = dict[date, dict[str, int]]


def droppable(conn: Any, table: Any, cutoff: datetime) -> list[Partition]:
    """Partitions wholly before `cutoff` whose bounds fall on UTC midnights (a day is never
    split between a dropped partition and another)."""
    return [
        p
        for p in partitions(conn, table)
        if p.upper is not None
        and p.upper <= cutoff
        and all(b is None or b.astimezone(UTC).time() == dtime.min for b in (p.lower, p.upper))
    ]


def holding(conn: Any, table: Any, cutoff: datetime) -> Partition | None:
    """The partition that holds the last instant before `cutoff` and reaches past it, if its
    bounds are UTC midnights: it will be dropped whole once all of it is past the cutoff, so
    by default its old days wait for that rather than go row by row."""
    for p in partitions(conn, table):
        if (
            p.lower is not None
            and p.upper is not None
            and p.lower < cutoff < p.upper
            and all(b.astimezone(UTC).time() == dtime.min for b in (p.lower, p.upper))
        ):
            return p
    return None


def _utc_date(at: datetime) -> date:
    return at.astimezone(UTC).date()


def _raw_counts(conn: Any, names: AnalyticsNames, p: Partition) -> Counts:
    """Every event of `p` counted per UTC day and event type (a read of the whole partition)."""
    params: dict[str, Any] = {"upper": p.upper}
    if p.lower is not None:
        params["lower"] = p.lower
    found: Counts = {}
    for d, event_type, n in on(conn).rows(sql.raw_counts(names, p.lower is not None), params):
        found.setdefault(as_date(d), {})[event_type] = int(n)
    return found


def _verdict(raw: Counts, figures: Counts) -> tuple[list[date], list[date]]:
    """(days whose figures count more events than are left, days whose figures are short)."""
    over, short = [], []
    for day, types in sorted(raw.items()):
        counted = figures.get(day, {})
        if any(counted.get(t, 0) > n for t, n in types.items()):
            over.append(day)
        elif any(counted.get(t, 0) != n for t, n in types.items()):
            short.append(day)
    return over, short


def _check(
    conn: Any, names: AnalyticsNames, p: Partition, recount: bool, dry_run: bool = False
) -> tuple[int, list[date], list[date]]:
    """(events counted, days to aggregate first, days that keep the partition): figures for
    every day `p` holds events of, and with `recount` equal to its raw counts. In a dry run the
    events counted include those of the days still to aggregate."""
    assert p.upper is not None
    if recount:
        raw = _raw_counts(conn, names, p)
        over, short = _verdict(raw, figures_by_day(conn, names, _utc_date(p.upper), sorted(raw)))
        return sum(sum(t.values()) for t in raw.values()), short, over
    days = old_days(conn, names, p.upper, since=p.lower)
    figures = figures_by_day(conn, names, _utc_date(p.upper), days)
    missing = [d for d in days if d not in figures]
    counted = sum(sum(t.values()) for t in figures.values())
    if dry_run:
        counted += sum(_events_on(conn, names, d) for d in missing)
    return counted, missing, []


def _events_on(conn: Any, names: AnalyticsNames, day: date) -> int:
    """The raw events of one UTC day (a day that has no figures yet: it is read to aggregate
    it anyway)."""
    db = on(conn)
    start, end = day_bounds(day)
    return int(db.scalar(sql.events_on(names, db.dialect), {"start": start, "end": end}) or 0)


class _Stopped(NamedTuple):
    """Why a partition was not dropped: days to aggregate first, days whose figures count
    more events than it holds (both empty: its lock was not granted in time)."""

    short: list[date]
    over: list[date]


DROP_LOCK_WAIT = 0.2
"""Seconds the drop waits for the parent's and the partition's locks per attempt: the app's
queries on the table queue behind the request meanwhile, so it is short."""
DROP_ATTEMPTS = 5
"""Attempts at those locks (a pause between them) before the partition is kept for the next run."""


def _drop_if_counted(
    db: DbLike, p: Partition, names: AnalyticsNames, recount: bool
) -> int | _Stopped:
    """`_drop_once`, again after a pause (at most DROP_ATTEMPTS in all) when its locks were not
    granted within DROP_LOCK_WAIT; kept, with a warning, if they never were."""
    for attempt in range(1, DROP_ATTEMPTS + 1):
        try:
            return _drop_once(db, p, names, recount)
        except Exception as e:
            code = sqlstate(e)
            if code not in (LOCK_NOT_AVAILABLE, DEADLOCK_DETECTED):
                raise
            log.info(
                "partition lock not granted: trying again"
                if attempt < DROP_ATTEMPTS
                else "partition lock not granted",
                extra={"partition": p.name, "attempt": attempt, "sqlstate": code},
            )
        if attempt < DROP_ATTEMPTS:
            time.sleep(DROP_LOCK_WAIT * attempt)
    log.warning("partition kept: its lock was not granted in time", extra={"partition": p.name})
    return _Stopped([], [])


def _drop_once(db: DbLike, p: Partition, names: AnalyticsNames, recount: bool) -> int | _Stopped:
    """Lock the parent, then `p` (the order of the app's queries on the parent, so neither
    waits on the other in a cycle: detaching and dropping a partition locks its parent
    anyway), check `p` (`_check`), detach and drop it, in one transaction; the events it held
    (as counted) if dropped, else what stopped it. A lock not granted within DROP_LOCK_WAIT
    raises (lock_not_available)."""
    wait = f"SET LOCAL lock_timeout = '{int(DROP_LOCK_WAIT * 1000)}ms'"
    with db.transaction(wait) as tx:
        tx.execute(sql.lock_partition(names.events, p.schema, p.name))
        rows, short, over = _check(tx, names, p, recount)
        if over or short:  # commits only the locks: nothing was written
            return _Stopped(short, over)
        for statement in sql.drop_partition(names.events, p.schema, p.name):
            tx.execute(statement)
        return rows


def _aggregate_days(
    db: DbLike, days: list[date], now: datetime | None, names: AnalyticsNames
) -> None:
    """The per-day upsert, a day per transaction (outside any partition's lock)."""
    for day in days:
        with db.transaction() as tx:
            aggregate_day(tx, day, now=now, tables=names)


def drop_old_partitions(
    source: Any,
    cutoff: datetime,
    *,
    dry_run: bool = False,
    stop: threading.Event | None = None,
    now: datetime | None = None,
    tables: Any,
    recount: bool = False,
) -> PartitionsResult:
    """Detach and drop every partition wholly before `cutoff` whose days are all counted, each
    in its own transaction, checked under its lock; days without figures are aggregated
    outside the lock, a day per transaction, and the partition is tried once more. With
    `recount` (every event counted), the partition is read once without its lock first, so
    one whose figures count more is never locked, and its short days aggregated. A dry run
    checks without locking. `source`: the run's `Db`, or a SQLAlchemy Engine; `tables`:
    AnalyticsNames, or SQLAlchemy AnalyticsTables."""
    result = PartitionsResult(recounted=recount)
    names = analytics_names(tables)
    with connection(source) as db:
        with db.transaction() as tx:
            candidates = droppable(tx, names.events, cutoff)
        for p in candidates:
            if stop is not None and stop.is_set():
                result.interrupted = True
                break
            _one(db, p, names, result, dry_run=dry_run, now=now, recount=recount)
    return result


def _one(
    db: DbLike,
    p: Partition,
    names: AnalyticsNames,
    result: PartitionsResult,
    *,
    dry_run: bool,
    now: datetime | None,
    recount: bool,
) -> None:
    """One partition wholly before the cutoff: dropped, kept, or (dry run) checked."""
    if dry_run or recount:  # a recount reads the partition: once without its lock first
        with db.transaction() as tx:
            rows, short, over = _check(tx, names, p, recount, dry_run)
        if over:
            result.kept.append(p.name)
            result.kept_days += over
            return
        result.aggregated += short
        if dry_run:
            result.dropped.append(DroppedPartition(p.name, p.lower, p.upper, rows))  # type: ignore[arg-type]
            return
        _aggregate_days(db, short, now, names)
        started = time.monotonic()
        dropped = _drop_if_counted(db, p, names, recount)
    else:
        started = time.monotonic()
        dropped = _drop_if_counted(db, p, names, recount)
        if isinstance(dropped, _Stopped) and dropped.short and not dropped.over:
            _aggregate_days(db, dropped.short, now, names)
            result.aggregated += dropped.short
            started = time.monotonic()
            dropped = _drop_if_counted(db, p, names, recount)
    if isinstance(dropped, _Stopped):  # events arrived, figures changed, or no lock in time
        result.kept.append(p.name)
        result.kept_days += dropped.over + dropped.short
        return
    result.dropped.append(DroppedPartition(p.name, p.lower, p.upper, dropped))  # type: ignore[arg-type]
    log.info(
        "partition dropped",
        extra={
            "table": names.events.name,
            "partition": p.name,
            "rows": dropped,
            "seconds": round(time.monotonic() - started, 4),
        },
    )
