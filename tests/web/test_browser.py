"""End to end in a real headless Chromium (Debian's package, driven by Playwright): `cronctl serve`
with a tokens file, against the emulator. A user signs in, suspends a CronJob with a reason (by
mouse), triggers another (by keyboard), and the emulator holds what they did. Screenshots go
under the test's tmp_path (CRONJOBS_UPDATE_SCREENSHOT=1 also refreshes docs/dashboard.png, the
README's)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cronctl.conftest import Cluster
from tests.cronctl.emulator import Outcome
from tests.web.serving import REPO, cronctl_serve

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "browser-test-token-0123456789abcdef"


def ensure_chromium() -> None:
    """Install Debian's chromium like the other system packages, if missing (root only)."""
    if CHROMIUM.exists():
        return
    if shutil.which("apt-get") is None:
        pytest.fail("no /usr/bin/chromium: apt-get install -y chromium")
    proc = subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and CHROMIUM.exists(), proc.stderr[-2000:]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    ensure_chromium()
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def seed(cluster: Cluster) -> None:
    """The chart's five CronJobs with a realistic past: failures, summaries, a suspension."""
    now = datetime.now(UTC)
    created = now - timedelta(days=3)
    jobs = {
        "aggregate-daily-analytics": ("0 1 * * *", "Etc/UTC", ["Succeeded", "Succeeded"]),
        "cleanup-old-analytics": ("0 3 * * 0", "Europe/Berlin", ["Succeeded"]),
        "cleanup-old-sessions": ("0 2 * * *", "Etc/UTC", ["Succeeded", "Failed", "Failed"]),
        "cleanup-redis-cache": ("0 */6 * * *", "America/New_York", ["Succeeded", "Succeeded"]),
        "health-check": ("*/30 * * * *", "Etc/UTC", ["Succeeded", "Succeeded", "Succeeded"]),
    }
    for key, (schedule, zone, results) in jobs.items():
        cj = cluster.add_cronjob(
            f"web-cronjobs-{key}", schedule, time_zone=zone, created=created, keep=(3, 3)
        )
        for n, result in enumerate(results):
            started = now - timedelta(hours=6 * (len(results) - n))
            job = f"web-cronjobs-{key}-{29000000 + n}"
            cluster.add_job(cj, job, result, started=started, seconds=30 + 7 * n)
            ok = result == "Succeeded"
            summary = {
                "job": key,
                "run_id": f"{n}a9c3e",
                "exit_code": 0 if ok else 2,
                "outcome": "ok" if ok else "error",
                "counts": {"deleted": 120 * (n + 1)} if ok else {},
                "duration_seconds": 1.5 + n,
            }
            cluster.add_pod(
                job,
                f"{job}-x1",
                f"{key}: starting\n{key}: {'done' if ok else 'DATABASE_URL is not set'}\n",
                "Succeeded" if ok else "Failed",
                cronjob=cj,
                exit_code=0 if ok else 2,
                message=json.dumps(summary),
            )


