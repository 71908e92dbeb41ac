"""cleanup-old-analytics: delete raw events of whole UTC days past the retention, a day (or a
few event types of a day) per transaction, each deleted event counted in the daily figures by
the statement (PostgreSQL) or transaction (SQLite) that deletes it.

Every statement is SQL text (cronjobs.builtin.analytics_sql) on the run's own connection
(`ctx.db`, cronjobs.dbapi), or on a SQLAlchemy engine's connections where a test or a bench
passes one (seen as a `Db`: cronjobs.dblike.connection): with the built-in tables a run imports no
SQLAlchemy. A rules file's tables are reflected with it (cronjobs.retention.rule_tables) and
named by cronjobs.retention.names; the statements are the same.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from cronjobs.builtin import analytics_sql as sql
from cronjobs.builtin.analytics import day_bounds
from cronjobs.builtin.analytics_ranges import (
    CheckFailed,
    Run,
    SnapshotCheck,
    as_date,
    delete_run,
    figures_by_day,
    old_days,
    runs,
)
from cronjobs.builtin.partition_months import is_partitioned
from cronjobs.builtin.partitions import PartitionsResult, drop_old_partitions, holding
from cronjobs.builtin.sessions import deleted
from cronjobs.db_errors import (
    LOCK_NOT_AVAILABLE,
    SERIALIZATION_FAILURE,
    is_database_error,
    sqlstate,
)
from cronjobs.dbapi import Db
from cronjobs.dblike import DbLike, connection, on
from cronjobs.errors import JobError
from cronjobs.exitcodes import ExitCode
from cronjobs.render import plural
from cronjobs.retention.batch_time import DEFAULT_BATCH_TIME, BatchSizer
from cronjobs.retention.names import DEFAULT_ANALYTICS, AnalyticsNames, analytics_names
from cronjobs.retention.purge import FAST_LOCK_WAIT
from cronjobs.retention.purged import PurgeResult, sized
from cronjobs.retention.rules import DEFAULTS, RetentionRule

log = logging.getLogger(__name__)


DEFAULT_BATCH_EVENTS = 20_000
"""Events in the first transaction (whole UTC days are packed up to this many), from which the
time budget grows or shrinks the runs (counting and deleting 100k events took ~70 ms on a quiet
bench machine, 0.3 s and more on a loaded one)."""
MIN_BATCH_EVENTS = 1_000
"""The smallest run the time budget may pack (or `batch_size`, if smaller)."""
MAX_BATCH_EVENTS = 1_000_000
"""The largest run the time budget may pack."""
BIG_DAY = 4
"""A day with more than `batch_size` events is a run by itself; one with more than BIG_DAY
times as many goes the careful way, a few event types per transaction."""


@dataclass
class Inventory:
    """The raw events older than the cutoff, per day and event type, beside their figures."""

    events: dict[date, dict[str, int]]
    figures: dict[date, dict[str, int]]

    @property
    def missing(self) -> list[date]:
        """Days with raw events but no daily figures."""
        return [d for d in self.events if d not in self.figures]

    def kept(self, day: date) -> dict[str, int]:
        """Event types of `day` whose figures count more events than are left: kept."""
        counted = self.figures.get(day, {})
        return {t: n for t, n in self.events[day].items() if counted.get(t, 0) > n}


def inventory(conn: Any, before: datetime, tables: Any = DEFAULT_ANALYTICS) -> Inventory:
    """One grouped read of the old raw events, and their days' figures."""
    db, names = on(conn), analytics_names(tables)
    found: dict[date, dict[str, int]] = {}
    for day, event_type, n in db.rows(sql.inventory_events(names, db.dialect), {"before": before}):
        found.setdefault(as_date(day), {})[event_type] = int(n)
    figures: dict[date, dict[str, int]] = {}
    statement = sql.inventory_figures(names, db.dialect)
    for day, event_type, n in db.rows(statement, {"before": before.date()}):
        if as_date(day) in found:
            figures.setdefault(as_date(day), {})[event_type] = int(n)
    return Inventory(found, figures)


class Undo(Exception):
    """Raised inside a transaction to roll it back; caught by the caller."""


class Unit(NamedTuple):
    """What one transaction of the cleanup did: one UTC day, or one event type of a day."""

    deleted: int
    in_use: int
    kept: int


