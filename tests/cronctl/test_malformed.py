"""One odd object must not break everything (issue 23, item 6).

A table of malformed fields, each on one CronJob (or one of its Jobs) next to a healthy one,
through `list` (table and -o json), `describe`, `explain`, `check`: no traceback, the healthy
CronJob shown as usual, the odd one shown with the field that cronctl ignored and why. The
dashboard's page and API get the same table in tests/web/test_malformed.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cronjobs.cronctl.model import HISTORY, SCHEDULED_AT, SUSPENDED_AT, SUSPENDED_UNTIL
from tests.cronctl.conftest import Cluster

GOOD, ODD = "web-cronjobs-good", "web-cronjobs-odd"
Obj = dict[str, Any]


def _annotate(key: str, value: str) -> Callable[[Obj, Obj], None]:
    def change(cj: Obj, job: Obj) -> None:
        cj["spec"]["suspend"] = True
        cj["metadata"]["annotations"][key] = value

    return change


def _set(where: str, path: str, value: Any) -> Callable[[Obj, Obj], None]:
    def change(cj: Obj, job: Obj) -> None:
        obj = cj if where == "cronjob" else job
        *parents, last = path.split(".")
        for key in parents:
            obj = obj.setdefault(key, {})
        obj[last] = value

    return change


def _drop_status(cj: Obj, job: Obj) -> None:
    cj.pop("status", None)
    job.pop("status", None)


def _old_controller_name(cj: Obj, job: Obj) -> None:
    """A Job named like an old controller's (`<cronjob>-<minutes>`, no scheduled-timestamp
    annotation) whose number is no tick: minute 9999999999 is in the year 20983."""
    job["metadata"]["name"] = f"{ODD}-9999999999"
    del job["metadata"]["annotations"][SCHEDULED_AT]


# (id, change, the words the problem shows: None when nothing is malformed, only missing)
CASES: list[tuple[str, Callable[[Obj, Obj], None], str | None]] = [
    ("suspended-at", _annotate(SUSPENDED_AT, "yesterday"), f"[{SUSPENDED_AT}]: 'yesterday'"),
    ("suspended-until", _annotate(SUSPENDED_UNTIL, "soon"), f"[{SUSPENDED_UNTIL}]: 'soon'"),
    ("history", _annotate(HISTORY, "{not json"), f"[{HISTORY}]: '{{not json'"),
    ("schedule", _set("cronjob", "spec.schedule", "every day at noon"), "spec.schedule"),
    ("schedule type", _set("cronjob", "spec.schedule", 5), "spec.schedule: 5 is not a string"),
    ("time zone", _set("cronjob", "spec.timeZone", "Mars/Olympus_Mons"), "spec.timeZone"),
    ("time zone type", _set("cronjob", "spec.timeZone", ["UTC"]), "spec.timeZone"),
    ("deadline", _set("cronjob", "spec.startingDeadlineSeconds", "abc"), "startingDeadline"),
    ("limit", _set("cronjob", "spec.successfulJobsHistoryLimit", -1), "successfulJobsHist"),
    ("ttl", _set("cronjob", "spec.jobTemplate.spec.ttlSecondsAfterFinished", "x"), "ttlSeconds"),
    ("last schedule", _set("cronjob", "status.lastScheduleTime", "garbage"), "lastSchedule"),
    ("status active", _set("cronjob", "status.active", "x"), "status.active"),
    ("created", _set("cronjob", "metadata.creationTimestamp", "yesterday"), "creationTime"),
    ("annotations", _set("cronjob", "metadata.annotations", ["x"]), "metadata.annotations"),
    ("no status", _drop_status, None),
    ("job start", _set("job", "status.startTime", "garbage"), "status.startTime"),
    ("job end", _set("job", "status.completionTime", 12), "status.completionTime"),
    ("job conditions", _set("job", "status.conditions", "x"), "status.conditions"),
    (
        "job condition time",
        _set(
            "job",
            "status.conditions",
            [{"type": "Complete", "status": "True", "lastTransitionTime": "noon"}],
        ),
        "lastTransitionTime",
    ),
    ("job tick", _set("job", f"metadata.annotations.{SCHEDULED_AT}", "x"), "cronjob-scheduled"),
    ("job owners", _set("job", "metadata.ownerReferences", "x"), None),  # no longer its Job
    ("job name", _old_controller_name, None),
]


@pytest.fixture(params=CASES, ids=[c[0] for c in CASES])
def odd(request: pytest.FixtureRequest, cluster: Cluster) -> str | None:
    _, change, words = request.param
    started = datetime.now(UTC) - timedelta(hours=2)
    for name in (GOOD, ODD):
        cj = cluster.add_cronjob(name, "*/30 * * * *")
        job = _job(cluster, cj, f"{name}-1", started)
        if name == ODD:
            change(cj, job)
            cluster.server.put("batch/v1/cronjobs", cluster.namespace, cj)
        cluster.server.put("batch/v1/jobs", cluster.namespace, job)
    return words  # type: ignore[no-any-return]


def _job(cluster: Cluster, cj: Obj, name: str, started: datetime) -> Obj:
    from tests.cronctl.conftest import job_body

    return job_body(cj, name, "Succeeded", started=started)


def _shown(words: str | None, text: str) -> None:
    if words is not None:
        assert words in text, text


def test_list_shows_the_rest_and_says_what_it_ignored(cluster: Cluster, odd: str | None) -> None:
    result = cluster.run("list")

    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert set(rows) == {GOOD, ODD}
    assert "Succeeded" in rows[GOOD]
    for line in result.stderr.splitlines():
        assert line.startswith(f"Warning: CronJob {cluster.namespace}/{ODD}: "), line
    _shown(odd, result.stderr)


def test_list_json_marks_the_odd_one(cluster: Cluster, odd: str | None) -> None:
    result = cluster.run("list", "-o", "json")

    assert result.exit_code == 0, result.stderr
    items = {item["name"]: item for item in json.loads(result.stdout)}
    assert items[GOOD]["problems"] == []
    assert items[GOOD]["last_result"] == "Succeeded"
    _shown(odd, " ".join(items[ODD]["problems"]))
    if odd is not None:
        assert items[ODD]["problems"]
    else:  # something missing, or not malformed at all: nothing to report
        assert items[ODD]["problems"] == []


def test_describe_explain_and_check_read_the_odd_one(cluster: Cluster, odd: str | None) -> None:
    described = cluster.run("describe", ODD)
    assert described.exit_code == 0, described.stderr
    if odd is not None:
        assert "Problems (what cronctl could not read):" in described.stdout
    _shown(odd, described.stdout)

    explained = cluster.run("explain", ODD)
    assert explained.exit_code == 0, explained.stderr
    assert explained.stdout.startswith(f"CronJob {cluster.namespace}/{ODD}: ")
    as_json = cluster.run("explain", ODD, "-o", "json")
    assert as_json.exit_code == 0, as_json.stderr
    assert json.loads(as_json.stdout)["name"] == ODD

    checked = cluster.run("check", "--all", "--max-age", "7d")
    assert "Traceback" not in checked.stderr
    assert checked.exit_code == (1 if odd is not None else 0), checked.stdout
    for line in checked.stdout.splitlines():
        assert GOOD not in line or "ok" in line.lower() or "problem" not in line.lower(), line
    _shown(odd, checked.stdout)


def test_summarize_safely_on_unchecked_data_says_why_instead_of_failing() -> None:
    """The Python API's last guard, for a caller that skips cronjobs.cronctl.intake: an object
    summarize cannot read still gives a CronJobInfo, naming the error."""
    from cronjobs.cronctl.overview import summarize_safely

    raw = {
        "metadata": {"name": ODD, "namespace": "web", "annotations": {SUSPENDED_AT: "yesterday"}},
        "spec": {"schedule": "0 2 * * *", "suspend": True},
    }
    info = summarize_safely(raw, [], datetime.now(UTC))

    assert (info.name, info.namespace, info.schedule, info.suspended) == (
        ODD,
        "web",
        "0 2 * * *",
        True,
    )
    assert info.problems == (
        "cronctl cannot read it (ValueError: Invalid isoformat string: 'yesterday')",
    )
