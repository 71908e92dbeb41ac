"""A suspension that has ended still explains its ticks: cronctl's own history annotation says
when it was suspended and resumed, by whom and why, so those ticks are "skipped while suspended",
not blamed on the controller, and `list` does not count them MISSED.

The suspend and resume are cronctl's own (the controller API with a fixed clock); the CronJob
controller's history around them comes from emulator.simulate_controller. Times are relative to
now; assertions are on ticks and reasons, never on elapsed time.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.cronctl.conftest import Cluster, ts
from tests.cronctl.emulator import simulate_controller

NAME = "web-cronjobs-health-check"


def floor(t: datetime, minutes: int) -> datetime:
    return t.replace(minute=t.minute - t.minute % minutes, second=0, microsecond=0)


def at(t: datetime) -> Any:
    return lambda: t


def explain(cluster: Cluster) -> dict[str, Any]:
    result = cluster.run("explain", NAME, "-o", "json", "--since", "3h")
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_ticks_of_an_ended_suspension_are_skipped_not_missed(cluster: Cluster) -> None:
    now = datetime.now(UTC)
    base = floor(now, 10) - timedelta(minutes=10)
    suspended, resumed = base - timedelta(minutes=97), base - timedelta(minutes=44)
    cj = cluster.add_cronjob(
        NAME, "*/10 * * * *", created=now - timedelta(hours=3), keep=(500, 500)
    )
    # The controller ran every tick until the suspension (its Events long expired)...
    before = simulate_controller(cj, suspended, event_ttl=timedelta(0))
    cluster.add_history(cj, before)
    assert (
        cluster.controller(clock=at(suspended))
        .suspend((NAME,), who="alice", reason="db migration")[0]
        .changed
    )
    assert cluster.controller(clock=at(resumed)).resume((NAME,), who="bob")[0].changed
    # ... and every tick since the resume (6 minutes after a tick: past the 300 s deadline,
    # so it started no late run).
    live = cluster.cronjob(NAME)
    after = simulate_controller(
        {**copy.deepcopy(live), "metadata": {**live["metadata"], "creationTimestamp": ts(resumed)}},
        now,
    )
    cluster.add_history(live, after)

    data = explain(cluster)

    skipped = [t for t in data["ticks"] if t["outcome"] == "skipped"]
    assert [t["at"] for t in skipped] == [
        ts(base - timedelta(minutes=m)) for m in (90, 80, 70, 60, 50)
    ]
    assert skipped[0]["reason"] == "suspended"
    assert skipped[0]["detail"] == (
        f"while suspended from {ts(suspended)} to {ts(resumed)} by alice: db migration "
        "(resumed by bob)"
    )
    assert data["missed"] == [] and data["counts"]["missed"] == 0
    assert data["counts"]["skipped"] == 5
    assert "kube-controller-manager" not in data["advice"]
    assert data["advice"] == (
        "Nothing to do: every tick in the window that can be judged ran or was skipped while "
        "suspended, and no run failed."
    )
    text = cluster.run("explain", NAME, "--since", "3h").stdout
    assert "5 skipped while suspended" in text
    assert "Skipped while suspended (the controller starts nothing meanwhile):" in text
    listed = json.loads(cluster.run("list", "-o", "json").stdout)
    assert listed[0]["missed"] == 0


def test_the_tick_resume_catch_up_none_marked_is_skipped_too(cluster: Cluster) -> None:
    """`--catch-up none` writes the newest missed tick to status.lastScheduleTime so that the
    controller starts none: no Job ran for it, and it was no miss either."""
    tick = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)
    schedule = f"{tick.minute} {tick.hour} * * *"  # daily, last due 3 minutes ago
    cj = cluster.add_cronjob(NAME, schedule, created=tick - timedelta(days=2, hours=1))
    cluster.add_history(cj, simulate_controller(cj, tick - timedelta(days=1, minutes=-5)))
    suspended = tick - timedelta(days=1) + timedelta(minutes=5)
    cluster.controller(clock=at(suspended)).suspend((NAME,), who="alice", reason="migration")
    change = cluster.controller(clock=at(tick + timedelta(minutes=2))).resume(
        (NAME,), who="bob", catch_up="none"
    )[0]
    assert change.catch_up is not None and change.catch_up.controller_starts == tick
    assert cluster.cronjob(NAME)["status"]["lastScheduleTime"] == ts(tick)

    data = explain(cluster)

    (last,) = [t for t in data["ticks"] if t["at"] == ts(tick)]
    assert last["outcome"] == "skipped" and last["job"] is None
    assert "(resumed by bob); `resume --catch-up none` recorded it as handled" in last["detail"]
    assert data["missed"] == []


def test_a_job_the_values_suspend_is_skipped_by_the_charts_values(cluster: Cluster) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    cluster.add_cronjob(
        NAME,
        "*/10 * * * *",
        suspend=True,
        created=now - timedelta(hours=1),
        annotations={"cronctl.cronjobs.dev/values-suspend": "true"},
    )

    data = explain(cluster)

    skipped = [t for t in data["ticks"] if t["outcome"] == "skipped"]
    assert skipped and data["missed"] == []
    assert skipped[0]["detail"] == "while suspended since an unknown time by the chart's values"
