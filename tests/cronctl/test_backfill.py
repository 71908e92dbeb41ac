"""cronctl backfill: the ticks of the range oldest first, one Job each carrying its tick, one at a
time, resumable, bounded; --dry-run creates nothing. Against the emulator (no API server here)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cronjobs.cronctl import backfill, claim, model
from cronjobs.tick import ANNOTATION
from tests.cronctl.conftest import Cluster
from tests.cronctl.emulator import Outcome

NAME = "web-cronjobs-aggregate-daily-analytics"


def _tick(job: dict[str, Any]) -> str:
    return str(job["spec"]["template"]["metadata"]["annotations"][ANNOTATION])


def test_ticks_across_a_dst_change_follow_the_time_zone(cluster: Cluster) -> None:
    # Noon in New York: 17:00Z before the spring-forward of 2026-03-08, 16:00Z from that day.
    cluster.add_cronjob(NAME, "0 12 * * *", time_zone="America/New_York")
    cluster.emulator.job_outcomes[cluster.namespace] = Outcome("Succeeded", gets=1)

    result = cluster.run(
        "backfill", NAME, "--from", "2026-03-06T00:00Z", "--to", "2026-03-09T23:59Z", "--wait"
    )

    assert result.exit_code == 0, result.stderr
    jobs = sorted(cluster.jobs(), key=_tick)
    assert [_tick(j) for j in jobs] == [
        "2026-03-06T17:00:00Z",
        "2026-03-07T17:00:00Z",
        "2026-03-08T16:00:00Z",
        "2026-03-09T16:00:00Z",
    ]
    first = jobs[0]
    minutes = int(datetime(2026, 3, 6, 17, tzinfo=UTC).timestamp()) // 60
    assert first["metadata"]["name"] == f"{NAME}-bf-{minutes}"
    assert first["metadata"]["annotations"][backfill.TRIGGER] == "backfill"
    assert all(model.job_result(j) == "Succeeded" for j in jobs)
    assert result.stdout.splitlines()[0].startswith("2026-03-06T17:00:00Z")


def test_rerun_after_an_interruption_skips_the_ticks_done(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, "0 * * * *")
    cluster.emulator.job_outcomes[cluster.namespace] = Outcome("Succeeded", gets=1)
    start, end = datetime(2026, 11, 1, 0, tzinfo=UTC), datetime(2026, 11, 1, 4, tzinfo=UTC)
    c = cluster.controller()
    busy: list[int] = []
    create = c.api.create

    def spy(resource: str, namespace: str, obj: dict[str, Any]) -> Any:
        cj = c.scope.get(NAME)
        busy.append(sum(not model.is_finished(j) for j in c.scope.owned_jobs(cj)))
        return create(resource, namespace, obj)

    c.api.create = spy  # type: ignore[method-assign]
    seen: list[str] = []

    def interrupt(step: backfill.Step) -> None:
        seen.append(step.job)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill.run(c.scope, NAME, start, end, on_step=interrupt, wait=True)
    assert len(cluster.jobs()) == 2

    again = backfill.run(c.scope, NAME, start, end, wait=True)

    assert [s.state for s in again.steps] == ["done", "done"] + ["succeeded"] * 3
    names = [j["metadata"]["name"] for j in cluster.jobs()]
    assert len(names) == len(set(names)) == 5
    assert [s.job for s in again.steps[:2]] == seen
    assert busy == [0] * 5  # never created while another Job of the CronJob ran


def test_a_range_beyond_max_is_refused_and_creates_nothing(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, "0 * * * *")

    result = cluster.run(
        "backfill", NAME, "--from", "2026-11-01T00:00Z", "--to", "2026-11-01T05:00Z", "--max", "5"
    )

    assert result.exit_code == 2
    assert "Error: the range holds more than 5 ticks" in result.stderr
    assert "raise --max" in result.stderr
    assert cluster.jobs() == []


def test_dry_run_lists_ticks_and_job_names_and_creates_nothing(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, "30 2 * * *")

    result = cluster.run(
        "backfill", NAME, "--from", "2026-11-01T00:00Z", "--to", "2026-11-02T23:00Z", "--dry-run"
    )

    assert result.exit_code == 0, result.stderr
    minutes = int(datetime(2026, 11, 1, 2, 30, tzinfo=UTC).timestamp()) // 60
    assert result.stdout.splitlines() == [
        f"2026-11-01T02:30:00Z  job.batch/{NAME}-bf-{minutes} planned (dry run)",
        f"2026-11-02T02:30:00Z  job.batch/{NAME}-bf-{minutes + 1440} planned (dry run)",
    ]
    assert cluster.jobs() == []


def test_a_failed_job_stops_the_backfill_and_says_how_to_retry(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, "0 * * * *")
    cluster.emulator.job_outcomes[cluster.namespace] = Outcome("Failed", gets=1)

    result = cluster.run(
        "backfill", NAME, "--from", "2026-11-01T00:00Z", "--to", "2026-11-01T02:00Z"
    )

    assert result.exit_code == 1
    assert len(cluster.jobs()) == 1
    assert "failed: the later ticks were not started" in result.stderr
    assert "kubectl delete job" in result.stderr


def test_job_names_fit_63_characters() -> None:
    long_name = "web-cronjobs-" + "x" * 39  # 52: the chart's maximum
    name = backfill.job_name(long_name, datetime(2026, 11, 1, tzinfo=UTC))
    assert len(name) <= 63
    assert name.endswith("-bf-" + str(int(datetime(2026, 11, 1, tzinfo=UTC).timestamp()) // 60))
    assert model.valid_job_name(name)


def test_backfill_waits_for_a_running_scheduled_job_first(cluster: Cluster) -> None:
    cronjob = cluster.add_cronjob(NAME, "0 * * * *")
    cluster.emulator.job_outcomes[cluster.namespace] = Outcome("Succeeded", gets=1)
    scheduled = f"{NAME}-29891670"
    cluster.add_job(cronjob, scheduled, "Running")
    cluster.add_pod(scheduled, f"{scheduled}-x7k2p", "", "Running", cronjob=cronjob)
    cluster.emulator.running[(cluster.namespace, scheduled)] = 3  # finishes on the 3rd GET
    c = cluster.controller()
    create = c.api.create
    states: list[str] = []

    def spy(resource: str, namespace: str, obj: dict[str, Any]) -> Any:
        job = c.api.get("batch/jobs", cluster.namespace, scheduled)
        states.append(model.job_result(job))
        return create(resource, namespace, obj)

    c.api.create = spy  # type: ignore[method-assign]
    start = datetime(2026, 11, 1, 0, tzinfo=UTC)

    result = backfill.run(c.scope, NAME, start, start, wait=True)

    assert [s.state for s in result.steps] == ["succeeded"]
    assert states == ["Succeeded"]  # created only once the scheduled run had finished


def test_backfill_respects_a_triggers_claim_and_leaves_its_own(cluster: Cluster) -> None:
    """Under Forbid, backfill takes the claim `cronctl trigger` takes (cronjobs.cronctl.claim)."""
    busy = claim.Claim(f"{NAME}-manual-261101000000-x7kq", datetime.now(UTC), "bob")
    cluster.add_cronjob(NAME, "0 * * * *", annotations={claim.CLAIM: busy.to_annotation()})
    cluster.emulator.job_outcomes[cluster.namespace] = Outcome("Succeeded", gets=1)
    start = datetime(2026, 11, 1, 0, tzinfo=UTC)

    refused = cluster.run(
        "backfill", NAME, "--from", "2026-11-01T00:00Z", "--to", "2026-11-01T00:00Z"
    )

    assert refused.exit_code == 3
    assert "a trigger by bob" in refused.stderr
    assert cluster.jobs() == []

    done = claim.Claim(busy.job, busy.at, "bob", created=True)
    cronjob = cluster.cronjob(NAME)
    cronjob["metadata"]["annotations"][claim.CLAIM] = done.to_annotation()
    cluster.server.put("batch/v1/cronjobs", cluster.namespace, cronjob)
    result = backfill.run(cluster.controller().scope, NAME, start, start, wait=True)

    assert [s.state for s in result.steps] == ["succeeded"]
    mine = claim.read(cluster.cronjob(NAME))
    assert mine is not None and mine.job == result.steps[0].job and mine.created


def test_history_names_a_backfilled_run_backfill(cluster: Cluster) -> None:
    """cronctl's own trigger annotation names the run's trigger in history (not "manual")."""
    cj = cluster.add_cronjob(NAME)
    job = model.build_manual_job(cj, f"{NAME}-bf-1", triggered_by="ana")
    job["metadata"]["annotations"][model.TRIGGER] = "backfill"
    cluster.server.put("batch/v1/jobs", cluster.namespace, job)
    [run] = cluster.controller().history(NAME)
    assert run.trigger == "backfill"
