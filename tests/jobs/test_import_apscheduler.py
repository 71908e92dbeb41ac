"""`import-apscheduler`: APScheduler 3 registrations read from source become chart values.

Each test writes (or names) a source file, runs `import_apscheduler` on it and checks what the
user sees: the YAML printed on stdout (parsed back), the stderr lines, the exit code. The sources
are parsed, never imported: `apscheduler` is not installed here, and one test proves a module's
top-level code does not run. The last test renders the values with the real chart (helm).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
import yaml

from cronjobs.errors import ConfigError
from cronjobs.migrate import ImportResult, import_apscheduler
from tests.jobs.helpers import invoke

ROOT = Path(__file__).resolve().parents[2]
SOURCES = Path(__file__).resolve().parent / "apscheduler_sources"
EXAMPLE_MAIN = ROOT / "examples" / "app" / "main.py"
CHART = ROOT / "charts" / "cronjobs"


def scan(tmp_path: Path, code: str, name: str = "main.py") -> ImportResult:
    path = tmp_path / name
    path.write_text(dedent(code))
    return import_apscheduler([path])


def printed(result: ImportResult) -> dict[str, Any]:
    """The `jobs:` map of what the command prints on stdout."""
    values = yaml.safe_load(result.values_yaml())
    assert list(values) == ["jobs"]
    jobs: dict[str, Any] = values["jobs"]
    return jobs


def one_job(tmp_path: Path, code: str) -> dict[str, Any]:
    result = scan(tmp_path, code)
    assert result.exit_code == 0, result.problems
    (job,) = printed(result).values()
    return job


def run(reference: str) -> dict[str, Any]:
    return {"enabled": True, "subcommand": "run", "args": [reference]}


# --- the app's wrapper -------------------------------------------------------------------------


def test_wrapper_add_cron_job(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        """
        from app.services import cron_jobs
        from app.services.scheduler_service import scheduler_service

        scheduler_service.add_cron_job(
            cron_jobs.my_custom_function, cron_expression="0 */4 * * *", job_id="my_custom_job"
        )
        """,
    )
    assert printed(result) == {
        "my-custom-job": {
            **run("app.services.cron_jobs:my_custom_function"),
            "schedule": "0 */4 * * *",
        }
    }
    assert result.exit_code == 0


@pytest.mark.parametrize(
    ("interval", "every"),
    [
        ("minutes=15", "15m"),
        ("hours=2", "2h"),
        ("seconds=120", "2m"),
        ("days=1", "1d"),
        ("weeks=1", "7d"),
        ("hours=1, minutes=0", "1h"),
        ("minutes=60", "1h"),
    ],
)
def test_wrapper_add_interval_job(tmp_path: Path, interval: str, every: str) -> None:
    job = one_job(
        tmp_path,
        f"""
        from app.services.cron_jobs import sync_search
        scheduler_service.add_interval_job(sync_search, {interval}, job_id="sync_search")
        """,
    )
    assert job == {**run("app.services.cron_jobs:sync_search"), "every": every}


# --- APScheduler 3's own API -------------------------------------------------------------------


def test_add_job_cron_keywords(tmp_path: Path) -> None:
    job = one_job(
        tmp_path,
        """
        from app import tasks
        scheduler.add_job(tasks.backup, "cron", hour=2, minute=0, day_of_week="sun", id="backup")
        """,
    )
    assert job == {**run("app.tasks:backup"), "schedule": "0 2 * * 0"}


@pytest.mark.parametrize(
    ("trigger", "jitter"),
    [
        ('"interval", minutes=15, jitter=60', 60),
        ('CronTrigger(minute="*/5", jitter=2.5)', 3),  # whole seconds, rounded up
        ('"cron", minute=0, jitter=0', None),
    ],
)
def test_jitter_maps_to_the_charts_jitter(tmp_path: Path, trigger: str, jitter: int | None) -> None:
    job = one_job(tmp_path, f'scheduler.add_job("app:sync_inventory", {trigger})')
    assert job.get("jitter") == jitter


def test_or_trigger_maps_to_schedules(tmp_path: Path) -> None:
    job = one_job(
        tmp_path,
        """
        from apscheduler.triggers.combining import OrTrigger
        from apscheduler.triggers.cron import CronTrigger
        trigger = OrTrigger(
            [CronTrigger(hour=2, minute=0), CronTrigger(day_of_week="sat", hour=14, minute=30)],
            jitter=30,
        )
        scheduler.add_job("app:report", trigger, id="report")
        """,
    )
    assert job == {
        **run("app:report"),
        "schedules": ["0 2 * * *", "30 14 * * 6"],
        "jitter": 30,
    }


def test_add_job_interval_keywords(tmp_path: Path) -> None:
    job = one_job(
        tmp_path,
        """
        from app.tasks import poll
        scheduler.add_job(poll, "interval", minutes=15)
        """,
    )
    assert job == {**run("app.tasks:poll"), "every": "15m"}


def test_add_job_with_a_cron_trigger_instance(tmp_path: Path) -> None:
    job = one_job(
        tmp_path,
        """
        from apscheduler.triggers.cron import CronTrigger
        from app.tasks import poll
        scheduler.add_job(poll, trigger=CronTrigger(hour="8-18", minute=30))
        """,
    )
    assert job["schedule"] == "30 8-18 * * *"


def test_from_crontab(tmp_path: Path) -> None:
    job = one_job(
        tmp_path,
        """
        from apscheduler.triggers.cron import CronTrigger
        import app.tasks as t
        scheduler.add_job(t.poll, CronTrigger.from_crontab("15 */4 1-7 * *"), id="poll")
        """,
    )
    assert job == {**run("app.tasks:poll"), "schedule": "15 */4 1-7 * *"}


def test_interval_trigger_instance(tmp_path: Path) -> None:
    job = one_job(
        tmp_path,
        """
        from apscheduler.triggers.interval import IntervalTrigger
        from app.tasks import poll
        scheduler.add_job(poll, IntervalTrigger(hours=3), id="poll")
        """,
    )
    assert job["every"] == "3h"


def test_trigger_assigned_to_a_constant(tmp_path: Path) -> None:
    job = one_job(
        tmp_path,
        """
        from app.tasks import poll
        NIGHTLY = CronTrigger(hour=3)
        scheduler.add_job(poll, NIGHTLY)
        """,
    )
    assert job["schedule"] == "0 3 * * *"


def test_scheduled_job_decorator(tmp_path: Path) -> None:
    job = one_job(
        tmp_path,
        '''
        @scheduler.scheduled_job("cron", minute="*/10", id="tick")
        async def tick():
            """Count the ticks.

            More words.
            """
        ''',
    )
    assert job == {
        **run("main:tick"),
        "schedule": "*/10 * * * *",
        "description": "Count the ticks.",
    }


def test_string_reference(tmp_path: Path) -> None:
    job = one_job(tmp_path, 'scheduler.add_job("app.jobs:purge", "interval", hours=1)')
    assert job == {**run("app.jobs:purge"), "every": "1h"}


@pytest.mark.parametrize(
    ("fields", "schedule"),
    [
        ("hour=2", "0 2 * * *"),  # less significant fields: their minimum
        ("minute=5", "5 * * * *"),  # more significant fields: *
        ("day=1", "0 0 1 * *"),
        ('month="jan-mar", day=15', "0 0 15 1-3 *"),
        ('day_of_week="mon-fri", hour=5, minute=30', "30 5 * * 1-5"),
        ('day_of_week="sun"', "0 0 * * 0"),  # week and day_of_week do not reset the others
        ('minute="5/15"', "5-59/15 * * * *"),
        ('hour="*/6", second=0', "* */6 * * *"),  # minute, between two given fields: *
        ('minute="0,30", hour=None', "0,30 * * * *"),
    ],
)
def test_cron_field_defaults(tmp_path: Path, fields: str, schedule: str) -> None:
    job = one_job(tmp_path, f'scheduler.add_job("app:f", "cron", {fields})')
    assert job["schedule"] == schedule


# --- day of week: APScheduler counts 0 = Monday, cron 0 = Sunday -------------------------------


@pytest.mark.parametrize(
    ("day_of_week", "cron"),
    [
        ('"mon"', "1"),
        ('"sun"', "0"),
        ('"sat,sun"', "0,6"),
        ('"fri-sun"', "0,5,6"),
        ('"mon-fri"', "1-5"),
        ('"MON,Wed"', "1,3"),
        ("0", "1"),
        ("6", "0"),
        ('"0-4"', "1-5"),
        ('"*/2"', "0,1,3,5"),  # Monday, Wednesday, Friday, Sunday
        ('"mon-sun"', "*"),
    ],
)
def test_day_of_week_keyword_is_converted(tmp_path: Path, day_of_week: str, cron: str) -> None:
    job = one_job(
        tmp_path, f'scheduler.add_job("app:f", "cron", day_of_week={day_of_week}, hour=4)'
    )
    assert job["schedule"] == f"0 4 * * {cron}"


def test_numeric_day_of_week_keyword_is_explained(tmp_path: Path) -> None:
    result = scan(tmp_path, 'scheduler.add_job("app:f", "cron", day_of_week=0, hour=4, id="f")')
    assert result.problems[0] == (
        f"{tmp_path / 'main.py'}:1: f: note: day_of_week='0' is Monday (APScheduler counts "
        "0 = Monday); cron writes it 1 (0 = Sunday)"
    )


@pytest.mark.parametrize(
    ("expression", "schedule", "ran_on"),
    [
        ("0 3 * * 0", "0 3 * * 1", "Monday"),
        ("0 9 * * 1-5", "0 9 * * 2-6", "Tuesday, Wednesday, Thursday, Friday, Saturday"),
        ("@weekly", "0 0 * * 1", "Monday"),
        ("0 3 * * 6", "0 3 * * 0", "Sunday"),
    ],
)
def test_crontab_day_numbers_keep_the_day_the_job_ran(
    tmp_path: Path, expression: str, schedule: str, ran_on: str
) -> None:
    """APScheduler 3's from_crontab passes day numbers through as 0 = Monday (its issue #286):
    the schedule keeps the days the job really ran, and a note says so."""
    result = scan(
        tmp_path,
        f'scheduler_service.add_cron_job("app:f", cron_expression="{expression}", job_id="f")',
    )
    assert printed(result)["f"]["schedule"] == schedule
    assert result.exit_code == 0
    assert f"so this job ran on {ran_on};" in result.problems[0]


def test_crontab_day_names_need_no_note(tmp_path: Path) -> None:
    result = scan(tmp_path, 'scheduler.add_job("app:f", CronTrigger.from_crontab("0 3 * * sun"))')
    assert printed(result)["f"]["schedule"] == "0 3 * * 0"
    assert not any("day-of-week" in line for line in result.problems)


# --- options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timezone", "time_zone"),
    [
        ('"Europe/Paris"', "Europe/Paris"),
        ('ZoneInfo("America/New_York")', "America/New_York"),
        ('pytz.timezone("Asia/Tokyo")', "Asia/Tokyo"),
        ("pytz.utc", "Etc/UTC"),
        ("timezone.utc", "Etc/UTC"),
    ],
)
def test_timezone(tmp_path: Path, timezone: str, time_zone: str) -> None:
    job = one_job(tmp_path, f'scheduler.add_job("app:f", "cron", hour=1, timezone={timezone})')
    assert job["timeZone"] == time_zone


def test_timezone_in_other_case_is_spelled_as_kubernetes_does(tmp_path: Path) -> None:
    """pytz (APScheduler 3's) ignores the case of a zone's name; Kubernetes does not."""
    result = scan(tmp_path, 'scheduler.add_job("app:f", "cron", hour=1, timezone="europe/paris")')
    assert printed(result)["f"]["timeZone"] == "Europe/Paris"
    assert (
        f"{tmp_path / 'main.py'}:1: f: note: timezone='europe/paris' is written 'Europe/Paris'"
        in (result.problems[0])
    )
    assert result.exit_code == 0


def test_options_map_to_chart_settings(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        """
        scheduler.add_job(
            "app:f", "cron", hour=1, id="f", name="Nightly f", max_instances=1,
            misfire_grace_time=120, coalesce=True, next_run_time=None, replace_existing=True,
        )
        scheduler.add_job("app:g", "cron", hour=2, id="g", max_instances=3, misfire_grace_time=5,
                          coalesce=False)
        """,
    )
    assert printed(result) == {
        "f": {
            **run("app:f"),
            "schedule": "0 1 * * *",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 120,
            "suspend": True,
            "description": "Nightly f",
        },
        "g": {
            **run("app:g"),
            "schedule": "0 2 * * *",
            "concurrencyPolicy": "Allow",
            "startingDeadlineSeconds": 10,
        },
    }
    where = f"{tmp_path / 'main.py'}"
    assert (
        f"{where}:2: f: note: next_run_time=None (added paused): suspend: true" in result.problems
    )
    assert [line for line in result.problems if line.startswith(f"{where}:6: g: note:")] == [
        f"{where}:6: g: note: max_instances=3: Allow has no limit on concurrent runs",
        f"{where}:6: g: note: misfire_grace_time=5: raised to 10, the chart's minimum",
        f"{where}:6: g: note: coalesce=False: Kubernetes starts at most one missed run "
        "(as coalesce=True does)",
    ]
    assert result.exit_code == 0


def test_scheduler_defaults_apply_to_jobs_that_set_none(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        """
        DEFAULTS = {"max_instances": 1, "misfire_grace_time": 60}
        scheduler = AsyncIOScheduler(timezone="Europe/Berlin", job_defaults=DEFAULTS)
        scheduler.add_job("app:f", "cron", hour=1)
        scheduler.add_job("app:g", "cron", hour=2, timezone="UTC", misfire_grace_time=30)
        """,
    )
    jobs = printed(result)
    assert jobs["f"]["timeZone"] == "Europe/Berlin"
    assert jobs["f"]["startingDeadlineSeconds"] == 60
    assert jobs["g"]["timeZone"] == "UTC"
    assert jobs["g"]["startingDeadlineSeconds"] == 30
    assert jobs["g"]["concurrencyPolicy"] == "Forbid"


def test_missing_timezone_is_noted(tmp_path: Path) -> None:
    result = scan(tmp_path, 'scheduler.add_job("app:f", "cron", hour=1)')
    assert result.problems == [
        "note: f: no timezone in the source, so APScheduler used the host's local time zone; "
        "the chart reads schedules in jobDefaults.timeZone (Etc/UTC by default): set timeZone "
        "if the app did not run in UTC"
    ]


@pytest.mark.parametrize(
    ("registration", "key"),
    [
        ('"app:f", "cron", hour=1, id="my_custom_job"', "my-custom-job"),
        ('"app:f", "cron", hour=1, id="CleanupOldSessions"', "cleanup-old-sessions"),
        ('"app:cleanup_old_sessions", "cron", hour=1', "cleanup-old-sessions"),
        ('"app:f", "cron", hour=1, id="Nightly report (v2)"', "nightly-report-v2"),
    ],
)
def test_job_key(tmp_path: Path, registration: str, key: str) -> None:
    result = scan(tmp_path, f"scheduler.add_job({registration})")
    assert list(printed(result)) == [key]


# --- resolving the function --------------------------------------------------------------------


def test_package_imports_resolve_to_module_paths() -> None:
    """Relative imports, aliases, `import a.b.c` and module-level functions, from the layout."""
    result = import_apscheduler([SOURCES / "legacy"])
    assert printed(result) == {
        "nightly-report": {
            **run("shop.tasks.reports:nightly_report"),
            "schedule": "0 1 * * *",
            "description": "Build yesterday's sales report.",
        },
        "prune-carts": {
            **run("shop.tasks.reports:prune_carts"),
            "schedule": "0 0 1 * *",
            "description": "Delete carts abandoned for 30 days.",
        },
        "rebuild-index": {**run("shop.tasks.reports:rebuild_index"), "every": "6h"},
        "report-daily": {
            **run("shop.tasks.reports:nightly_report"),
            "every": "1d",
            "description": "Build yesterday's sales report.",
        },
        "housekeeping": {
            **run("shop.scheduler:housekeeping"),
            "every": "7d",
            "description": "Tidy up.",
        },
    }
    assert result.exit_code == 0


def test_source_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = scan(
        tmp_path,
        f"""
        open({str(marker)!r}, "w").close()
        raise SystemExit(3)
        scheduler.add_job("app:f", "interval", minutes=5)
        """,
    )
    assert printed(result) == {"f": {**run("app:f"), "every": "5m"}}
    assert not marker.exists()


def test_a_wrappers_own_add_job_is_not_a_job(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        """
        def every_day(func, hour):
            scheduler.add_job(func, "cron", hour=hour)
        """,
    )
    assert printed(result) == {}
    assert result.exit_code == 0
    assert result.problems[0] == (
        f"note: {tmp_path / 'main.py'}:3: every_day() passes its parameter func to add_job(): "
        "a wrapper, whose calls are not read (only add_cron_job/add_interval_job are)"
    )


def test_example_wrapper_module_registers_nothing() -> None:
    wrapper = ROOT / "examples" / "app" / "app" / "services" / "scheduler_service.py"
    result = import_apscheduler([wrapper])
    assert printed(result) == {}
    assert result.exit_code == 0


# --- what cannot be mapped ---------------------------------------------------------------------


UNMAPPABLE = [
    (
        'scheduler.add_job("app:f", "cron", minute="*/5", jitter="soon")',
        "jitter='soon' is not a number of seconds",
    ),
    (
        'scheduler.add_job("app:f", "date", run_date="2030-01-01 10:00")',
        "a date trigger runs the job once; a CronJob repeats",
    ),
    ('scheduler.add_job("app:f")', "no trigger: APScheduler runs the job once, at once"),
    (
        'scheduler.add_job("app:f", "cron", second="*/30")',
        "second='*/30': a Kubernetes schedule runs at most once a minute",
    ),
    (
        'scheduler.add_job("app:f", "interval", seconds=30)',
        "an interval of 30 seconds is not a whole number of minutes",
    ),
    (
        'scheduler.add_job("app:f", "interval", minutes=1, seconds=30)',
        "an interval of 1 minutes 30 seconds is not a whole number of minutes",
    ),
    (
        'scheduler.add_job("app:f", "interval", minutes=7)',
        "an interval of 7 minutes cannot be expressed evenly as a cron schedule",
    ),
    (
        'scheduler.add_job("app:f", "interval", minutes=90)',
        "an interval of 90 minutes cannot be expressed evenly as a cron schedule",
    ),
    (
        'scheduler.add_job("app:f", "interval", days=2)',
        "an interval of 2 days cannot be expressed evenly",
    ),
    (
        'scheduler.add_job("app:f", "interval", hours=1, start_date="2030-01-01")',
        "start_date='2030-01-01': a CronJob has no start date",
    ),
    (
        'scheduler.add_job("app:f", "cron", hour=1, end_date=datetime(2030, 1, 1))',
        "end_date=datetime(2030, 1, 1): a CronJob has no end date",
    ),
    (
        'scheduler.add_job(lambda: None, "interval", hours=1, id="f")',
        "cannot resolve the function: 'lambda: None' is not a function name",
    ),
    (
        'scheduler.add_job(self.f, "interval", hours=1)',
        "cannot resolve the function: 'self.f' is neither imported nor a module-level function",
    ),
    (
        'scheduler.add_job(partial(g, 1), "interval", hours=1, id="f")',
        "cannot resolve the function: 'partial(g, 1)' is not a function name",
    ),
    ('scheduler.add_job("app:f", "cron", hour=get_hour())', "get_hour() is not a literal"),
    (
        'scheduler.add_job("app:f", "cron", day="last")',
        "day='last': 'last' (a position in the month) has no equivalent",
    ),
    (
        'scheduler.add_job("app:f", "cron", day="1st mon")',
        "day='1st mon': '1st mon' (a position in the month) has no equivalent",
    ),
    (
        'scheduler.add_job("app:f", "cron", day=1, day_of_week="mon")',
        "day='1' and day_of_week='mon' both restrict the day: APScheduler runs when both match",
    ),
    ('scheduler.add_job("app:f", "cron", year=2030)', "year='2030': a Kubernetes schedule has no"),
    ('scheduler.add_job("app:f", "cron", week=2)', "week='2': a Kubernetes schedule has no ISO"),
    ('scheduler.add_job("app:f", "cron")', "a cron trigger with no fields runs every second"),
    (
        'scheduler.add_job("app:f", "cron", hour=25)',
        "hour='25': 25 is outside 0-23",
    ),
    (
        'scheduler.add_job("app:f", "interval", hours=1, args=[7])',
        "args=/kwargs= pass arguments to the function",
    ),
    (
        'scheduler.add_job("app:f", "interval", hours=1, **OPTIONS)',
        "**OPTIONS: its keywords cannot be read without running it",
    ),
    (
        'scheduler.add_job("app:f", AndTrigger([CronTrigger(hour=1), CronTrigger(hour=2)]))',
        "AndTrigger(...) is not a cron or interval trigger",
    ),
    (
        'scheduler.add_job("app:f", OrTrigger([CronTrigger(hour=1, timezone="Europe/Paris"), '
        "CronTrigger(hour=2)]))",
        "OrTrigger(...) mixes time zones",
    ),
    (
        'scheduler.add_job("app:f", CronTrigger.from_crontab("0 0 * * 7"))',
        "7 is outside 0-6 (APScheduler numbers the days 0 = Monday to 6 = Sunday)",
    ),
    (
        'scheduler_service.add_cron_job("app:f", cron_expression="0 0 * *")',
        "'0 0 * *' has 4 fields; APScheduler's from_crontab takes 5",
    ),
    (
        'scheduler.add_job("app:f", "cron", hour=1, id=f"job-{n}")',
        "the job id: f'job-{n}' is not a literal",
    ),
    (
        'scheduler.add_job("app:f", "cron", hour=2, timezone="Not/AZone")',
        "timezone='Not/AZone' is not a time zone the chart and Kubernetes accept",
    ),
    (
        'scheduler.add_job("app:f", "cron", hour=2, timezone=ZoneInfo("posix/Europe/Paris"))',
        "timezone='posix/Europe/Paris' is not a time zone the chart and Kubernetes accept",
    ),
    (
        'scheduler.add_job("app:f", "cron", minute="5-1")',
        "minute='5-1': the range '5-1' runs backwards (start after end)",
    ),
    (
        'scheduler.add_job("app:f", CronTrigger.from_crontab("0 5-1 * * *"))',
        "hour='5-1': the range '5-1' runs backwards",
    ),
    ('scheduler.add_job("app:f", "cron", minute="*/0")', "minute='*/0': '*/0' has a step of 0"),
    (
        'scheduler.add_job("app:f", "cron", day_of_week="*/0")',
        "day_of_week='*/0': '*/0' has a step of 0",
    ),
    (
        'scheduler.add_job("app:f", "cron", month=2, day=31)',
        "the schedule it maps to, '0 0 31 2 *': it never fires",
    ),
    (
        'scheduler.add_job("app:f", "interval", seconds=-5)',
        "a negative interval (-5 seconds): an interval must be positive",
    ),
]


@pytest.mark.parametrize(("code", "reason"), UNMAPPABLE, ids=[r for _, r in UNMAPPABLE])
def test_unmappable_job_is_reported(tmp_path: Path, code: str, reason: str) -> None:
    result = scan(tmp_path, code)
    assert printed(result) == {}
    assert result.exit_code == 1
    assert any(
        line.startswith(f"{tmp_path / 'main.py'}:1: ")
        and ": not mapped: " in line
        and reason in line
        for line in result.problems
    ), result.problems


def test_mapped_jobs_are_still_printed_when_one_is_not(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        """
        scheduler.add_job("app:good", "interval", minutes=30)
        scheduler.add_job("app:bad", "interval", minutes=45)
        """,
    )
    assert printed(result) == {"good": {**run("app:good"), "every": "30m"}}
    assert result.exit_code == 1
    assert result.problems[0].startswith(f"{tmp_path / 'main.py'}:3: bad: not mapped: ")


def test_duplicate_id_is_reported(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        """
        scheduler.add_job("app:f", "interval", hours=1, id="sync")
        scheduler.add_job("app:g", "interval", hours=2, id="sync")
        """,
    )
    where = tmp_path / "main.py"
    assert printed(result) == {"sync": {**run("app:f"), "every": "1h"}}
    assert result.problems[0] == (
        f"{where}:3: sync: not mapped: the key 'sync' is already the job at {where}:2 "
        "(APScheduler refuses a second job with one id): give this one another id"
    )
    assert result.exit_code == 1


# --- usage errors: exit 2, nothing printed -----------------------------------------------------


def test_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text('scheduler.add_job("app:f", "interval", hours=1)\n')
    broken = tmp_path / "broken.py"
    broken.write_text("import os\n\ndef f(:\n    pass\n")
    with pytest.raises(ConfigError) as info:
        import_apscheduler([tmp_path])
    assert str(info.value).startswith(f"{broken}:3: syntax error: ")
    assert info.value.exit_code == 2


def test_a_file_with_nul_bytes_is_not_python(tmp_path: Path) -> None:
    binary = tmp_path / "binary.py"
    binary.write_bytes(b"x = 1\n\0\n")
    with pytest.raises(ConfigError) as info:
        import_apscheduler([tmp_path])
    assert str(info.value) == (
        f"{binary}: cannot read it as Python source: it holds NUL bytes (a binary file, or text "
        "saved as UTF-16?): convert it to UTF-8, or leave it out of PATH"
    )
    assert info.value.exit_code == 2


def test_an_empty_path_is_not_the_current_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        import_apscheduler([tmp_path, ""])
    assert str(info.value).startswith("an empty path: give the app's source file or directory")
    assert info.value.exit_code == 2


def test_the_command_exits_1_for_a_job_the_chart_would_reject(tmp_path: Path) -> None:
    source = tmp_path / "aps.py"
    source.write_text(
        'scheduler.add_job("app:a", "cron", hour=2, timezone="Not/AZone")\n'
        'scheduler.add_job("app:b", "cron", minute="5-1")\n'
        'scheduler.add_job("app:c", "interval", hours=1)\n'
    )
    result = invoke("import-apscheduler", str(source))
    assert result.exit_code == 1, result.stderr
    assert yaml.safe_load(result.stdout) == {"jobs": {"c": {**run("app:c"), "every": "1h"}}}
    assert f"{source}:1: a: not mapped: timezone='Not/AZone' is not a time zone" in result.stderr
    assert f"{source}:2: b: not mapped: minute='5-1': the range '5-1' runs" in result.stderr


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        import_apscheduler([tmp_path / "nope.py"])
    assert str(info.value) == f"{tmp_path / 'nope.py'}: no such file or directory"
    assert info.value.exit_code == 2


def test_no_python_files(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("no code here\n")
    with pytest.raises(ConfigError) as info:
        import_apscheduler([tmp_path])
    assert str(info.value) == f"no .py files in {tmp_path}: give the app's source"
    assert info.value.exit_code == 2


# --- the example app ---------------------------------------------------------------------------


EXAMPLE_VALUES = {
    "purge-expired-tokens": {
        **run("app.services.cron_jobs:purge_expired_tokens"),
        "schedule": "0 */4 * * *",
    },
    "refresh-search-index": {
        **run("app.services.cron_jobs:refresh_search_index"),
        "every": "15m",
    },
    "send-weekly-digest": {
        **run("app.services.cron_jobs:send_weekly_digest"),
        "schedule": "0 6 * * 0",
        "timeZone": "Europe/Paris",
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 3600,
        "description": "E-mail the weekly digest",
    },
}


def test_example_main() -> None:
    result = import_apscheduler([EXAMPLE_MAIN])
    assert printed(result) == EXAMPLE_VALUES
    assert result.exit_code == 0


def test_example_app_with_its_scheduler_defaults() -> None:
    """The whole app: the wrapper's AsyncIOScheduler(timezone="UTC", job_defaults=...) applies
    to the jobs registered through it."""
    result = import_apscheduler([EXAMPLE_MAIN.parent])
    jobs = printed(result)
    assert jobs["purge-expired-tokens"] == {
        **EXAMPLE_VALUES["purge-expired-tokens"],
        "timeZone": "UTC",
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 300,
    }
    assert jobs["send-weekly-digest"] == EXAMPLE_VALUES["send-weekly-digest"]
    assert result.exit_code == 0


def test_example_values_render_with_the_chart(tmp_path: Path, helm_bin: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(import_apscheduler([EXAMPLE_MAIN]).values_yaml())
    proc = subprocess.run(
        [str(helm_bin), "template", "cronjobs", str(CHART), "-n", "maint", "-f", str(values)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    cronjobs = {
        doc["metadata"]["name"]: doc
        for doc in yaml.safe_load_all(proc.stdout)
        if doc and doc["kind"] == "CronJob"
    }
    digest = cronjobs["cronjobs-send-weekly-digest"]["spec"]
    assert digest["schedule"] == "0 6 * * 0"
    assert digest["timeZone"] == "Europe/Paris"
    assert digest["concurrencyPolicy"] == "Forbid"
    assert digest["startingDeadlineSeconds"] == 3600
    (container,) = digest["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["run", "app.services.cron_jobs:send_weekly_digest"]
    assert cronjobs["cronjobs-refresh-search-index"]["spec"]["schedule"] == "*/15 * * * *"
    sessions = cronjobs["cronjobs-purge-expired-tokens"]["spec"]
    assert sessions["schedule"] == "0 */4 * * *"
    (container,) = sessions["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["run", "app.services.cron_jobs:purge_expired_tokens"]


def test_an_empty_path_on_the_command_line_is_exit_2() -> None:
    """Not the current directory: click would turn "" into "."."""
    result = invoke("import-apscheduler", "")
    assert result.exit_code == 2 and "an empty path" in result.stderr


def test_a_fifo_or_a_device_is_refused_without_reading_it(tmp_path: Path) -> None:
    """Issue 23: a FIFO hung (waiting for a writer), /dev/zero was read until the kernel killed
    the process. Both are exit 2 at once, saying what the path is (run as a subprocess, so the
    old hang shows as a failed test)."""
    import os

    from tests.jobs.helpers import cronjobs

    fifo = tmp_path / "jobs.py"
    os.mkfifo(fifo)
    for path, kind in ((str(fifo), "a FIFO"), ("/dev/zero", "a device")):
        result = cronjobs("import-apscheduler", path, timeout=30)
        assert result.returncode == 2, result.stderr
        assert f"Error: {path}: not a regular file ({kind}" in result.stderr
    result = cronjobs("import-apscheduler", str(tmp_path), timeout=30)  # found in a directory
    assert result.returncode == 2 and f"{fifo}: not a regular file (a FIFO" in result.stderr


def test_a_file_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "generated.py"
    big.write_text("#" * (10 * 1024 * 1024 + 1))
    result = invoke("import-apscheduler", str(big))
    assert result.exit_code == 2, result.stderr
    assert f"Error: {big}: larger than 10 MiB" in result.stderr


@pytest.mark.parametrize(
    "expression",
    ["x + " * 3000 + "1", "-" * 200_000 + "1", "f" + "(1)" * 50_000, "x + " * 400 + "1"],
)
def test_a_deeply_nested_expression_is_exit_2_not_a_crash(tmp_path: Path, expression: str) -> None:
    """Before: RecursionError (or MemoryError) in the parser or in reading the tree, exit 1."""
    path = tmp_path / "main.py"
    path.write_text(
        "from apscheduler.schedulers.blocking import BlockingScheduler\n"
        "scheduler = BlockingScheduler()\n"
        f"scheduler.add_job(tick, 'cron', minute={expression}, id='tick')\n"
    )
    result = invoke("import-apscheduler", str(path))
    assert result.exit_code == 2, result.stderr
    assert "an expression nested more than 200 levels deep, too deep to read" in result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr
