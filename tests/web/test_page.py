"""The dashboard page as the server renders it (the browser test drives the script): what a
user reads in the list and on a CronJob's page, escaping, and the headers that keep it safe."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import escape

from tests.cronctl.conftest import Cluster
from tests.web.conftest import PREFIX, TestClient
from tests.web.test_api import seed


def text(html: str) -> str:
    """What a reader sees: tags dropped, whitespace collapsed, entities kept as written."""
    no_script = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", no_script).split())


def test_list_shows_what_a_team_needs(client: TestClient, cluster: Cluster) -> None:
    seed(cluster)
    cluster.add_cronjob(
        "web-cronjobs-cleanup-redis-cache",
        "0 */6 * * *",
        time_zone="Europe/Berlin",
        suspend=True,
        annotations={
            "cronctl.cronjobs.dev/suspended-by": "alice",
            "cronctl.cronjobs.dev/suspended-at": (datetime.now(UTC) - timedelta(hours=2)).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "cronctl.cronjobs.dev/suspend-reason": "Redis <upgrade> & failover",
        },
    )
    answer = client.get(f"{PREFIX}/")
    assert answer.status_code == 200
    page = text(answer.text)
    assert "3 CronJob(s)" in page
    for header in (
        "Schedule",
        "Time zone",
        "Next run",
        "Last result",
        "Failure streak",
        "Missed (24h)",
        "Suspended",
        "Actions",
    ):
        assert header in page
    # cleanup-old-sessions: daily at 02:00 UTC, last run failed once.
    row = page.split("web-cronjobs-cleanup-old-sessions", 1)[1].split(
        "web-cronjobs-cleanup-redis-cache"
    )[0]
    assert "At 02:00 0 2 * * * Etc/UTC" not in row  # no zone set: the controller's default
    assert "At 02:00 0 2 * * * UTC (default) in " in row
    assert "Failed web-cronjobs-cleanup-old-sessions-101" in row and "1 failed" in row
    # The suspended one: who, for how long, why (escaped), no next run, a Resume button.
    redis = page.split("web-cronjobs-cleanup-redis-cache", 1)[1]
    assert "Europe/Berlin - (suspended)" in redis
    assert "yes (2h00m) by alice Redis &lt;upgrade&gt; &amp; failover Resume Trigger" in redis
    assert "<upgrade>" not in answer.text
    assert f'href="{PREFIX}/jobs/web-cronjobs-health-check"' in answer.text


def test_job_page_history_results_logs_and_explain(client: TestClient, cluster: Cluster) -> None:
    seed(cluster)
    name = "web-cronjobs-cleanup-old-sessions"
    answer = client.get(f"{PREFIX}/jobs/{name}")
    assert answer.status_code == 200
    page = text(answer.text)
    assert f"{name} in {cluster.namespace} Suspend Trigger" in page
    assert "Why: explain" in page and "Last failure: " + f"{name}-101" in page
    advice = client.get(f"{PREFIX}/api/cronjobs/{name}/explain").json()["advice"]
    assert escape(advice) in page
    # Runs: newest first, each with its result and summary.
    runs = page.split("2 run(s), newest first", 1)[1]
    assert runs.index(f"{name}-101") < runs.index(f"{name}-100")
    assert "Succeeded 0 (OK" in runs and "deleted=12 in 1.9s" in runs
    # The newest run's pod is gone, so the log section says so.
    assert f"Log tail Job {name}-101 has no pods left" in page


def test_job_page_log_tail(client: TestClient, cluster: Cluster) -> None:
    cj = cluster.add_cronjob("web-cronjobs-health-check", "*/30 * * * *")
    cluster.add_job(cj, "web-cronjobs-health-check-300")
    cluster.add_pod(
        "web-cronjobs-health-check-300",
        "web-cronjobs-health-check-300-p1",
        "ok <db>\nok redis\n",
        cronjob=cj,
    )
    page = text(client.get(f"{PREFIX}/jobs/web-cronjobs-health-check").text)
    assert (
        "Log tail Job web-cronjobs-health-check-300 (2 lines). --- pod web-cronjobs-health-check-300-p1 ok &lt;db&gt; ok redis"
        in page
    )


def test_headers_cookie_and_assets(client: TestClient, cluster: Cluster) -> None:
    answer = client.get(f"{PREFIX}/")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    cookie = answer.headers["set-cookie"]
    assert "cronctl_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert f"Path={PREFIX}/" in cookie
    token = re.search(r'name="csrf-token" content="([^"]+)"', answer.text)
    assert token and f"cronctl_csrf={token[1]}" in cookie
    assert "No CronJobs match the selector" in text(answer.text)
    js = client.get(f"{PREFIX}/assets/dashboard.js")
    assert js.headers["content-type"].startswith("text/javascript") and "X-CSRF-Token" in js.text
    assert (
        client.get(f"{PREFIX}/assets/dashboard.css").headers["content-type"].startswith("text/css")
    )


def test_a_cronjob_that_will_never_run_says_so(client: TestClient, cluster: Cluster) -> None:
    """`0 0 31 2 *` passes the API server; the controller never runs it (InvalidSchedule)."""
    cluster.add_cronjob("web-cronjobs-health-check", "0 0 31 2 *")
    listed = text(client.get(f"{PREFIX}/").text)
    assert "never (will never run)" in listed
    page = text(client.get(f"{PREFIX}/jobs/web-cronjobs-health-check").text)
    assert "never (will never run) its schedule names no time that exists within five years" in page
