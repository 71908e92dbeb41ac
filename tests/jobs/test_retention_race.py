"""cleanup-old-analytics while old events keep arriving (issue 9, item 3), on SQLite and a real
PostgreSQL 15: every raw event the job deletes is counted in daily_analytics when its delete
commits. An event the job does not delete stays raw; so, per day, figures + raw events left ==
events ever inserted, and nothing is deleted uncounted.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, event, func, insert, select, text

from cronjobs.builtin.analytics import aggregate, day_bounds
from cronjobs.builtin.analytics_cleanup import cleanup_old_analytics
from cronjobs.database import connect
from cronjobs.retention.models import analytics_events, daily_analytics
from tests.jobs.helpers import NOW

CUTOFF_DAY = date(2025, 6, 15)  # NOW - 365 days, whole UTC days
WITH_FIGURES = [CUTOFF_DAY - timedelta(days=d) for d in (10, 9, 8)]
WITHOUT_FIGURES = [CUTOFF_DAY - timedelta(days=d) for d in (7, 6)]
LATE_ONLY = CUTOFF_DAY - timedelta(days=20)  # no raw event when the run starts


class Ledger:
    """Every event the test inserts, per UTC day."""

    def __init__(self) -> None:
        self.inserted: Counter[date] = Counter()
        self.lock = threading.Lock()

    def add(self, engine: Engine, day: date, event_type: str = "view", n: int = 1) -> None:
        start, _ = day_bounds(day)
        rows = [
            {"event_type": event_type, "user_id": f"u{i % 3}", "occurred_at": start}
            for i in range(n)
        ]
        with engine.begin() as conn:
            conn.execute(insert(analytics_events), rows)
        with self.lock:
            self.inserted[day] += n


def seed(engine: Engine, ledger: Ledger) -> None:
    for day in WITH_FIGURES + WITHOUT_FIGURES:
        ledger.add(engine, day, "view", 3)
        ledger.add(engine, day, "click", 2)
    aggregate(engine, WITH_FIGURES)


def assert_every_event_counted_or_left(engine: Engine, ledger: Ledger) -> None:
    with engine.connect() as conn:
        counted = dict(
            conn.execute(
                select(daily_analytics.c.day, func.sum(daily_analytics.c.event_count)).group_by(
                    daily_analytics.c.day
                )
            ).all()
        )
        left = Counter(
            datetime.fromisoformat(str(at)).date() if not isinstance(at, datetime) else at.date()
            for at in conn.scalars(select(analytics_events.c.occurred_at))
        )
    for day, n in ledger.inserted.items():
        assert counted.get(day, 0) + left[day] == n, f"{day}: events deleted uncounted"


def test_events_arriving_between_batches_are_counted_or_left(engine: Engine) -> None:
    ledger = Ledger()
    seed(engine, ledger)
    app = connect(str(engine.url.render_as_string(hide_password=False)))
    targets = [*WITH_FIGURES, *WITHOUT_FIGURES, LATE_ONLY]

    # Whenever the job takes a connection for its next transaction, the app inserts one old
    # event into every old day: some already cleaned up, some not yet (the first 8 times, so
    # that a job that deletes whatever old event it finds still ends).
    rounds = iter(range(8))

    def writer(*_: Any) -> None:
        for day in targets if next(rounds, None) is not None else ():
            ledger.add(app, day)

    event.listen(engine.pool, "checkout", writer)
    try:
        result = cleanup_old_analytics(engine, now=NOW, batch_size=2)
    finally:
        event.remove(engine.pool, "checkout", writer)
    app.dispose()
    assert result.purge is not None and result.purge.deleted > 0
    assert_every_event_counted_or_left(engine, ledger)


def test_an_event_arriving_after_its_day_was_cleaned_up_is_kept_and_reported(
    engine: Engine,
) -> None:
    ledger = Ledger()
    seed(engine, ledger)
    first = cleanup_old_analytics(engine, now=NOW)
    assert first.purge is not None and first.purge.deleted == 25 and first.kept == 0
    ledger.add(engine, WITH_FIGURES[0], "view")  # a late import into a day already cleaned up

    dry = cleanup_old_analytics(engine, now=NOW, dry_run=True)
    assert dry.kept == 1 and dry.purge is not None and dry.purge.deleted == 0
    again = cleanup_old_analytics(engine, now=NOW)
    assert again.purge is not None and (again.purge.deleted, again.kept) == (0, 1)
    assert again.kept_days == [WITH_FIGURES[0]]
    assert any(
        line.startswith(f"kept 1 event of 1 day ({WITH_FIGURES[0]}) whose daily figures count")
        for line in again.lines()
    )
    assert_every_event_counted_or_left(engine, ledger)


def test_a_day_the_app_deleted_events_of_is_kept_not_recounted(engine: Engine) -> None:
    ledger = Ledger()
    seed(engine, ledger)
    with engine.begin() as conn:  # the app deletes one counted event (a user's erasure, say)
        first = conn.scalar(select(func.min(analytics_events.c.id)))
        conn.execute(delete(analytics_events).where(analytics_events.c.id == first))
    result = cleanup_old_analytics(engine, now=NOW)
    assert result.purge is not None and result.kept == 2  # that day's two other views
    assert result.purge.deleted == 25 - 1 - 2
    with engine.connect() as conn:
        views = conn.scalar(
            select(daily_analytics.c.event_count).where(
                daily_analytics.c.day == WITH_FIGURES[0], daily_analytics.c.event_type == "view"
            )
        )
    assert views == 3, "the figures were neither recounted down nor counted twice"


def test_a_concurrent_writer_of_old_events(pg_engine: Engine) -> None:
    """A thread inserts old events, one per transaction, while the job runs (up to 600, so
    that a job that deletes whatever old event it finds still ends)."""
    engine, ledger = pg_engine, Ledger()
    for day in [CUTOFF_DAY - timedelta(days=d) for d in range(1, 31)]:
        ledger.add(engine, day, "view", 40)
        ledger.add(engine, day, "click", 30)
    aggregate(engine, [CUTOFF_DAY - timedelta(days=d) for d in range(1, 16)])
    done = threading.Event()

    def writer() -> None:
        for i in range(600):
            if done.is_set():
                break
            ledger.add(engine, CUTOFF_DAY - timedelta(days=1 + i % 32), ("view", "click")[i % 2])

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        result = cleanup_old_analytics(engine, now=NOW, batch_size=50)
    finally:
        done.set()
        thread.join()
    assert result.purge is not None and result.purge.deleted > 0
    assert_every_event_counted_or_left(engine, ledger)


def test_an_event_the_app_holds_leaves_its_type_of_that_day_for_the_next_run(
    pg_engine: Engine,
) -> None:
    ledger = Ledger()
    seed(pg_engine, ledger)
    with pg_engine.connect() as app:
        held = app.scalar(
            text("SELECT id FROM analytics_events WHERE event_type = 'click' ORDER BY id LIMIT 1")
        )
        app.execute(text("SELECT 1 FROM analytics_events WHERE id = :id FOR UPDATE"), {"id": held})
        first = cleanup_old_analytics(pg_engine, now=NOW)
        app.rollback()
    assert first.purge is not None and (first.purge.deleted, first.purge.in_use) == (23, 2)
    assert (
        "analytics_events: deleted 23 rows in 5 batches; 2 rows in use, left for the next run"
        in (first.lines())
    )
    again = cleanup_old_analytics(pg_engine, now=NOW)
    assert again.purge is not None and (again.purge.deleted, again.purge.in_use) == (2, 0)
    assert_every_event_counted_or_left(pg_engine, ledger)
