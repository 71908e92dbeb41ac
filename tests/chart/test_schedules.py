"""One verdict on a schedule: the chart's template validation (charts/cronjobs/templates/
_helpers.tpl, cronjobs.validateSchedule, run by real helm), the job registry
(cronjobs.registry.cron_problem) and the cron engine (cronjobs.cron, the controller's robfig/cron).

The chart is stricter than Kubernetes on purpose (no TZ= prefix, no `@every`, `?` only in the day
fields, Go's `\\s` between fields); whatever it accepts, the controller parses and runs, and the
registry accepts exactly the same schedules."""

from __future__ import annotations

import json
import random
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from cronjobs import cron
from cronjobs.registry import cron_problem

CHART = Path(__file__).resolve().parents[2] / "charts" / "cronjobs"

SCHEDULES = [
    # (schedule, the chart accepts it)
    ("0 0 * * 6", True),
    ("0 0 * * 7", False),
    ("0 0 * * SUN-sat", True),
    ("0 0 * * SAT-SUN", False),
    ("5-1 * * * *", False),
    ("1-5 * * * *", True),
    ("0 0 * JAN-Mar *", True),
    ("0 0 * FOO *", False),
    ("0 0 * 13 *", False),
    ("0 0 0 * *", False),
    ("0 0 ?/5 * *", True),
    ("0 0 ?/2 * *", True),
    ("0 0 * * ?", True),
    ("? * * * *", False),
    ("5/20 * * * *", True),
    ("*/0 * * * *", False),
    ("*/7 * * * *", True),
    ("5 */7 * * *", True),
    ("0 0 */2 * 0-6", True),
    ("30 6-16/4 * * 1-5", True),
    ("000005 * * * *", True),
    ("100 * * * *", False),
    ("1,,2 * * * *", False),
    ("*-5 * * * *", False),
    ("0 0 * * 1;2", False),
    ("0\v0 * * *", False),
    ("0\t0 * * *", True),
    ("0 0 * *", False),
    ("0 0 * * * *", False),
    ("", False),
    ("@daily", True),
    ("@midnight", True),
    ("@weekly", True),
    ("@yearly", True),
    ("@annually", True),
    ("@DAILY", False),
    ("@every 5m", False),
    ("@every 1h30m", False),
    ("@every -1h", False),
    ("@reboot", False),
    ("CRON_TZ=Europe/Paris 0 0 * * *", False),
    ("TZ=UTC 0 0 * * *", False),
    ("0 0 29 2 *", True),
    ("0 0 31 2 1", True),  # day-of-month OR day-of-week: fires on Mondays
    ("0 0 31 2,3 *", True),
    ("0 0 31 2 */2", True),  # a step clears the star bit: ORed, fires on even weekdays
    ("0 0 */31 2 *", True),  # the 1st of February
    ("0 0 31 2/10 *", True),  # February and December
    # Never fires: Kubernetes accepts these and never runs them (InvalidSchedule).
    ("0 0 31 2 *", False),
    ("0 0 30,31 2 *", False),
    ("0 0 31 4,6,9,11 ?", False),
    ("0 0 31 2 */1", False),
    ("0 0 30 FEB-feb ?", False),
    ("0 0 31 4-6/2 *", False),
    ("0 0 31 APR *", False),
]


def _random_schedules(n: int) -> list[str]:
    """Schedules built from the pieces the chart and robfig read differently or alike."""
    rng = random.Random(25)
    parts = {
        0: ["*", "0", "59", "60", "*/7", "5/15", "1-5", "5-1", "0,30", "?", "*/0", "7-59/20"],
        1: ["*", "0", "23", "24", "*/5", "2/3", "9-17", "0,12", "?", "1-23/0"],
        2: ["*", "?", "1", "29", "30", "31", "32", "0", "*/2", "?/2", "15-31/7", "31,1"],
        3: ["*", "1", "2", "12", "13", "FEB", "feb-apr", "4,6,9,11", "*/6", "2/10", "?"],
        4: ["*", "?", "0", "6", "7", "MON", "mon-fri", "*/2", "0-6", "1-5/2", "SUN,SAT"],
    }
    return [" ".join(rng.choice(parts[i]) for i in range(5)) for _ in range(n)]


def _chart_accepts(schedule: str, tmp: Path, helm: Path) -> bool:
    values = tmp / f"values-{abs(hash(schedule))}.json"
    job = {"schedule": schedule, "activeDeadlineSeconds": 30}
    values.write_text(json.dumps({"jobs": {"health-check": job}}))
    proc = subprocess.run(
        [str(helm), "template", "r", str(CHART), "-f", str(values)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 or "jobs.health-check.schedule" in proc.stderr, proc.stderr
    return proc.returncode == 0


def _controller_runs(schedule: str) -> bool:
    try:
        parsed = cron.parse(schedule.strip())
    except cron.CronError:
        return False
    return parsed.next(datetime(2026, 1, 1, tzinfo=UTC)) is not None


def test_chart_registry_and_engine_agree_on_schedules(tmp_path: Path, helm_bin: Path) -> None:
    listed = [s for s, _ in SCHEDULES]
    generated = _random_schedules(70)
    with ThreadPoolExecutor(8) as pool:
        chart = dict(zip(listed + generated, pool.map(
            lambda s: _chart_accepts(s, tmp_path, helm_bin), listed + generated
        ), strict=True))  # fmt: skip
    assert {s: chart[s] for s in listed} == dict(SCHEDULES)
    assert sum(chart[s] for s in generated) >= 10  # the set tests acceptance too
    registry = {s: cron_problem(s) is None for s in chart}
    assert {s for s in chart if registry[s] != chart[s]} == set()
    # Whatever the chart accepts, the controller parses and runs.
    assert {s for s in chart if chart[s] and not _controller_runs(s)} == set()


def test_never_firing_and_every_schedules_say_why(tmp_path: Path, helm_bin: Path) -> None:
    def error(schedule: str) -> str:
        values = tmp_path / "v.json"
        values.write_text(json.dumps({"jobs": {"health-check": {"schedule": schedule}}}))
        proc = subprocess.run(
            [str(helm_bin), "template", "r", str(CHART), "-f", str(values)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode == 1
        return proc.stderr

    assert (
        'ERROR: jobs.health-check.schedule: "0 0 31 2 *" never fires: none of the months in the '
        'month field "2" has a day in the day-of-month field "31" (Kubernetes accepts the '
        "schedule and never starts the job: InvalidSchedule); choose days those months have"
    ) in error("0 0 31 2 *")
    every = error("@every 1h30m")
    assert "Kubernetes accepts `@every`, but counts it from the CronJob's creation" in every
    assert "set jobs.health-check.every instead (e.g. every: 15m)" in every
    assert "is not a cron macro Kubernetes accepts" not in every
    assert "Kubernetes accepts `@every`" in (cron_problem("@every 1h30m") or "")