def purge_unit(
    conn: Any,
    day: date,
    event_types: list[Any] | None,
    now: datetime,
    tables: Any = DEFAULT_ANALYTICS,
) -> Unit:
    """Delete the raw events of `day` (of these types, or all), counting them in its figures in
    the same transaction: each type's figures become exactly the events deleted.

    A type whose figures count more events than are left (the app deleted some, or they came
    after an earlier cleanup of the day) is kept: recounting would lose events, adding would
    count some twice. On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED` and a type
    with any row the app holds is left whole for the next run; counting, deleting and the
    upsert are one statement (`analytics_sql.purge_unit`), one snapshot, so an event
    committed meanwhile is neither counted nor deleted. SQLite's BEGIN IMMEDIATE keeps writers
    out of the transaction. `conn`: a `Db` in a transaction, or a SQLAlchemy Connection.
    """
    db, names = on(conn), analytics_names(tables)
    start, end = day_bounds(day)
    params: dict[str, Any] = {"day": day, "start": start, "end": end}
    types = None if event_types is None else len(event_types)
    if event_types is not None:
        params |= sql.in_params("t", list(event_types))
    if db.dialect == "postgresql":
        row = db.rows(sql.purge_unit(names, types), params | {"now": now})[0]
        return Unit(int(row[0]), int(row[1]), int(row[2]))
    found = db.rows(sql.unit_raw(names, types), params)
    counted = {str(t): int(n) for t, n in db.rows(sql.unit_figures(names, db.dialect), params)}
    ok = [(t, int(n), int(users)) for t, n, users in found if counted.get(t, 0) <= n]
    for t, n, users in ok:
        figures = {"day": day, "event_type": t, "event_count": n, "unique_users": users}
        db.execute(sql.unit_upsert(names), figures | {"updated_at": now})
    if ok:
        gone = sql.in_params("t", [t for t, _, _ in ok])
        db.execute(sql.unit_delete(names, len(ok)), {"start": start, "end": end} | gone)
    deleted = sum(n for _, n, _ in ok)
    return Unit(deleted, 0, sum(int(r[1]) for r in found) - deleted)


def _chunks(types: dict[str, int], batch_size: int) -> list[list[str] | None]:
    """A day whole (None) if it has at most `batch_size` events, else its event types in
    groups of at most `batch_size` events (a type is never split: its unique users are
    counted over all its events at once)."""
    if sum(types.values()) <= batch_size:
        return [None]
    chunks: list[list[str]] = []
    size = 0
    for t, n in sorted(types.items(), key=lambda kv: (kv[0] is None, str(kv[0]))):
        if not chunks or size + n > batch_size:
            chunks.append([])
            size = 0
        chunks[-1].append(t)
        size += n
    return list(chunks)


def _span(days: list[date]) -> str:
    return f"{days[0]}" if days[0] == days[-1] else f"{days[0]} .. {days[-1]}"


