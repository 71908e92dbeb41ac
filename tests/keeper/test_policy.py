"""The keeper's policies as pure decisions, with an injected clock: pause after N failures (a
resume clears the streak), blackout windows (suspend, then restore exactly what the keeper
suspended, crash or not), maxDuration, and the two flags."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cronjobs.cronctl import model
from cronjobs.keeper import policy
from cronjobs.keeper.ledger import Entry

NOW = datetime(2026, 12, 5, 2, 30, tzinfo=UTC)  # a Saturday


def cronjob(values: dict[str, Any] | None = None, suspended: bool = False, **notes: str) -> Any:
    annotations = dict(notes)
    if values is not None:
        annotations[policy.POLICY] = json.dumps(values)
    return {
        "metadata": {"name": "maint-cronjobs-x", "namespace": "m", "annotations": annotations},
        "spec": {"schedule": "0 * * * *", "suspend": suspended},
    }


def runs(*results: str, start: datetime = NOW - timedelta(hours=10), **kw: Any) -> list[Entry]:
    return [
        Entry(
            uid=f"u{i}",
            job=f"j{i}",
            result=r,
            trigger="scheduled",
            started=model.iso(start + timedelta(hours=i)),
            finished=model.iso(start + timedelta(hours=i, minutes=1)),
            **kw,
        )
        for i, r in enumerate(results)
    ]


def kinds(actions: list[policy.Action]) -> list[tuple[str, str]]:
    return [(a.kind, a.reason) for a in actions]


def test_pause_after_n_consecutive_failures() -> None:
    cj = cronjob({"pauseAfterFailures": 3})
    assert (
        policy.decide(cj, runs("Failed", "Failed", "Succeeded", "Failed", "Failed"), [], NOW) == []
    )
    actions = policy.decide(cj, runs("Succeeded", "Failed", "Failed", "Failed"), [], NOW)
    assert kinds(actions) == [("suspend", "paused after 3 consecutive failed runs")]
    # Already suspended: nothing more to do.
    assert (
        policy.decide(cronjob({"pauseAfterFailures": 3}, True), runs(*["Failed"] * 3), [], NOW)
        == []
    )


def test_a_resume_clears_the_streak() -> None:
    history = json.dumps(
        [{"action": "resume", "by": "ana", "at": model.iso(NOW - timedelta(hours=8, minutes=30))}]
    )
    cj = cronjob({"pauseAfterFailures": 3}, **{model.HISTORY: history})
    entries = runs("Failed", "Failed", "Failed", "Failed", start=NOW - timedelta(hours=10))
    # Two of the four failures ended before the resume at 18:00 the day before: the streak is 2.
    assert policy.failure_streak(entries, cj) == 2
    assert policy.decide(cj, entries, [], NOW) == []


def test_a_blackout_suspends_then_restores_what_it_suspended() -> None:
    values = {"blackouts": [{"schedule": "0 2 * * 6", "duration": 3600}]}  # Saturdays 02:00-03:00
    actions = policy.decide(cronjob(values), [], [], NOW)
    assert [(a.kind, a.until) for a in actions] == [("suspend", NOW.replace(hour=3, minute=0))]
    # Suspended by the keeper (its mark): nothing while the window lasts, a restore after it.
    mark = {
        policy.BLACKOUT_UNTIL: model.iso(NOW.replace(hour=3, minute=0)),
        model.SUSPENDED_BY: policy.ACTOR,
    }
    assert policy.decide(cronjob(values, True, **mark), [], [], NOW) == []
    later = NOW + timedelta(hours=1)
    assert kinds(policy.decide(cronjob(values, True, **mark), [], [], later)) == [
        ("restore", "the blackout window ended")
    ]


def test_a_blackout_leaves_a_suspension_it_did_not_make() -> None:
    values = {"blackouts": [{"schedule": "0 2 * * 6", "duration": 3600}]}
    assert policy.decide(cronjob(values, True), [], [], NOW) == []  # suspended before: left
    assert policy.decide(cronjob(values, True), [], [], NOW + timedelta(hours=2)) == []


def test_resumed_by_hand_in_a_window_drops_the_mark_only() -> None:
    values = {"blackouts": [{"schedule": "0 2 * * 6", "duration": 3600}]}
    mark = {policy.BLACKOUT_UNTIL: model.iso(NOW.replace(hour=3, minute=0))}
    assert kinds(policy.decide(cronjob(values, False, **mark), [], [], NOW)) == [
        ("unmark", "resumed by hand during the blackout")
    ]
    # Suspended again by an operator on top of the keeper's suspend: theirs now, never resumed.
    theirs = {**mark, model.SUSPENDED_BY: "ana"}
    assert kinds(
        policy.decide(cronjob(values, True, **theirs), [], [], NOW + timedelta(hours=2))
    ) == [("unmark", "suspended by someone else during the blackout")]


def test_max_duration_stops_a_run_that_ran_past_it() -> None:
    active = [
        {"metadata": {"name": "old"}, "status": {"startTime": model.iso(NOW - timedelta(hours=2))}},
        {
            "metadata": {"name": "new"},
            "status": {"startTime": model.iso(NOW - timedelta(minutes=5))},
        },
        {"metadata": {"name": "pending"}, "status": {}},
    ]
    actions = policy.decide(cronjob({"maxDuration": 3600}), [], active, NOW)
    assert [(a.kind, a.target) for a in actions] == [("stop", "old")]


def test_a_slow_run_is_flagged_not_acted_on() -> None:
    entries = runs(*["Succeeded"] * 7)
    entries = [
        Entry(**{**e.__dict__, "duration_seconds": 600.0 if i == 6 else 100.0})
        for i, e in enumerate(entries)
    ]
    actions = policy.decide(cronjob({}), entries, [], NOW)
    assert kinds(actions) == [("flag", "slow: the last run took 600s, 3x more than the usual 100s")]
    assert policy.decide(cronjob({"slowFactor": 10}), entries, [], NOW) == []


def test_runs_that_did_nothing_are_flagged() -> None:
    zero = {"counts": {"deleted": 0, "child_rows": 0}}
    cj = cronjob({"idleRuns": 3})
    assert kinds(policy.decide(cj, runs(*["Succeeded"] * 3, summary=zero), [], NOW)) == [
        ("flag", "did nothing: the last 3 successful runs counted 0 of everything")
    ]
    some = runs("Succeeded", summary={"counts": {"deleted": 4}}) + runs(
        "Succeeded", "Succeeded", summary=zero
    )
    some = [Entry(**{**e.__dict__, "uid": f"x{i}"}) for i, e in enumerate(some)]
    assert policy.decide(cj, some, [], NOW) == []
    assert policy.decide(cj, runs(*["Succeeded"] * 3), [], NOW) == []  # no summary: no verdict


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("{", "is not JSON"),
        ("[1]", "is not a JSON object"),
        (
            json.dumps({"pauseAfterFailures": 0}),
            "pauseAfterFailures must be a number of at least 1",
        ),
        (json.dumps({"pauseAfterFailures": True}), "pauseAfterFailures must be"),
        (
            json.dumps({"blackouts": [{"schedule": "0 2 * * *"}]}),
            "blackouts[0] needs a schedule and a duration",
        ),
    ],
)
def test_an_unreadable_policy_is_a_problem_not_a_crash(raw: str, problem: str) -> None:
    cj = cronjob(None, **{policy.POLICY: raw})
    assert any(problem in p for p in policy.read(cj).problems)
    assert policy.decide(cj, runs("Failed", "Failed", "Failed"), [], NOW) == []
