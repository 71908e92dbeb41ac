"""Issue 15: the PostgreSQL cleanups delete by range, against a real PostgreSQL 15.

cleanup-old-sessions: one statement per batch over a primary-key range, no id list sent to the
server or back. cleanup-old-analytics: runs of whole UTC days, one check and one delete each,
no read of every old event up front; a run whose figures do not count its events exactly is
rolled back and goes the careful per-day way. (Speed itself is measured in bench/, not here.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, insert, select, update

from cronjobs.builtin.analytics import aggregate_day
from cronjobs.builtin.analytics_cleanup import cleanup_old_analytics
from cronjobs.builtin.sessions import cleanup as cleanup_old_sessions
from cronjobs.dbapi import Db
from cronjobs.retention.models import (
    analytics_events,
    chat_messages,
    chat_sessions,
    daily_analytics,
)
from tests.jobs.helpers import NOW, count, insert_sessions

OLD = NOW - timedelta(days=200)
RECENT = NOW - timedelta(days=10)


@contextmanager
def sent(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the engine sends (whitespace folded), with its parameters."""
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        statements.append((" ".join(statement.split()), params))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_a_sessions_batch_is_one_statement_and_no_ids_travel(pg_engine: Engine) -> None:
    rows = [(i, OLD, None) for i in range(1, 8)] + [(i, RECENT, None) for i in range(8, 11)]
    rows.append((11, OLD, RECENT))  # touched lately: kept
    insert_sessions(pg_engine, rows, messages_per_session=2)
    with sent(pg_engine) as statements:
        result = cleanup_old_sessions(pg_engine, batch_size=3, batch_time=0, now=NOW)
    chat = result.tables[0]
    assert (chat.deleted, chat.children_deleted, chat.batches) == (7, 14, 3)
    deletes = [s for s, _ in statements if "DELETE" in s]
    assert len(deletes) == 3 + 3  # a statement per batch, chat then peptide sessions
    for statement, params in statements:
        values = params.values() if isinstance(params, dict) else params or ()
        assert not any(isinstance(v, list | tuple) for v in values), statement  # no id list
    with pg_engine.connect() as conn:
        left = sorted(conn.scalars(select(chat_sessions.c.id)))
        children = sorted(set(conn.scalars(select(chat_messages.c.session_id))))
    assert left == [8, 9, 10, 11] and children == left
    assert count(pg_engine, chat_messages) == 8


def add_days(engine: Engine, first: date, days: int, per_day: int) -> None:
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    rows = [
        {
            "event_type": "view" if i % 3 else "click",
            "user_id": f"u{i % 4}",
            "occurred_at": start + timedelta(days=d, hours=i % 24),
        }
        for d in range(days)
        for i in range(per_day)
    ]
    with engine.begin() as conn:
        conn.execute(insert(analytics_events), rows)
        for d in range(days):
            aggregate_day(conn, first + timedelta(days=d), now=NOW)


def figures(engine: Engine) -> dict[tuple[date, str], tuple[int, int]]:
    with engine.connect() as conn:
        found = conn.execute(select(daily_analytics)).all()
    return {(r.day, r.event_type): (r.event_count, r.unique_users) for r in found}


FIRST = date(2025, 5, 1)  # six old days (the cutoff at NOW is 2025-06-15)


def test_a_sessions_run_builds_its_batch_statement_once(pg_engine: Engine) -> None:
    """Each batch only binds the previous batch's last id: the statement's text is built once
    per table and run (cached), not once per batch."""
    rows = [(i, OLD, None) for i in range(1, 11)]
    insert_sessions(pg_engine, rows, messages_per_session=1)
    executed: list[int] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "bound" in statement:
            executed.append(id(statement))

    event.listen(pg_engine, "before_cursor_execute", seen)
    try:
        result = cleanup_old_sessions(pg_engine, batch_size=2, batch_time=0, now=NOW)
    finally:
        event.remove(pg_engine, "before_cursor_execute", seen)
    assert [t.batches for t in result.tables] == [5, 5]
    # Per table: the first batch's statement, then one for every later batch (the sixth
    # finds nothing left).
    assert len(executed) == 2 * 6 and len(set(executed)) == 2 * 2