@dataclass
class AnalyticsCleanupResult:
    older_than_days: int
    cutoff: datetime
    aggregated_first: list[date] = field(default_factory=list)
    """Days that had no daily figures: each got them in the transaction deleting its events."""
    purge: PurgeResult | None = None
    kept: int = 0
    """Old events kept because their figures count more events than are left (see below)."""
    kept_days: list[date] = field(default_factory=list)
    partitions: PartitionsResult | None = None
    """On a partitioned table (PostgreSQL): the partitions wholly before the cutoff dropped
    whole; `purge` is then the per-day path on what is left before the cutoff."""
    held_partition: str | None = None
    """The partition holding the cutoff, whose old days wait to be dropped with it (not with
    `exact_cutoff`)."""
    held_from: date | None = None
    """Its first day: the days from it to the cutoff were kept."""
    dry_run: bool = False

    @property
    def interrupted(self) -> bool:
        parts = self.partitions is not None and self.partitions.interrupted
        return parts or self.purge is None or self.purge.interrupted

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.INTERRUPTED if self.interrupted else ExitCode.OK

    def counts(self) -> dict[str, int]:
        """`deleted` counts rows deleted one by one, plus dropped partitions' events when they
        were counted (--recount-partitions); `partition_events` is what the dropped
        partitions' days' figures count (their events, unless some came late)."""
        purged, parts = self.purge, self.partitions
        exact = parts.rows if parts and parts.recounted else 0
        return {
            "deleted": (purged.deleted if purged else 0) + exact,
            "in_use": purged.in_use if purged else 0,
            "kept": self.kept,
            "partitions_dropped": len(parts.dropped) if parts else 0,
            "partition_events": parts.rows if parts else 0,
        }

    def lines(self) -> list[str]:
        days = plural(self.older_than_days, "day")
        out = [f"cutoff: {self.cutoff.isoformat()} (whole UTC days older than {days})"]
        if self.aggregated_first:
            verb = "would aggregate" if self.dry_run else "aggregated"
            out.append(
                f"{verb} {plural(len(self.aggregated_first), 'day')} with no daily figures "
                f"({_span(self.aggregated_first)}), each in the transaction deleting its events"
            )
        if self.partitions is not None:
            out += _partition_lines(self.partitions, self.dry_run)
        if self.held_partition is not None:
            out.append(
                f"kept the days from {self.held_from} to the cutoff: they are in "
                f"{self.held_partition}, dropped whole once all of it is past the cutoff "
                "(--exact-cutoff deletes them row by row)"
            )
        if self.purge is not None:
            out.append(
                f"{self.purge.table}: {'would delete' if self.dry_run else 'deleted'} "
                f"{deleted(self.purge)}"  # type: ignore[arg-type]  # purge.py's twin (purged.py)
            )
        if self.kept:
            first, last = self.kept_days[0], self.kept_days[-1]
            out.append(
                f"kept {plural(self.kept, 'event')} of {plural(len(self.kept_days), 'day')} "
                f"({_span(self.kept_days)}) whose daily figures count more events than are left (the "
                "app deleted some, or they arrived after an earlier cleanup): deleting them would "
                "count events twice or lose some. `cronjobs aggregate-daily-analytics --force "
                f"--since {first} --until {last}` makes the figures those of the events left"
            )
        if self.interrupted:
            out.append("interrupted: committed batches stay; the next run completes the work")
        return out


def _within(day: date, lower: datetime | None, upper: datetime) -> bool:
    return (lower is None or lower.astimezone(UTC).date() <= day) and (
        day < upper.astimezone(UTC).date()
    )


def _partition_lines(parts: PartitionsResult, dry_run: bool) -> list[str]:
    out = []
    if parts.dropped:
        names = [p.name for p in parts.dropped]
        span = names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]}"
        out.append(
            f"{'would detach and drop' if dry_run else 'detached and dropped'} "
            f"{plural(len(names), 'partition')} ({span}): every day they hold has daily figures "
            f"({plural(parts.rows, 'event')} counted)"
        )
    if parts.aggregated:
        verb = "would aggregate" if dry_run else "aggregated"
        out.append(
            f"{verb} {plural(len(parts.aggregated), 'day')} with missing or short figures "
            f"({_span(parts.aggregated)}) before dropping their partitions"
        )
    if parts.kept:
        out.append(
            f"kept {plural(len(parts.kept), 'partition')} wholly before the cutoff "
            f"({', '.join(parts.kept)}): figures that count more events than are left, events "
            "that arrived meanwhile, or a lock not granted in time; their days go through the "
            "per-day path below"
        )
    return out


def cutoff_of(rule: Any, days: int, now: datetime) -> datetime:
    """The cleanup's cutoff: `days` before `now` (rounded down to midnight with the rule's
    `whole_days`), then the UTC midnight on or before it, whatever a rules file says, so no
    event at or after it is deleted with its day. `rule`: a RetentionRule (or a Retention)."""
    rule = getattr(rule, "rule", rule)
    cutoff = now - timedelta(days=days)
    if rule.whole_days:
        cutoff = cutoff.replace(hour=0, minute=0, second=0, microsecond=0)
    return cutoff.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def cleanup_old_analytics(
    source: Any,
    *,
    older_than_days: int | None = None,
    batch_size: int = DEFAULT_BATCH_EVENTS,
    batch_time: float = DEFAULT_BATCH_TIME,
    aggregate_missing: bool = True,
    recount_partitions: bool = False,
    exact_cutoff: bool = False,
    dry_run: bool = False,
    stop: threading.Event | None = None,
    now: datetime | None = None,
    rule: RetentionRule | Any = DEFAULTS.analytics,
    tables: AnalyticsNames | Any = DEFAULT_ANALYTICS,
) -> AnalyticsCleanupResult:
    """Delete raw events of whole UTC days older than the cutoff, each counted in the daily
    figures by the transaction that deletes it, with SQL text (cronjobs.builtin.analytics_sql)
    on `source`: the run's own `Db` (cronjobs.dbapi), or a SQLAlchemy Engine's connections.
    On PostgreSQL: whole partitions first (on a partitioned table), then runs of whole days by
    time range (cronjobs.builtin.analytics_ranges), of at most `batch_size` events first, then
    as many as fit in `batch_time` seconds (0: `batch_size`; cronjobs.retention.batch_time),
    each counted on a second connection. On SQLite, and in a dry run: a day at a time, or a
    few event types at a time for a day with more than `batch_size` events, from one grouped
    read of the old events. On a partitioned table the old days of the partition holding the
    cutoff wait to be dropped with it (retention keeps at least the cutoff's days, at most one
    partition more), unless `exact_cutoff`: then they go row by row. `tables`: AnalyticsNames,
    or SQLAlchemy AnalyticsTables (a rules file's, reflected)."""
    now = now or datetime.now(UTC)
    names = analytics_names(tables)
    days = older_than_days if older_than_days is not None else getattr(rule, "rule", rule).days
    result = AnalyticsCleanupResult(days, cutoff_of(rule, days, now), dry_run=dry_run)
    partitioned, held = False, None
    with connection(source) as db:
        pg = db.dialect == "postgresql"
        if pg:
            with db.transaction() as tx:
                partitioned = is_partitioned(tx, names.events)
                held = holding(tx, names.events, result.cutoff) if partitioned else None
    # The per-day path's own cutoff: before the held partition's days.
    before = result.cutoff
    if held is not None and held.lower is not None and not exact_cutoff:
        before = held.lower
        result.held_partition, result.held_from = held.name, held.lower.astimezone(UTC).date()
    found: Inventory | None = None
    if dry_run or not pg or not aggregate_missing:
        with connection(source) as db, db.transaction() as tx:
            found = inventory(tx, before, names)
        missing = found.missing
        if missing and not aggregate_missing:
            raise JobError(
                f"{plural(len(missing), 'day')} older than the cutoff have raw events but no "
                f"daily figures ({missing[0]} .. {missing[-1]}); nothing was deleted. Run "
                f"`cronjobs aggregate-daily-analytics --since {missing[0]} --until "
                f"{missing[-1]}` first, or drop --no-aggregate-missing"
            )
        result.aggregated_first = missing
    if partitioned:
        result.partitions = drop_old_partitions(
            source,
            result.cutoff,
            dry_run=dry_run,
            stop=stop,
            now=now,
            tables=names,
            recount=recount_partitions,
        )
    if pg and not dry_run:
        sizer = BatchSizer(
            min(batch_size, MAX_BATCH_EVENTS),
            batch_time,
            low=min(MIN_BATCH_EVENTS, batch_size),
            high=MAX_BATCH_EVENTS,
        )
        _by_runs(source, result, sizer, stop, now, names, before)
    else:
        assert found is not None
        _by_days(source, result, found, batch_size, stop, now, names)
    return result


_READ_COMMITTED = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"
"""The careful path's statements rely on READ COMMITTED, whatever the database's default."""


def _by_runs(
    source: Any,
    result: AnalyticsCleanupResult,
    sizer: BatchSizer,
    stop: threading.Event | None,
    now: datetime,
    names: AnalyticsNames,
    before: datetime,
) -> None:
    """PostgreSQL: the days left before `before` (the cutoff, or the held partition's start),
    in runs of whole days by time range, each checked against its figures and deleted in one
    transaction (`_fast_run`). A run whose figures do not count its events exactly, or that
    meets a row the app holds or changed, is rolled back and its days go the careful way
    (`_careful_run`), as do a run with a day lacking figures and a day of more than BIG_DAY x
    the batch size (`sizer.size`) events (a few event types at a time). A second connection
    counts each run while the first deletes it (`SnapshotCheck`); if the database refuses it,
    or it fails to count a run, the runs are counted before their delete on the one
    connection."""
    result.purge = purged = PurgeResult(names.events.fullname, result.cutoff)
    with connection(source) as db:
        with db.transaction(_READ_COMMITTED) as tx:
            days = old_days(tx, names, before)
        if not days:
            return
        pending = SnapshotCheck(source, names)  # connects meanwhile
        try:
            with db.transaction(_READ_COMMITTED) as tx:
                figures = figures_by_day(tx, names, result.cutoff.astimezone(UTC).date(), days)
            db.execute(f"SET lock_timeout = '{int(FAST_LOCK_WAIT * 1000)}ms'")  # the session's
            try:
                check = _connected(pending)
                _delete_runs(db, check, days, figures, sizer, stop, now, names, result)
            finally:
                reset_lock_timeout(db)
        finally:
            pending.close()
            sized(purged, sizer)


def reset_lock_timeout(db: DbLike) -> None:
    """Undo the session's `SET lock_timeout`. An Engine's connection that cannot be reset is
    discarded (closed), never back in its pool with 50 ms; the run's own `Db` ends with the
    run."""
    try:
        db.execute("RESET lock_timeout")
    except Exception as e:
        if not is_database_error(e):
            raise
        log.debug("resetting lock_timeout failed", exc_info=True)
        if not isinstance(db, Db):
            db.discard()


def _delete_runs(
    db: DbLike,
    check: SnapshotCheck | None,
    days: list[date],
    figures: dict[date, dict[str, int]],
    sizer: BatchSizer,
    stop: threading.Event | None,
    now: datetime,
    names: AnalyticsNames,
    result: AnalyticsCleanupResult,
) -> None:
    """The days in runs packed to the batch's size as it goes (`runs`), each run the fast way
    if it can go that way (`_fast_run`), else, or if that rolled it back, the careful way
    (`_careful_run`), until done or a stop request."""
    purged = result.purge
    assert purged is not None
    for run in runs(days, figures, lambda: sizer.size):
        if stop is not None and stop.is_set():
            _stopped(purged)
            return
        batch_size = sizer.size
        started = time.monotonic()
        deleted = None
        if run.counted and run.expected <= BIG_DAY * batch_size:
            try:
                deleted = _fast_run(db, run, names, check)
            except CheckFailed as e:
                log.warning(
                    "the second connection failed: the runs are counted before their delete "
                    "from now on",
                    extra={"reason": str(e)},
                )
                check = None
                deleted = _fast_run(db, run, names, check)
        if deleted is not None:
            purged.deleted += deleted
            elapsed = time.monotonic() - started
            purged.committed(elapsed, size=batch_size, days=_span(run.days), rows=deleted)
            sizer.after(deleted, elapsed)
        elif not _careful_run(db, run, batch_size, now, names, result, figures, stop):
            _stopped(purged)
            return


def _stopped(purged: PurgeResult) -> None:
    """A stop request ended the cleanup between two transactions: the days done stay done."""
    purged.interrupted = True
    log.warning("stop requested: days done stay done", extra={"deleted": purged.deleted})


def _connected(check: SnapshotCheck) -> SnapshotCheck | None:
    """`check` once its connection is up, or None if the database or the pool refused it (too
    many connections, say): then each run is counted before its delete."""
    refused = check.refused()
    if refused is None:
        return check
    log.info(
        "no second connection: each run is counted before its delete",
        extra={"reason": type(getattr(refused, "orig", None) or refused).__name__},
    )
    return None


def _fast_run(
    db: DbLike, run: Run, names: AnalyticsNames, check: SnapshotCheck | None
) -> int | None:
    """The run by range, counted (on `check`'s connection while it is deleted, else first)
    and deleted in one REPEATABLE READ transaction, committed: the events deleted; None
    (rolled back) if a figure does not count its events exactly, a row the app changed
    meanwhile, or a row lock held past FAST_LOCK_WAIT. CheckFailed (rolled back) if `check`
    failed to count it."""
    try:
        with db.transaction("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ") as tx:
            deleted = delete_run(tx, names, run, check)
            if deleted is None:
                raise Undo
            return deleted
    except Undo:
        return None
    except Exception as e:
        if sqlstate(e) not in (LOCK_NOT_AVAILABLE, SERIALIZATION_FAILURE):
            raise
        return None


def _careful_run(
    db: DbLike,
    run: Run,
    batch_size: int,
    now: datetime,
    names: AnalyticsNames,
    result: AnalyticsCleanupResult,
    figures: dict[date, dict[str, int]],
    stop: threading.Event | None,
) -> bool:
    """The run's days one by one with `purge_unit`, each unit its own READ COMMITTED
    transaction at the job's own lock_timeout: a day whose figures are missing or count more
    than `batch_size` events is read first and goes a few event types at a time (`_chunks`,
    by its real counts). False if a stop request ended it between two units."""
    for day in run.days:
        chunks: list[list[Any] | None] = [None]
        if day not in figures or sum(figures[day].values()) > batch_size:
            chunks = _chunks(_day_types(db, names, day), batch_size)  # type: ignore[assignment]
        for event_types in chunks:
            if stop is not None and stop.is_set():
                return False
            started = time.monotonic()
            with db.transaction(_READ_COMMITTED, _OWN_LOCK_WAIT) as tx:
                unit = purge_unit(tx, day, event_types, now, names)
            _count_unit(result, started, day, event_types, unit)
        if day not in figures and day not in result.aggregated_first:
            result.aggregated_first.append(day)
    return True


_OWN_LOCK_WAIT = "SET LOCAL lock_timeout TO DEFAULT"
"""The job's own lock_timeout (CRONJOBS_LOCK_TIMEOUT), not the fast runs' FAST_LOCK_WAIT."""


def _count_unit(
    result: AnalyticsCleanupResult,
    started: float,
    day: date,
    event_types: list[Any] | None,
    unit: Unit,
) -> None:
    """Add a committed `purge_unit` to the result and log it."""
    purged = result.purge
    assert purged is not None
    purged.deleted += unit.deleted
    purged.in_use += unit.in_use
    result.kept += unit.kept
    if unit.kept and day not in result.kept_days:
        result.kept_days.append(day)
    purged.committed(
        time.monotonic() - started,
        days=day.isoformat(),
        event_types=event_types,
        rows=unit.deleted,
        in_use=unit.in_use,
        kept=unit.kept,
    )


def _day_types(db: DbLike, names: AnalyticsNames, day: date) -> dict[Any, int]:
    """One day's raw events per type (a read of that day), keyed by the column's own values
    (a rules file's type column need not be text)."""
    start, end = day_bounds(day)
    with db.transaction(_READ_COMMITTED, _OWN_LOCK_WAIT) as tx:
        rows = tx.rows(sql.day_types(names, tx.dialect), {"start": start, "end": end})
    return {t: int(n) for t, n in rows}


def _by_days(
    source: Any,
    result: AnalyticsCleanupResult,
    found: Inventory,
    batch_size: int,
    stop: threading.Event | None,
    now: datetime,
    names: AnalyticsNames,
) -> None:
    """SQLite, or a dry run: a day (or a few event types of it) per transaction, from the
    inventory."""
    if result.partitions is not None:
        gone = [(p.lower, p.upper) for p in result.partitions.dropped]
        found.events = {
            day: types
            for day, types in found.events.items()
            if not any(_within(day, lo, hi) for lo, hi in gone)
        }
        result.aggregated_first = [d for d in result.aggregated_first if d in found.events]
    purged = result.purge = PurgeResult(
        names.events.fullname, result.cutoff, dry_run=result.dry_run
    )
    if result.dry_run:
        for day, types in found.events.items():
            kept = sum(found.kept(day).values())
            purged.deleted += sum(types.values()) - kept
            result.kept += kept
            result.kept_days += [day] if kept else []
        return
    units = [
        (day, chunk) for day, types in found.events.items() for chunk in _chunks(types, batch_size)
    ]
    with connection(source) as db:
        for day, event_types in units:
            if stop is not None and stop.is_set():
                _stopped(purged)
                break
            started = time.monotonic()
            with db.transaction() as tx:
                unit = purge_unit(tx, day, event_types, now, names)
            _count_unit(result, started, day, event_types, unit)
