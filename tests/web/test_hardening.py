"""The dashboard under hostile input and load (issue 23, items 2, 6, 9 and 10), through
FastAPI's TestClient against the emulator.

- Forbid holds for 20 concurrent trigger POSTs: one Job, every other POST 409.
- One malformed CronJob: the page and the API show the rest and mark it (also across
  namespaces, as `serve -A` lists).
- explain's window and tick count are bounded for these unauthenticated reads.
- CronJobs outside the dashboard's selector do not exist for it: 404 for reads and changes.
- A suspend reason with control characters cannot forge log lines, and shows escaped.
- A tokens file broken after start-up: changes answer 503 consistently, the log says why once,
  reads work, and fixing the file restores changes without a restart.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cronjobs.cronctl.controller import CronJobController
from cronjobs.web.auth import BROKEN, BearerTokens
from tests.cronctl.conftest import LABELS, Cluster, job_body
from tests.cronctl.test_malformed import CASES, GOOD, ODD
from tests.web.conftest import PREFIX, TestClient, app_with, csrf

API = f"{PREFIX}/api/cronjobs"
NAME = "web-cronjobs-cleanup-old-sessions"
TOKEN = "tok-0123456789abcdef"


def test_concurrent_trigger_posts_of_a_forbid_cronjob_start_one_run(
    client: TestClient, cluster: Cluster
) -> None:
    cluster.add_cronjob(NAME, policy="Forbid")
    headers = {**csrf(client), "X-User": "alice"}
    barrier = threading.Barrier(20)
    codes: list[int] = []

    def post() -> None:
        barrier.wait()
        codes.append(client.post(f"{API}/{NAME}/trigger", headers=headers).status_code)

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert sorted(codes) == [200] + [409] * 19
    assert len(cluster.jobs()) == 1


@pytest.mark.parametrize(
    "case", [c for c in CASES if c[2] is not None][:8], ids=lambda c: str(c[0])
)
def test_one_malformed_cronjob_does_not_take_the_page_down(
    cluster: Cluster, case: tuple[str, object, str]
) -> None:
    _, change, words = case
    started = datetime.now(UTC) - timedelta(hours=2)
    other = f"{cluster.namespace}-b"
    labels = {**LABELS, "test-run": cluster.namespace}  # -A sees the other tests' CronJobs
    for name, namespace in ((GOOD, cluster.namespace), (ODD, other)):
        cj = cluster.add_cronjob(name, "*/30 * * * *", namespace=namespace, labels=labels)
        job = job_body(cj, f"{name}-1", "Succeeded", started=started)
        if name == ODD:
            change(cj, job)  # type: ignore[operator]
            cluster.server.put("batch/v1/cronjobs", namespace, cj)
        cluster.server.put("batch/v1/jobs", namespace, job)
    controller = cluster.controller(  # as `cronctl serve -A`
        all_namespaces=True, selector=f"test-run={cluster.namespace}"
    )
    try:
        with TestClient(app_with(controller, None)) as client:
            page = client.get(f"{PREFIX}/")
            listed = client.get(API)
    finally:
        controller.close()

    assert page.status_code == 200
    assert GOOD in page.text and ODD in page.text
    assert "unreadable fields" in page.text and page.text.count("unreadable fields") == 1
    assert listed.status_code == 200
    items = {i["name"]: i for i in listed.json()}
    assert items[GOOD]["problems"] == [] and items[GOOD]["last_result"] == "Succeeded"
    assert words in " ".join(items[ODD]["problems"])


def test_explain_bounds_its_window_and_ticks(client: TestClient, cluster: Cluster) -> None:
    created = datetime.now(UTC) - timedelta(days=400)
    cluster.add_cronjob(NAME, "* * * * *", created=created)

    default = client.get(f"{API}/{NAME}/explain")
    assert default.status_code == 200
    assert 1300 < len(default.json()["ticks"]) <= 1440  # about the newest day, not 7 days
    month = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    too_many = client.get(f"{API}/{NAME}/explain", params={"since": month})
    assert too_many.status_code == 400
    detail = too_many.json()["detail"]
    assert "the window holds more than 1440 ticks of schedule '* * * * *'" in detail
    assert re.search(r"start at \S+Z or later \(--since 23h\d\dm\)", detail), detail
    year = (datetime.now(UTC) - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
    too_old = client.get(f"{API}/{NAME}/explain", params={"since": year})
    assert too_old.status_code == 400
    assert "over the 31d0h explain reads at most" in too_old.json()["detail"]
    page = client.get(f"{PREFIX}/jobs/{NAME}")
    assert page.status_code == 200 and "Ticks since " in page.text


def test_cronjobs_outside_the_selector_are_404(client: TestClient, cluster: Cluster) -> None:
    other = {"app.kubernetes.io/name": "billing"}
    cj = cluster.add_cronjob("billing-nightly", labels=other, suspend=True)
    cluster.add_job(cj, "billing-nightly-1")
    before = cluster.cronjob("billing-nightly")
    headers = {**csrf(client), "X-User": "alice"}

    for path in ("", "/history", "/explain", "/logs"):
        answer = client.get(f"{API}/billing-nightly{path}")
        assert answer.status_code == 404, path
        assert answer.json()["detail"].startswith('CronJob "billing-nightly" not found')
    assert client.get(f"{PREFIX}/jobs/billing-nightly").status_code == 404
    for action in ("suspend", "resume", "trigger"):
        answer = client.post(f"{API}/billing-nightly/{action}", headers=headers)
        assert answer.status_code == 404, action
    assert cluster.cronjob("billing-nightly") == before
    assert [j["metadata"]["name"] for j in cluster.jobs()] == ["billing-nightly-1"]
    assert [i["name"] for i in client.get(API).json()] == []


def test_a_reason_with_newlines_cannot_forge_log_lines(
    client: TestClient, cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    cluster.add_cronjob(NAME)
    reason = "db upgrade\nINFO bob resumed CronJob x\x1b[2J\u2028done"
    headers = {**csrf(client), "X-User": "alice\nINFO mallory"}
    with caplog.at_level(logging.INFO, logger="cronjobs.web.router"):
        answer = client.post(f"{API}/{NAME}/suspend", headers=headers, json={"reason": reason})
    assert answer.status_code == 200
    [record] = [r for r in caplog.records if "suspended CronJob" in r.getMessage()]
    assert record.getMessage() == (
        f"alice\\nINFO mallory suspended CronJob {NAME}: "
        "db upgrade\\nINFO bob resumed CronJob x\\x1b[2J\\u2028done"
    )
    page = client.get(f"{PREFIX}/").text
    assert "db upgrade\\nINFO bob resumed CronJob x\\x1b[2J\\u2028done" in page
    stored = cluster.cronjob(NAME)["metadata"]["annotations"]
    assert stored["cronctl.cronjobs.dev/suspend-reason"] == reason  # recorded as given


def test_a_tokens_file_broken_after_start_refuses_changes_consistently(
    controller: CronJobController,
    cluster: Cluster,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster.add_cronjob(NAME)
    tokens = tmp_path / "tokens"
    tokens.write_text(f"alice {TOKEN}\n")
    stamp = tokens.stat().st_mtime_ns

    def rewrite(text: str, step: int) -> None:
        tokens.write_text(text)
        os.utime(tokens, ns=(stamp + step * 10**9, stamp + step * 10**9))  # a new mtime

    with TestClient(app_with(controller, BearerTokens(tokens))) as client:
        headers = {**csrf(client), "Authorization": f"Bearer {TOKEN}"}
        trigger = f"{API}/{NAME}/trigger"
        rewrite(f"alice {TOKEN}\nbob short\n", 1)
        with caplog.at_level(logging.ERROR, logger="cronjobs.web.auth"):
            answers = [client.post(trigger, headers=headers) for _ in range(3)]
        assert [a.status_code for a in answers] == [503, 503, 503]
        assert {a.json()["detail"] for a in answers} == {BROKEN}
        [record] = [r for r in caplog.records if r.name == "cronjobs.web.auth"]  # once
        assert f"{tokens}, line 2: write `NAME TOKEN`" in record.getMessage()
        assert TOKEN not in record.getMessage()
        assert client.get(API).status_code == 200  # reads still work
        tokens.unlink()
        assert client.post(trigger, headers=headers).status_code == 503
        assert cluster.jobs() == []
        rewrite(f"alice {TOKEN}\n", 2)
        assert client.post(trigger, headers=headers).status_code == 200
    assert len(cluster.jobs()) == 1


def test_a_malformed_cronjobs_own_page_and_api_answer(client: TestClient, cluster: Cluster) -> None:
    from cronjobs.cronctl.model import SUSPENDED_AT

    cluster.add_cronjob(NAME, suspend=True, annotations={SUSPENDED_AT: "yesterday"})

    page = client.get(f"{PREFIX}/jobs/{NAME}")
    described = client.get(f"{API}/{NAME}")
    explained = client.get(f"{API}/{NAME}/explain")

    assert page.status_code == 200
    assert (
        "unreadable fields" in page.text and "&#x27;yesterday&#x27; is not an RFC 3339" in page.text
    )
    assert described.status_code == 200 and explained.status_code == 200
    [problem] = described.json()["problems"]
    assert problem.startswith(f"metadata.annotations[{SUSPENDED_AT}]: 'yesterday' is not")
