"""Batch sizes that follow a time budget (issue 27 item 1): the sizing as a pure function with
given times, and on a real PostgreSQL 15 a run with a tiny budget using smaller batches than one
with a large budget (asserted on the sizes the job returns and logs, not on any clock)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from cronjobs.builtin.sessions import cleanup as cleanup_old_sessions
from cronjobs.retention.batch_time import MAX_GROWTH, BatchSizer, next_size
from cronjobs.retention.purge import MIN_BATCH_ROWS
from tests.jobs.helpers import NOW, insert_sessions, invoke

BOUNDS = {"low": 10, "high": 100_000}


def test_a_batch_under_its_budget_grows_and_one_over_it_shrinks() -> None:
    # 1000 rows in 50 ms at a 100 ms budget: 20k rows/s fit 2000 rows.
    assert next_size(1000, 1000, 0.05, 0.1, None, **BOUNDS) == (2000, 20_000)
    # 1000 rows in 400 ms: 2.5k rows/s fit 250.
    assert next_size(1000, 1000, 0.4, 0.1, None, **BOUNDS) == (250, 2_500)
    # On budget: unchanged.
    assert next_size(1000, 1000, 0.1, 0.1, None, **BOUNDS)[0] == 1000


def test_growth_is_at_most_doubling_and_the_bounds_hold() -> None:
    # 1000 rows in 1 ms would fit 100k: at most twice the batch before.
    assert next_size(1000, 1000, 0.001, 0.1, None, **BOUNDS)[0] == 1000 * MAX_GROWTH
    assert next_size(80_000, 80_000, 0.001, 0.1, None, **BOUNDS)[0] == 100_000
    assert next_size(1000, 1000, 50.0, 0.1, None, **BOUNDS)[0] == 10
    assert next_size(1000, 1000, 0.0, 0.1, None, **BOUNDS)[0] == 2000  # too quick to time


def test_the_rate_is_smoothed_but_a_slow_batch_shrinks_the_next_at_once() -> None:
    rate = 10_000.0  # 1000 rows per 100 ms so far
    # One quick batch (40k rows/s) moves the average halfway, not all the way.
    size, average = next_size(1000, 1000, 0.025, 0.1, rate, **BOUNDS)
    assert average == 25_000 and size == 2000
    size, average = next_size(1000, 1000, 0.05, 0.1, rate, **BOUNDS)
    assert average == 15_000 and size == 1500
    # A batch over the budget: its own, lower rate (2k rows/s) becomes the average.
    size, average = next_size(1000, 1000, 0.5, 0.1, rate, **BOUNDS)
    assert average == 2_000 and size == 200


def test_a_zero_budget_or_an_empty_batch_keeps_the_size() -> None:
    assert next_size(5000, 5000, 3.0, 0.0, None, **BOUNDS) == (5000, None)
    assert next_size(5000, 0, 0.2, 0.1, 123.0, **BOUNDS) == (5000, 123.0)
    fixed = BatchSizer(3, 0.0, low=10, high=100)
    assert [fixed.after(3, 9.0) for _ in range(3)] == [3, 3, 3]


def test_a_sizer_follows_a_machine_that_slows_down_and_recovers() -> None:
    """Injected times: 20k rows/s, then 2k rows/s (a loaded machine), then 20k again."""
    sizer = BatchSizer(5000, 0.1, **BOUNDS)
    sizes = []
    for rate in [20_000] * 4 + [2_000] * 4 + [20_000] * 6:
        sizes.append(sizer.size)
        sizer.after(sizer.size, sizer.size / rate)
    assert sizes[:4] == [5000, 2000, 2000, 2000]  # 0.25 s per batch: cut to 0.1 s at once
    assert sizes[4:9] == [2000, 200, 200, 200, 200]  # ten times slower: cut at once, and held
    assert sizes[9:12] == [400, 800, 1600]  # fast again: doubling at most
    assert 1600 < sizes[12] < sizes[13] < 2000  # then closing in on 0.1 s as the average does
    assert sizer.summary() == {
        "batches": 14,
        "budget_seconds": 0.1,
        "smallest": 200,
        "median": (1600 + sizes[12]) // 2,  # of 14: the 7th and 8th smallest
        "largest": 5000,
    }


def test_the_first_size_is_kept_within_the_bounds_only_with_a_budget() -> None:
    assert BatchSizer(500_000, 0.0, **BOUNDS).size == 500_000
    assert BatchSizer(500_000, 0.1, **BOUNDS).size == 100_000


def test_a_tiny_budget_makes_smaller_batches_than_a_large_one(
    pg_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """The same 3,000 old sessions (with messages) deleted from batches of 100: with a budget
    no batch can meet (1 microsecond) every batch after the first is the smallest allowed;
    with one every batch meets (60 s), each batch doubles."""
    old = NOW - timedelta(days=120)
    rows = [(i, old, None) for i in range(1, 3001)]
    sizes: dict[float, list[int]] = {}
    results = {}
    for budget in (1e-6, 60.0):
        insert_sessions(pg_engine, rows, messages_per_session=1)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="cronjobs.retention.purge"):
            result = cleanup_old_sessions(pg_engine, batch_size=100, batch_time=budget, now=NOW)
        chat = result.tables[0]
        assert chat.deleted == 3000 and chat.children_deleted == 3000
        results[budget] = chat
        sizes[budget] = [
            r.size  # type: ignore[attr-defined]
            for r in caplog.records
            if r.message == "batch committed" and r.table == "chat_sessions"  # type: ignore[attr-defined]
        ]
        summary = [r for r in caplog.records if r.message == "batch sizes"]
        assert [r.table for r in summary] == ["chat_sessions", "peptide_info_sessions"]  # type: ignore[attr-defined]
    tiny, large = sizes[1e-6], sizes[60.0]
    assert tiny[0] == 100 and set(tiny[1:]) == {MIN_BATCH_ROWS}
    assert large == [100, 200, 400, 800, 1600]
    assert (results[1e-6].smallest_batch, results[1e-6].largest_batch) == (MIN_BATCH_ROWS, 100)
    assert (results[60.0].smallest_batch, results[60.0].largest_batch) == (100, 1600)
    assert max(tiny) < max(large) and len(tiny) > len(large)


def test_the_budget_is_a_flag_and_a_variable_of_the_deleting_jobs() -> None:
    for command in ("cleanup-old-sessions", "cleanup-old-analytics"):
        shown = invoke(command, "--help")
        assert shown.exit_code == 0
        assert "--batch-time SECONDS" in shown.stdout and "CRONJOBS_BATCH_TIME" in shown.stdout
        bad = invoke(command, "--batch-time", "-1")
        assert bad.exit_code == 2 and "Invalid value for '--batch-time'" in bad.stderr
        bad = invoke(command, env={"CRONJOBS_BATCH_TIME": "nan"})
        assert bad.exit_code == 2 and "not a number of seconds" in bad.stderr