def test_old_days_go_in_runs_of_whole_days_without_reading_every_event_first(
    pg_engine: Engine,
) -> None:
    add_days(pg_engine, FIRST, 6, per_day=12)
    add_days(pg_engine, date(2026, 6, 1), 1, per_day=5)  # recent: kept
    before = figures(pg_engine)
    with sent(pg_engine) as statements:
        result = cleanup_old_analytics(pg_engine, batch_size=24, batch_time=0, now=NOW)
    assert result.purge is not None
    assert (result.purge.deleted, result.purge.batches, result.kept) == (72, 3, 0)
    deletes = [s for s, _ in statements if s.startswith('DELETE FROM "analytics_events"')]
    assert len(deletes) == 3  # two days per run
    grouped = [s for s, _ in statements if "GROUP BY" in s]
    assert len(grouped) == 3  # each run's check; no inventory of all the old events
    assert figures(pg_engine) == before  # equal figures are not rewritten
    assert count(pg_engine, analytics_events) == 5


def test_a_run_whose_figures_are_off_is_rolled_back_and_done_day_by_day(
    pg_engine: Engine, pg_run_db: Db
) -> None:
    add_days(pg_engine, FIRST, 4, per_day=6)
    late = datetime.combine(FIRST + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    with pg_engine.begin() as conn:  # a late event after its day was aggregated: figures short
        conn.execute(
            insert(analytics_events).values(event_type="click", user_id="late", occurred_at=late)
        )
        over = (daily_analytics.c.day == FIRST + timedelta(days=2)) & (
            daily_analytics.c.event_type == "view"
        )
        conn.execute(update(daily_analytics).where(over).values(event_count=99))
    result = cleanup_old_analytics(pg_run_db, batch_size=1000, batch_time=0, now=NOW)
    assert result.purge is not None
    # One run tried and rolled back, then four days one by one.
    assert result.purge.batches == 4
    assert result.kept == 4 and result.kept_days == [FIRST + timedelta(days=2)]
    assert result.purge.deleted == 6 + 7 + 2 + 6
    got = figures(pg_engine)
    assert got[(FIRST + timedelta(days=1), "click")] == (3, 3)  # the late event counted
    assert got[(FIRST + timedelta(days=2), "view")][0] == 99  # counting more: kept, as it was
    with pg_engine.connect() as conn:
        left = conn.execute(
            select(analytics_events.c.event_type, analytics_events.c.occurred_at)
        ).all()
    assert {(t, at.date()) for t, at in left} == {("view", FIRST + timedelta(days=2))}


def test_a_day_without_figures_is_aggregated_by_the_transaction_deleting_it(
    pg_engine: Engine, pg_run_db: Db
) -> None:
    add_days(pg_engine, FIRST, 2, per_day=6)
    start = datetime.combine(FIRST + timedelta(days=5), datetime.min.time(), tzinfo=UTC)
    with pg_engine.begin() as conn:
        conn.execute(
            insert(analytics_events),
            [{"event_type": "view", "user_id": f"u{i}", "occurred_at": start} for i in range(3)],
        )
    result = cleanup_old_analytics(pg_run_db, batch_size=1000, batch_time=0, now=NOW)
    assert result.purge is not None and result.purge.deleted == 15
    assert result.aggregated_first == [FIRST + timedelta(days=5)]
    assert figures(pg_engine)[(FIRST + timedelta(days=5), "view")] == (3, 3)
    assert count(pg_engine, analytics_events) == 0


def test_a_day_over_the_batch_is_a_run_by_itself_and_a_huge_one_goes_type_by_type(
    pg_engine: Engine,
) -> None:
    add_days(pg_engine, FIRST, 1, per_day=6)  # 6 events, batch 2: a run by itself
    add_days(pg_engine, FIRST + timedelta(days=3), 1, per_day=12)  # over 4 x 2: by type
    with sent(pg_engine) as statements:
        result = cleanup_old_analytics(pg_engine, batch_size=2, batch_time=0, now=NOW)
    assert result.purge is not None and result.purge.deleted == 18
    # The small day: one range delete. The huge day: its two types (4 and 8 events), each
    # over the batch, one transaction each through the careful per-day statement.
    assert result.purge.batches == 1 + 2
    deletes = [s for s, _ in statements if s.startswith('DELETE FROM "analytics_events"')]
    assert len(deletes) == 1
    assert count(pg_engine, analytics_events) == 0


def test_the_purges_leave_the_pooled_connection_at_the_jobs_own_lock_timeout(
    pg_db_url: str, pg_engine: Engine
) -> None:
    """The 50 ms row-lock wait is the purge connection's, for the purge only."""
    from cronjobs.database import connect
    from cronjobs.settings import parse_database_url

    insert_sessions(pg_engine, [(1, OLD, None)], messages_per_session=1)
    add_days(pg_engine, FIRST, 1, per_day=3)
    engine = connect(parse_database_url(pg_db_url), lock_timeout=7)
    try:
        cleanup_old_sessions(engine, now=NOW)
        cleanup_old_analytics(engine, now=NOW)
        with engine.connect() as conn:  # the pool hands back the connection the purges used
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "7s"
    finally:
        engine.dispose()
    assert count(pg_engine, chat_sessions) == 0 and count(pg_engine, analytics_events) == 0


def test_old_days_are_utc_days_whatever_the_sessions_time_zone(pg_engine: Engine) -> None:
    from cronjobs.builtin.analytics_ranges import old_days
    from cronjobs.retention.tables import DEFAULT_TABLES

    with pg_engine.begin() as conn:
        conn.execute(
            insert(analytics_events),
            [
                {"event_type": "view", "user_id": "u", "occurred_at": at}
                for at in (
                    datetime(2025, 1, 1, 23, 30, tzinfo=UTC),
                    datetime(2025, 1, 2, 2, 0, tzinfo=UTC),
                    datetime(2025, 1, 4, 0, 0, tzinfo=UTC),
                )
            ],
        )
    cutoff = datetime(2025, 2, 1, tzinfo=UTC)
    for zone in ("UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata"):
        with pg_engine.connect() as conn:
            conn.exec_driver_sql(f"SET statement_timeout = '5s'; SET TimeZone = '{zone}'")
            days = old_days(conn, DEFAULT_TABLES, cutoff)
            conn.rollback()
        assert days == [date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 4)], zone


def test_the_analytics_cutoff_is_a_utc_midnight_even_without_whole_days(
    pg_engine: Engine, pg_run_db: Db
) -> None:
    """A rules file may leave out `whole_days`: the job still deletes whole UTC days only, so
    nothing at or after the cutoff goes with its day."""
    from dataclasses import replace

    from cronjobs.retention.tables import ANALYTICS_EVENTS

    cutoff_day = (NOW - timedelta(days=365)).date()
    start = datetime.combine(cutoff_day, datetime.min.time(), tzinfo=UTC)
    with pg_engine.begin() as conn:
        conn.execute(
            insert(analytics_events),
            [
                {"event_type": "view", "user_id": "u", "occurred_at": start + timedelta(hours=h)}
                for h in (6, 18)  # before and after NOW's time of day (12:00)
            ],
        )
    rule = replace(ANALYTICS_EVENTS, rule=replace(ANALYTICS_EVENTS.rule, whole_days=False))
    result = cleanup_old_analytics(pg_run_db, now=NOW, rule=rule)
    assert result.cutoff == start
    assert count(pg_engine, analytics_events) == 2


def test_a_big_day_without_figures_goes_a_few_event_types_per_transaction(
    pg_engine: Engine, pg_run_db: Db
) -> None:
    start = datetime.combine(FIRST, datetime.min.time(), tzinfo=UTC)
    with pg_engine.begin() as conn:  # no figures: 6 events of two types, batch of 3
        conn.execute(
            insert(analytics_events),
            [
                {"event_type": kind, "user_id": f"u{i}", "occurred_at": start}
                for kind in ("view", "click")
                for i in range(3)
            ],
        )
    result = cleanup_old_analytics(pg_run_db, batch_size=3, batch_time=0, now=NOW)
    assert result.purge is not None
    assert (result.purge.deleted, result.purge.batches) == (6, 2)
    assert result.aggregated_first == [FIRST]
    assert figures(pg_engine)[(FIRST, "view")] == (3, 3)


def test_a_connection_whose_lock_timeout_cannot_be_reset_is_invalidated() -> None:
    """Never back in the pool at 50 ms: a failed reset closes the connection."""
    from unittest.mock import MagicMock

    from sqlalchemy.exc import OperationalError

    from cronjobs.builtin.analytics_cleanup import reset_lock_timeout
    from cronjobs.dblike import OnSqlAlchemy

    conn = MagicMock()
    conn.exec_driver_sql.side_effect = OperationalError("RESET lock_timeout", {}, Exception("x"))
    reset_lock_timeout(OnSqlAlchemy(conn, autocommit=True))
    conn.invalidate.assert_called_once_with()
    healthy = MagicMock()
    reset_lock_timeout(OnSqlAlchemy(healthy, autocommit=True))
    healthy.exec_driver_sql.assert_called_once()
    assert healthy.exec_driver_sql.call_args.args[0] == "RESET lock_timeout"
    healthy.invalidate.assert_not_called()


def test_a_purge_connection_whose_settings_cannot_be_reset_is_discarded() -> None:
    """cleanup-old-sessions' session settings, likewise: an Engine's connection that cannot be
    reset is invalidated; the run's own Db fails the run (unless it is failing already)."""
    from unittest.mock import MagicMock

    import pytest
    from sqlalchemy.exc import OperationalError

    from cronjobs.dbapi import parse
    from cronjobs.dblike import OnSqlAlchemy
    from cronjobs.retention.purge import _reset

    conn = MagicMock()
    conn.exec_driver_sql.side_effect = OperationalError("RESET lock_timeout", {}, Exception("x"))
    _reset(OnSqlAlchemy(conn, autocommit=True))
    conn.invalidate.assert_called_once_with()
    own = Db(parse("sqlite://"))
    own.execute = MagicMock(side_effect=OperationalError("RESET", {}, Exception("x")))  # type: ignore[method-assign]
    with pytest.raises(OperationalError):
        _reset(own)
    _reset(own, failing=True)  # the run's own error is the one it reports


def test_the_cleanups_run_at_read_committed_whatever_the_databases_default(
    pg_engine: Engine, monkeypatch: Any
) -> None:
    """A database defaulting to REPEATABLE READ would fail a batch on a row the app changed
    meanwhile; the purge and the careful path pin READ COMMITTED, a fast run asks for
    REPEATABLE READ."""
    import cronjobs.builtin.analytics_cleanup as cleanup
    import cronjobs.builtin.analytics_ranges as ranges
    import cronjobs.retention.purge as purge

    with pg_engine.connect() as conn:
        name = conn.exec_driver_sql("SELECT current_database()").scalar()
        conn.exec_driver_sql(
            f"ALTER DATABASE \"{name}\" SET default_transaction_isolation = 'repeatable read'"
        )
        conn.commit()
    pg_engine.dispose()  # new connections take the new default
    seen: dict[str, list[str]] = {"batch": [], "unit": [], "run": []}

    def spy(kind: str, real: Any) -> Any:
        def wrapped(conn: Any, *args: Any, **kwargs: Any) -> Any:
            from cronjobs.dblike import on

            level = on(conn).scalar("SHOW transaction_isolation")
            seen[kind].append(level)
            return real(conn, *args, **kwargs)

        return wrapped

    monkeypatch.setattr(purge, "_range_batch", spy("batch", purge._range_batch))
    monkeypatch.setattr(cleanup, "purge_unit", spy("unit", cleanup.purge_unit))
    monkeypatch.setattr(cleanup, "delete_run", spy("run", ranges.delete_run))
    insert_sessions(pg_engine, [(1, OLD, None)], messages_per_session=1)
    add_days(pg_engine, FIRST, 2, per_day=3)
    start = datetime.combine(FIRST + timedelta(days=5), datetime.min.time(), tzinfo=UTC)
    with pg_engine.begin() as conn:  # a day without figures: the careful path
        conn.execute(
            insert(analytics_events).values(event_type="v", user_id="u", occurred_at=start)
        )
    cleanup_old_sessions(pg_engine, now=NOW)
    cleanup_old_analytics(
        pg_engine, batch_size=6, batch_time=0, now=NOW
    )  # two counted days, then that one
    assert seen["batch"] and set(seen["batch"]) == {"read committed"}
    assert seen["unit"] and set(seen["unit"]) == {"read committed"}
    assert seen["run"] and set(seen["run"]) == {"repeatable read"}
    assert count(pg_engine, chat_sessions) == 0 and count(pg_engine, analytics_events) == 0