def test_suspend_and_trigger_in_a_real_browser(
    browser: object, cluster: Cluster, tmp_path: Path
) -> None:
    seed(cluster)
    # A triggered Job starts at once (a running pod), as the Job controller would start it.
    cluster.emulator.job_outcomes[cluster.namespace] = Outcome(log="health-check: ok\n", gets=1000)
    tokens = tmp_path / "tokens"
    tokens.write_text(f"alice@example.com {TOKEN}\n")
    with cronctl_serve(cluster.kubeconfig, "--tokens-file", str(tokens)) as url:
        context = browser.new_context(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/")  # redirects to /cronjobs/
        expect = playwright.expect
        expect(page.get_by_role("caption")).to_have_text("5 CronJob(s)")
        row = page.get_by_role("row").filter(has_text="web-cronjobs-cleanup-old-sessions")
        expect(row).to_contain_text("At 02:00")
        expect(row).to_contain_text("2 failed")

        page.get_by_label("Token").fill(TOKEN)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("status")).to_have_text(
            "Signed in: the token is kept in this tab only."
        )
        expect(page.get_by_label("Token")).to_be_hidden()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()

        # Suspend with a reason, by mouse.
        redis = page.get_by_role("row").filter(has_text="web-cronjobs-cleanup-redis-cache")
        redis.get_by_role("button", name="Suspend web-cronjobs-cleanup-redis-cache").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("Suspend web-cronjobs-cleanup-redis-cache?")
        dialog.get_by_label("Reason (recorded on the CronJob)").fill(
            "Redis failover drill, back at 15:00"
        )
        dialog.get_by_role("button", name="Suspend").click()
        expect(page.get_by_role("status")).to_have_text(
            "web-cronjobs-cleanup-redis-cache: suspended."
        )
        expect(redis).to_contain_text("Redis failover drill, back at 15:00")
        expect(
            redis.get_by_role("button", name="Resume web-cronjobs-cleanup-redis-cache")
        ).to_be_visible()

        # Trigger, by keyboard: Enter on the button, Escape cancels, then Tab to confirm.
        health = page.get_by_role("row").filter(has_text="web-cronjobs-health-check")
        button = health.get_by_role("button", name="Trigger web-cronjobs-health-check now")
        button.focus()
        page.keyboard.press("Enter")
        expect(dialog).to_contain_text("Trigger web-cronjobs-health-check now?")
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        assert not [j for j in cluster.jobs() if "-manual-" in j["metadata"]["name"]]
        button.focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("button", name="Cancel")).to_be_focused()
        page.keyboard.press("Tab")
        expect(dialog.get_by_role("button", name="Trigger")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_contain_text(
            "Started Job web-cronjobs-health-check-manual-"
        )
        expect(health).to_contain_text("Running (1)")

        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        if os.environ.get("CRONJOBS_UPDATE_SCREENSHOT"):  # the README's copy, on request only
            shutil.copy(tmp_path / "dashboard.png", REPO / "docs" / "dashboard.png")

        # One CronJob's page: explain's answer, the runs with their results, the log tail.
        page.get_by_role("link", name="web-cronjobs-cleanup-old-sessions").click()
        expect(page.get_by_role("heading", name="Why: explain")).to_be_visible()
        expect(page.locator(".advice")).to_contain_text("Fix the configuration the message names")
        expect(page.get_by_role("table", name="3 run(s), newest first")).to_contain_text("2 (USAGE")
        expect(
            page.get_by_label("Log of web-cronjobs-cleanup-old-sessions-29000002")
        ).to_contain_text("DATABASE_URL is not set")
        page.screenshot(path=str(tmp_path / "job.png"), full_page=True)
        assert errors == []
        context.close()

    # What the emulator received: the suspension with its reason and actor, one manual Job.
    cronjob = cluster.cronjob("web-cronjobs-cleanup-redis-cache")
    annotations = cronjob["metadata"]["annotations"]
    assert cronjob["spec"]["suspend"] is True
    assert (
        annotations["cronctl.cronjobs.dev/suspend-reason"] == "Redis failover drill, back at 15:00"
    )
    assert annotations["cronctl.cronjobs.dev/suspended-by"] == "alice@example.com"
    (manual,) = [j for j in cluster.jobs() if "-manual-" in j["metadata"]["name"]]
    assert manual["metadata"]["name"].startswith("web-cronjobs-health-check-manual-")
    assert (
        manual["metadata"]["annotations"]["cronctl.cronjobs.dev/triggered-by"]
        == "alice@example.com"
    )
    assert (
        "PATCH",
        f"/apis/batch/v1/namespaces/{cluster.namespace}/cronjobs/web-cronjobs-cleanup-redis-cache"
        "?fieldManager=cronctl-serve",  # the dashboard names itself
    ) in cluster.emulator.calls


def test_read_only_on_a_phone(browser: object, cluster: Cluster, tmp_path: Path) -> None:
    """Read-only (no auth method): no buttons, the banner says why; at phone width each CronJob
    is a card whose cells carry their labels, and nothing scrolls sideways."""
    seed(cluster)
    with cronctl_serve(cluster.kubeconfig) as url:
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)  # type: ignore[attr-defined]
        page = context.new_page()
        page.goto(f"{url}/cronjobs/")
        expect = playwright.expect
        expect(page.get_by_role("note")).to_contain_text("Read-only.")
        expect(page.get_by_role("button")).to_have_count(0)
        cell = page.locator('td[data-label="Next run"]').first
        assert cell.evaluate("td => getComputedStyle(td, '::before').content") == '"Next run"'
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        context.close()
