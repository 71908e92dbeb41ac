"""Jitter (issue 25, 4): a random delay in [0, jitter) before a scheduled run, logged, cut short
by SIGTERM (exit 4, nothing done); only the controller's runs wait; @job(jitter=) and the env."""

from __future__ import annotations

import logging
import threading

import pytest

from cronjobs import chart_values, jitter, registry
from cronjobs.errors import ConfigError, Stopped
from cronjobs.exitcodes import ExitCode


def test_the_delay_is_drawn_below_the_jitter_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> bool:
        slept.append(seconds)
        return False

    with caplog.at_level(logging.INFO, logger="cronjobs.jitter"):
        waited = jitter.wait(60, threading.Event(), draw=lambda: 0.5, sleep=sleep)

    assert waited == slept[0] == 30.0
    assert "jitter: waiting 30 s (a random delay below 60 s)" in caplog.text
    assert jitter.delay(60, lambda: 0.999999) < 60
    assert jitter.delay(60, lambda: 0.0) == 0.0
    assert jitter.delay(0, lambda: 0.5) == 0.0


def test_no_jitter_waits_nothing() -> None:
    def sleep(seconds: float) -> bool:
        raise AssertionError("slept")

    assert jitter.wait(0, threading.Event(), draw=lambda: 0.7, sleep=sleep) == 0.0


def test_sigterm_during_the_delay_ends_the_run_interrupted() -> None:
    stop = threading.Event()

    def sleep(seconds: float) -> bool:
        stop.set()  # the runner's SIGTERM handler sets it
        return True

    with pytest.raises(Stopped, match="before the job started") as e:
        jitter.wait(60, stop, draw=lambda: 0.5, sleep=sleep)
    assert e.value.exit_code == ExitCode.INTERRUPTED


def test_a_set_stop_event_interrupts_the_real_wait() -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(Stopped):
        jitter.wait(3600, stop, draw=lambda: 0.5)  # stop.wait returns at once


def test_the_environment_wins_over_the_registration() -> None:
    assert jitter.seconds(10, {}) == 10
    assert jitter.seconds(10, {jitter.ENV: "45"}) == 45
    with pytest.raises(ConfigError, match="CRONJOBS_JITTER='-5' is not a number of seconds"):
        jitter.seconds(0, {jitter.ENV: "-5"})


def test_only_a_run_the_controller_started_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    stop = threading.Event()
    stop.set()  # would interrupt any wait at once
    monkeypatch.setenv(jitter.ENV, "60")
    monkeypatch.setenv("CRONJOBS_SCHEDULED_AT", "2026-12-01T01:00:00Z")  # cronctl's manual run
    assert jitter.before_run(0, stop) == 0.0
    monkeypatch.delenv("CRONJOBS_SCHEDULED_AT")
    monkeypatch.setenv("CRONJOBS_CRONJOB", "web-cronjobs-sync")
    monkeypatch.setenv("CRONJOBS_JOB_NAME", "web-cronjobs-sync-29891670")  # the controller's
    with pytest.raises(Stopped):
        jitter.before_run(0, stop)


def test_job_registers_a_jitter_and_chart_values_carry_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))

    @registry.job(every="15m", jitter=60)
    def sync_inventory() -> None:
        """Sync the inventory."""

    [entry] = [j for j in registry.registered() if j.command == "sync-inventory"]
    assert entry.jitter == 60
    values = chart_values.values([entry])["jobs"]["sync-inventory"]
    assert values["jitter"] == 60

    with pytest.raises(registry.RegistrationError, match="jitter=-1: give whole seconds"):
        registry.job(every="15m", jitter=-1)(lambda: None)