def test_a_run_is_counted_on_a_second_connection_in_the_snapshot_of_its_delete(
    pg_engine: Engine, monkeypatch: Any
) -> None:
    """The count runs on another connection while the delete runs, in the deleting
    transaction's own snapshot (exported, then imported): an event committed between the two
    is neither counted nor deleted, so the run still commits whole and the event stays for the
    next run. Counted in a snapshot of its own, it would make the run roll back."""
    import cronjobs.builtin.analytics_ranges as ranges

    add_days(pg_engine, FIRST, 2, per_day=6)
    late = datetime.combine(FIRST, datetime.min.time(), tzinfo=UTC) + timedelta(hours=3)
    real_count = ranges.SnapshotCheck._count

    def count_after_an_insert(self: Any, snapshot: str, days: list[date]) -> tuple[int, int]:
        with pg_engine.begin() as app:  # committed after the export, before the count
            app.execute(
                insert(analytics_events).values(
                    event_type="click", user_id="late", occurred_at=late
                )
            )
        return real_count(self, snapshot, days)

    monkeypatch.setattr(ranges.SnapshotCheck, "_count", count_after_an_insert)
    on: list[tuple[int, str]] = []

    def seen(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        on.append((id(cursor.connection), " ".join(statement.split())))

    event.listen(pg_engine, "before_cursor_execute", seen)
    try:
        result = cleanup_old_analytics(pg_engine, batch_size=100, batch_time=0, now=NOW)
    finally:
        event.remove(pg_engine, "before_cursor_execute", seen)
    assert result.purge is not None
    assert (result.purge.deleted, result.purge.batches, result.kept) == (12, 1, 0)
    with pg_engine.connect() as conn:
        left = conn.execute(
            select(analytics_events.c.user_id, analytics_events.c.occurred_at)
        ).all()
    assert [(user, at) for user, at in left] == [("late", late)]
    deleting = {c for c, s in on if s.startswith('DELETE FROM "analytics_events"')}
    exporting = {c for c, s in on if s == "SELECT pg_export_snapshot()"}
    importing = [c for c, s in on if s.startswith("SET TRANSACTION SNAPSHOT")]
    counting = {c for c, s in on if "unnest(" in s}
    assert len(deleting) == 1 and exporting == deleting
    assert len(importing) == 1 and counting == set(importing) and not counting & deleting


def test_without_a_second_connection_each_run_is_counted_before_its_delete(
    pg_engine: Engine, caplog: Any
) -> None:
    """A pool (or server) that refuses the second connection: the job counts each run on its
    own connection first, and deletes the same."""
    from sqlalchemy import create_engine

    one = create_engine(
        pg_engine.url,
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.2,
        connect_args={"options": "-c TimeZone=UTC"},
    )
    add_days(pg_engine, FIRST, 4, per_day=6)
    try:
        with sent(one) as statements, caplog.at_level("INFO"):
            result = cleanup_old_analytics(one, batch_size=12, batch_time=0, now=NOW)
    finally:
        one.dispose()
    assert result.purge is not None
    assert (result.purge.deleted, result.purge.batches, result.kept) == (24, 2, 0)
    assert "no second connection: each run is counted before its delete" in caplog.messages
    texts = [s for s, _ in statements]
    assert not [s for s in texts if "pg_export_snapshot" in s or "SNAPSHOT" in s]
    checks = [i for i, s in enumerate(texts) if "unnest(" in s]
    deletes = [i for i, s in enumerate(texts) if s.startswith('DELETE FROM "analytics_events"')]
    assert len(checks) == len(deletes) == 2 and all(
        c < d for c, d in zip(checks, deletes, strict=True)
    )
    assert count(pg_engine, analytics_events) == 0


def test_a_held_row_ends_the_count_before_the_run_is_redone_the_careful_way(
    pg_engine: Engine,
) -> None:
    """A delete that fails on a row the app holds: the count on the other connection ends
    first (its connection goes on counting the next runs), the run is redone day by day, and
    the held event's type of that day is left for the next run."""
    add_days(pg_engine, FIRST, 4, per_day=6)
    with pg_engine.connect() as app:
        held = app.execute(
            select(analytics_events.c.id).order_by(analytics_events.c.id).limit(1)
        ).scalar()
        app.execute(
            select(analytics_events.c.id).where(analytics_events.c.id == held).with_for_update()
        )
        with sent(pg_engine) as statements:
            result = cleanup_old_analytics(pg_engine, batch_size=12, batch_time=0, now=NOW)
        app.rollback()
    imports = [s for s, _ in statements if s.startswith("SET TRANSACTION SNAPSHOT")]
    assert len(imports) == 2  # both runs counted on the second connection
    assert result.purge is not None
    # The first run (2 days) rolled back and done day by day, leaving the held event's two
    # clicks of that day; the second run fast, counted on the second connection.
    assert (result.purge.deleted, result.purge.in_use, result.purge.batches) == (22, 2, 3)
    with pg_engine.connect() as conn:
        left = conn.execute(select(analytics_events.c.id, analytics_events.c.event_type)).all()
    assert held in {i for i, _ in left} and [t for _, t in left] == ["click", "click"]


def test_a_run_holds_consecutive_days_only(pg_engine: Engine) -> None:
    """A run's range is exactly its days: a day without events ends the run, so an event
    that lands on such a day meanwhile is neither deleted nor makes the run roll back."""
    add_days(pg_engine, FIRST, 2, per_day=3)
    add_days(pg_engine, FIRST + timedelta(days=3), 1, per_day=3)  # after a day without events
    with sent(pg_engine) as statements:
        result = cleanup_old_analytics(pg_engine, batch_size=1000, batch_time=0, now=NOW)
    assert result.purge is not None
    assert (result.purge.deleted, result.purge.batches) == (9, 2)
    spans = [p for s, p in statements if s.startswith('DELETE FROM "analytics_events"')]
    assert [(p["lo"].date(), p["hi"].date()) for p in spans] == [
        (FIRST, FIRST + timedelta(days=2)),
        (FIRST + timedelta(days=3), FIRST + timedelta(days=4)),
    ]


def test_a_count_that_fails_on_the_second_connection_is_redone_on_the_jobs_own(
    pg_engine: Engine, monkeypatch: Any, caplog: Any
) -> None:
    """The second connection failing to count (here a stand-in raising the error a lock
    wait past 50 ms gives) rolls the run back; it and every later run are counted on the
    job's own connection, and the job succeeds."""
    from sqlalchemy import exc as sa_exc

    import cronjobs.builtin.analytics_ranges as ranges

    add_days(pg_engine, FIRST, 4, per_day=6)
    tried: list[list[date]] = []

    def failing(self: Any, snapshot: str, run: Any) -> tuple[int, int]:
        tried.append(run.days)
        raise sa_exc.OperationalError("SELECT", {}, Exception("lock timeout"))

    monkeypatch.setattr(ranges.SnapshotCheck, "_count", failing)
    with sent(pg_engine) as statements, caplog.at_level("WARNING"):
        result = cleanup_old_analytics(pg_engine, batch_size=12, batch_time=0, now=NOW)
    assert result.purge is not None
    assert (result.purge.deleted, result.purge.batches, result.kept) == (24, 2, 0)
    assert tried == [[FIRST, FIRST + timedelta(days=1)]]  # the first run only
    assert any(m.startswith("the second connection failed") for m in caplog.messages)
    texts = [s for s, _ in statements]
    assert sum(s == "SELECT pg_export_snapshot()" for s in texts) == 1
    assert sum(s.startswith('DELETE FROM "analytics_events"') for s in texts) == 3  # 1 undone
    assert count(pg_engine, analytics_events) == 0


def test_a_second_connection_that_stalls_is_given_up_and_never_holds_up_the_exit(
    pg_engine: Engine, monkeypatch: Any, caplog: Any
) -> None:
    """A connect that hangs (a pooler with no server free, here a stand-in that blocks until
    released): after CONNECT_WAIT the job counts on its own connection, and the hung connect
    is in a daemon thread, so the process can exit while it hangs."""
    import threading

    import cronjobs.builtin.analytics_ranges as ranges

    add_days(pg_engine, FIRST, 2, per_day=6)
    release = threading.Event()
    real_connect = ranges.SnapshotCheck._connect

    def hung(engine: Engine) -> Any:
        release.wait(30)
        return real_connect(engine)

    monkeypatch.setattr(ranges, "CONNECT_WAIT", 0.2)
    monkeypatch.setattr(ranges.SnapshotCheck, "_connect", staticmethod(hung))
    try:
        with caplog.at_level("INFO"):
            result = cleanup_old_analytics(pg_engine, batch_size=100, batch_time=0, now=NOW)
        waiting = [t for t in threading.enumerate() if t.name == "cleanup-check"]
        assert waiting and all(t.daemon for t in waiting)
    finally:
        release.set()
    assert result.purge is not None and (result.purge.deleted, result.purge.batches) == (12, 1)
    assert "no second connection: each run is counted before its delete" in caplog.messages
    for t in waiting:
        t.join(10)
    assert count(pg_engine, analytics_events) == 0
