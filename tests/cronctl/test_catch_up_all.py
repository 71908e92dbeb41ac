"""resume --catch-up all (issue 25, 3): every tick missed while suspended gets its own Job, through
backfill's path (each carrying its tick, oldest first), the controller's own late run recorded as
handled first so the last tick does not run twice; bounded like backfill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cronjobs.cronctl import backfill
from cronjobs.cronctl.model import SUSPENDED_AT, SUSPENDED_BY
from cronjobs.tick import ANNOTATION
from tests.cronctl.conftest import Cluster, ts
from tests.cronctl.emulator import Outcome

NAME = "web-cronjobs-health-check"
NOW = datetime(2026, 12, 1, 17, 50, 30, tzinfo=UTC)


def _suspended(cluster: Cluster, schedule: str, now: datetime) -> None:
    since = (now - timedelta(hours=3)).replace(second=0)
    cluster.add_cronjob(
        NAME,
        schedule,
        suspend=True,
        deadline=None,
        created=now - timedelta(days=1),
        status={"lastScheduleTime": ts(since)},
        annotations={SUSPENDED_BY: "bob", SUSPENDED_AT: ts(since)},
    )


def test_catch_up_all_previews_then_backfills_every_missed_tick(cluster: Cluster) -> None:
    _suspended(cluster, "0 * * * *", NOW)
    cluster.emulator.job_outcomes[cluster.namespace] = Outcome("Succeeded", gets=1)
    controller = cluster.controller(clock=lambda: NOW)

    [plan] = controller.resume((NAME,), catch_up="all", dry_run=True)
    assert plan.catch_up is not None
    assert plan.catch_up.lines()[-1] == (
        "--catch-up all: cronctl backfills the 3 missed ticks, one Job each with its tick, "
        "oldest first, one at a time (recording the controller's late run as handled first)"
    )
    assert cluster.jobs() == []

    [change] = controller.resume((NAME,), catch_up="all")

    assert change.warning is None
    jobs = cluster.jobs()
    ticks = sorted(j["spec"]["template"]["metadata"]["annotations"][ANNOTATION] for j in jobs)
    assert ticks == ["2026-12-01T15:00:00Z", "2026-12-01T16:00:00Z", "2026-12-01T17:00:00Z"]
    assert {j["metadata"]["annotations"][backfill.TRIGGER] for j in jobs} == {"backfill"}
    assert change.catch_up is not None and len(change.catch_up.jobs) == 3
    cronjob = cluster.cronjob(NAME)
    assert cronjob["spec"]["suspend"] is False
    # The controller's own late run (17:00) is recorded as handled: it starts no second one.
    assert cronjob["status"]["lastScheduleTime"] == "2026-12-01T17:00:00Z"


def test_catch_up_all_beyond_the_bound_is_refused_and_changes_nothing(cluster: Cluster) -> None:
    _suspended(cluster, "* * * * *", datetime.now(UTC))  # 180 missed ticks, over 100

    result = cluster.run("resume", NAME, "--catch-up", "all")

    assert result.exit_code == 2
    assert "missed 180 ticks, more than --catch-up all backfills (100)" in result.stderr
    assert cluster.cronjob(NAME)["spec"]["suspend"] is True
    assert cluster.jobs() == []
