"""`cronctl explain`: every tick matched to its Job, each missed one with the controller's reason.

Each history is what the emulated CronJob controller (emulator.simulate_controller: an emulation
of pkg/controller/cronjob's syncCronJob) leaves behind for a scenario: an outage, a run that
outlasts the interval under Forbid, a suspension, more than 100 missed ticks. Times are relative
to now; assertions are on ticks and reasons, never on elapsed time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cronjobs.cronctl.model import SUSPEND_REASON, SUSPENDED_AT, SUSPENDED_BY
from tests.cronctl.conftest import Cluster, ts
from tests.cronctl.emulator import simulate_controller

NAME = "web-cronjobs-health-check"


def minute_now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def seeded(cluster: Cluster, schedule: str, now: datetime, **scenario: Any) -> dict[str, Any]:
    """A CronJob created 3 hours ago that keeps 500 Jobs, and its controller's history."""
    options = {k: scenario.pop(k) for k in ("deadline", "policy", "suspend") if k in scenario}
    annotations = scenario.pop("annotations", None)
    cj = cluster.add_cronjob(
        NAME,
        schedule,
        created=now - timedelta(hours=3),
        keep=(500, 500),
        annotations=annotations,
        **options,
    )
    cluster.add_history(cj, simulate_controller(cj, now, **scenario))
    return cj


def explain_json(cluster: Cluster, *args: str) -> dict[str, Any]:
    result = cluster.run("explain", NAME, "-o", "json", *args)
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def missed(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["at"], m["reason"]) for m in data["missed"]]


def at(t: datetime) -> str:
    return ts(t)


def test_an_outage_past_the_starting_deadline(cluster: Cluster) -> None:
    now = minute_now()
    start = now.replace(minute=now.minute - now.minute % 10) - timedelta(minutes=100)
    down = [(start - timedelta(minutes=5), start + timedelta(minutes=35))]  # 4 ticks
    seeded(cluster, "*/10 * * * *", now, deadline=300, down=down)

    data = explain_json(cluster)

    outage = [start + timedelta(minutes=m) for m in (0, 10, 20, 30)]
    assert missed(data) == [(at(t), "deadline") for t in outage]
    assert data["missed"][0]["detail"] == (
        f"the controller acted next at {at(start + timedelta(minutes=40))}, past "
        "startingDeadlineSeconds=300"
    )
    assert data["counts"]["missed"] == 4 and data["counts"]["unknown"] == 0
    assert data["advice"].startswith("Check kube-controller-manager")

    text = cluster.run("explain", NAME)
    assert text.exit_code == 0, text.stderr
    row = f"{outage[0]:%Y-%m-%d %H:%M} UTC .. {outage[-1]:%Y-%m-%d %H:%M} UTC   4       deadline"
    assert row in text.stdout
    assert "deadline: past startingDeadlineSeconds when the controller could start it" in (
        text.stdout
    )
    assert text.stdout.rstrip().splitlines()[-1].startswith("What to do: Check kube-controller")


def test_an_outage_without_deadline_starts_only_the_newest_missed_tick_late(
    cluster: Cluster,
) -> None:
    now = minute_now()
    start = now.replace(minute=now.minute - now.minute % 10) - timedelta(minutes=100)
    back = start + timedelta(minutes=35)
    seeded(cluster, "*/10 * * * *", now, deadline=None, down=[(start - timedelta(minutes=5), back)])

    data = explain_json(cluster)

    assert missed(data) == [(at(start + timedelta(minutes=m)), "controller") for m in (0, 10, 20)]
    assert data["missed"][0]["detail"] == (
        f"no controller action until {at(back)}; then only the newest tick starts"
    )
    late = [t for t in data["ticks"] if t["outcome"] == "late"]
    assert [(t["at"], t["detail"]) for t in late] == [
        (at(start + timedelta(minutes=30)), "started 5m after the tick")
    ]


