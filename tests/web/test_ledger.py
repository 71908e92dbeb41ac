"""The dashboard reads the keeper's ledger: its list and a job's page count and show the runs
whose Jobs were garbage-collected, say which those are, and show the log tail the keeper kept;
a ServiceAccount that may not read the ledger gets the Jobs alone and a one-line note."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.cronctl.conftest import Cluster
from tests.cronctl.test_ledger_runs import NAME, hourly
from tests.web.conftest import PREFIX
from tests.web.test_page import text


def test_the_list_and_the_job_page_read_the_ledger(client: TestClient, cluster: Cluster) -> None:
    hourly(cluster, ["Succeeded", "Failed", "Failed"], gone=2)  # the Jobs say: 1 failed

    listed = text(client.get(f"{PREFIX}/").text)
    assert "2 failed" in listed

    page = text(client.get(f"{PREFIX}/jobs/{NAME}").text)
    assert "Failure streak 2 failed" in page
    runs = page.split("3 run(s), newest first", 1)[1]
    assert f"{NAME}-2 scheduled" in runs and "From" in runs
    assert "ledger (Job gone)" in runs and runs.count("ledger (Job gone)") == 2
    assert "the keeper's ledger remembers the run; its Job is gone" in runs
    assert f"Last failure: {NAME}-3: BackoffLimitExceeded, exit 1" in page

    api = client.get(f"{PREFIX}/api/cronjobs/{NAME}/history").json()
    assert [(r["name"], r["source"]) for r in api] == [
        (f"{NAME}-3", "job"),
        (f"{NAME}-2", "ledger"),
        (f"{NAME}-1", "ledger"),
    ]


def test_a_gone_failures_log_tail_on_the_job_page(client: TestClient, cluster: Cluster) -> None:
    hourly(cluster, ["Failed", "Succeeded"], gone=1)
    page = text(client.get(f"{PREFIX}/jobs/{NAME}").text)
    assert f"Last failure: {NAME}-1: BackoffLimitExceeded, exit 1" in page
    assert "(from the keeper&#x27;s ledger; its Job is gone)" in page  # escaped, as all text
    assert "Its log's last 2 lines, as the keeper kept them: connecting boom: db is down" in page


def test_configmaps_forbidden_shows_the_jobs_with_a_note(
    client: TestClient, cluster: Cluster
) -> None:
    hourly(cluster, ["Succeeded", "Failed", "Failed"], gone=2)
    with cluster.emulator.deny("get", "/configmaps"), cluster.emulator.deny("list", "/configmaps"):
        listed = client.get(f"{PREFIX}/")
        answer = client.get(f"{PREFIX}/jobs/{NAME}")
    assert listed.status_code == 200 and "1 failed" in text(listed.text)
    assert answer.status_code == 200
    page = text(answer.text)
    assert "1 run(s), newest first" in page and "ledger (Job gone)" not in page
    assert "the keeper&#x27;s ledger of this CronJob cannot be read (no get on configmaps)" in page
