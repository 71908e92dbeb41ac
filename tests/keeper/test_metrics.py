"""The keeper's /metrics text: sample values exact (Prometheus reads them as float64)."""

from __future__ import annotations

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