def test_a_run_that_outlasts_the_interval_under_forbid(cluster: Cluster) -> None:
    now = minute_now()
    slow = now.replace(minute=now.minute - now.minute % 10) - timedelta(minutes=50)
    seeded(
        cluster,
        "*/10 * * * *",
        now,
        deadline=300,
        policy="Forbid",
        long_runs={slow: timedelta(minutes=27)},
    )

    data = explain_json(cluster)

    blocked = [slow + timedelta(minutes=m) for m in (10, 20)]
    assert missed(data) == [(at(t), "forbid") for t in blocked]
    job = f"{NAME}-{int(slow.timestamp()) // 60}"
    assert data["missed"][0]["detail"] == (
        f"Job {job} was active (until {at(slow + timedelta(minutes=27))}); when it ended the "
        "tick was past startingDeadlineSeconds=300"
    )
    assert [e["reason"] for e in data["events"]].count("JobAlreadyActive") >= 1
    assert data["advice"].startswith("Runs overlap under Forbid")
    text = cluster.run("explain", NAME).stdout
    assert "JobAlreadyActive" in text and "forbid: a run was still active" in text


def test_suspended_ticks_say_since_when_by_whom_and_why(cluster: Cluster) -> None:
    now = minute_now()
    since = now - timedelta(minutes=47)
    annotations = {
        SUSPENDED_BY: "alice",
        SUSPENDED_AT: ts(since),
        SUSPEND_REASON: "restoring a backup",
    }
    seeded(
        cluster,
        "*/10 * * * *",
        now,
        suspend=True,
        deadline=None,
        annotations=annotations,
        suspended=[(since, None)],
    )

    data = explain_json(cluster, "--since", "2h")

    assert missed(data) == []  # skipped while suspended, not missed
    skipped = [t for t in data["ticks"] if t["outcome"] == "skipped"]
    assert len(skipped) in (4, 5) and data["counts"]["skipped"] == len(skipped)  # last 47 min
    assert {t["reason"] for t in skipped} == {"suspended"}
    assert skipped[0]["detail"] == f"while suspended since {ts(since)} by alice: restoring a backup"
    since_2h = datetime.fromisoformat(data["since"]) - (now - timedelta(hours=2))
    assert timedelta(0) <= since_2h < timedelta(minutes=2)  # --since 2h: 2 hours back
    assert data["advice"] == (
        f"Resume it when ready: `cronctl resume {NAME}` (it has no startingDeadlineSeconds: the "
        "newest missed tick would start at once)."
    )
    assert data["counts"]["ran"] >= 6  # the ticks of the 73 minutes before


def test_more_than_100_missed_ticks(cluster: Cluster) -> None:
    now = minute_now()
    down = [(now - timedelta(minutes=150), now - timedelta(minutes=30))]
    seeded(cluster, "* * * * *", now, deadline=None, down=down)

    data = explain_json(cluster)

    reasons = {reason for _, reason in missed(data)}
    assert reasons == {"too-many-missed"}
    # Every tick of the outage [now-150m, now-30m); back at a tick, it started that one.
    assert len(data["missed"]) == 120
    assert any(e["reason"] == "TooManyMissedTimes" for e in data["events"])
    assert data["advice"] == (
        "Set or lower startingDeadlineSeconds, and check the controller's clock."
    )


def test_ticks_older_than_the_kept_jobs_are_unknown_not_missed(cluster: Cluster) -> None:
    """With the chart's history limits (3 succeeded, 1 failed) and Events expired, a tick
    older than the oldest kept Job may have run: it is unknown, never "missed"."""
    now = minute_now()
    cj = cluster.add_cronjob(NAME, "*/10 * * * *", created=now - timedelta(hours=3))
    history = simulate_controller(cj, now, event_ttl=timedelta(0))
    cluster.add_history(cj, history)

    data = explain_json(cluster)

    assert data["counts"]["missed"] == 0
    assert data["counts"]["ran"] == 3 and data["counts"]["unknown"] >= 14
    assert data["advice"].startswith("Nothing to do")


