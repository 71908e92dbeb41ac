"""The keeper's /metrics text: sample values exact (Prometheus reads them as float64)."""

from __future__ import annotations

from datetime import UTC, datetime

from cronjobs.keeper.loop import Pass
from cronjobs.keeper.metrics import Metrics


def test_timestamps_and_durations_are_rendered_exactly() -> None:
    metrics = Metrics(
        last_success={"web-cronjobs-a": 1796571234.0}, last_duration={"web-cronjobs-a": 0.1234567}
    )
    lines = metrics.render().splitlines()
    assert (
        'cronjobs_keeper_last_success_timestamp_seconds{cronjob="web-cronjobs-a"} 1796571234'
        in lines
    )  # `:g` printed 1.79657e+09: the last success moved by hours
    assert 'cronjobs_keeper_last_run_duration_seconds{cronjob="web-cronjobs-a"} 0.1234567' in lines


def test_a_completed_pass_sets_the_gauge_the_stalled_alert_reads() -> None:
    """`last_completed_pass_timestamp_seconds` is 0 until this replica completes a pass as
    leader, then that pass's end (the chart's CronJobsKeeperStalled alert reads it)."""
    metrics = Metrics()
    assert "cronjobs_keeper_last_completed_pass_timestamp_seconds 0" in metrics.render()
    metrics.update(Pass(), datetime(2026, 12, 6, 17, 0, tzinfo=UTC))
    lines = metrics.render().splitlines()
    assert "cronjobs_keeper_last_completed_pass_timestamp_seconds 1796576400" in lines
    assert "# TYPE cronjobs_keeper_last_completed_pass_timestamp_seconds gauge" in lines