def test_last_failure_reason_exit_code_and_summary(cluster: Cluster) -> None:
    now = minute_now()
    tick = now.replace(minute=now.minute - now.minute % 10) - timedelta(minutes=20)
    cj = seeded(cluster, "*/10 * * * *", now, failed={tick})
    job = f"{NAME}-{int(tick.timestamp()) // 60}"
    summary = {
        "job": "health-check",
        "run_id": "7f3a",
        "exit_code": 2,
        "outcome": "configuration error",
        "counts": {},
        "duration_seconds": 0.4,
    }
    cluster.add_pod(
        job, f"{job}-abcde", "", "Failed", cronjob=cj, exit_code=2, message=json.dumps(summary)
    )

    data = explain_json(cluster)

    failure = data["last_failure"]
    assert failure["name"] == job and failure["reason"] == "BackoffLimitExceeded"
    assert failure["exit_code"] == 2 and failure["summary"] == summary
    assert failure["exit_meaning"] == (
        "USAGE: Usage or configuration error: a wrong flag, a missing or malformed setting"
    )
    text = cluster.run("explain", NAME).stdout
    assert f"Last failure: {job}, " in text
    assert "  Reason: BackoffLimitExceeded (Job has reached the specified backoff limit)" in text
    assert "  Exit code: 2 (USAGE: Usage or configuration error" in text
    assert "  Result: in 0.4s (run 7f3a)" in text
    assert f"Warning   BackoffLimitExceeded   Job/{job}" in text
    # The newest run succeeded: the failure is shown, but there is nothing left to fix.
    assert data["advice"].startswith("Nothing to do")


def test_explain_json_shape_and_requests(cluster: Cluster) -> None:
    now = minute_now()
    seeded(cluster, "*/30 * * * *", now)
    calls = cluster.emulator.calls
    before = len(calls)

    data = explain_json(cluster)

    assert list(data) == [
        "name",
        "namespace",
        "schedule",
        "time_zone",
        "suspended",
        "since",
        "counts",
        "missed",
        "ticks",
        "last_failure",
        "streak",
        "ledger",
        "events",
        "advice",
    ]
    assert list(data["ticks"][0]) == ["at", "outcome", "job", "reason", "detail"]
    assert list(data["events"][0]) == ["at", "type", "reason", "message", "object", "count"]
    paths = [p.split("?")[0].rsplit("/", 1)[-1] for _, p in calls[before:]]
    assert paths == [NAME, "jobs", f"{NAME}-runs", "pods", "events", "events"]
    assert any("fieldSelector=involvedObject.kind%3DCronJob" in p for _, p in calls[before:])


def test_explain_needs_the_events_permission(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)
    with cluster.emulator.deny("list", "/events"):
        result = cluster.run("explain", NAME)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        'Error: forbidden: cronctl needs the "list" verb on "events" (the core API group) in '
        f'namespace "{cluster.namespace}"'
    )


def test_unexpected_job_warnings_for_manual_runs_are_routine(cluster: Cluster) -> None:
    """The real controller warns UnexpectedJob, again and again, for every Job it did not create
    (each manual run, cronctl's and kubectl's): expected, so counted, not listed as a problem."""
    now = minute_now()
    cj = seeded(cluster, "*/30 * * * *", now)
    manual = f"{NAME}-manual-261206120000-x7kq"
    cluster.add_job(cj, manual, manual=True, started=now - timedelta(minutes=20))
    message = f"Saw a job that the controller did not create or forgot: {manual}"
    for minutes in (19, 12, 5):
        cluster.add_event(
            "CronJob", NAME, "UnexpectedJob", message, now - timedelta(minutes=minutes)
        )

    text = cluster.run("explain", NAME).stdout
    data = explain_json(cluster)

    assert "UnexpectedJob" not in text
    assert "routine: created, completed, deleted, manual runs the controller did not create" in text
    assert [e["reason"] for e in data["events"]].count("UnexpectedJob") == 3  # still listed
    assert data["advice"].startswith("Nothing to do")
