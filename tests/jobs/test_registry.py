"""The app's own jobs: registration, discovery from CRONJOBS_JOB_MODULES, and the run
discipline they share with the built-ins (exit codes, lock, SIGTERM, scrubbing)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.jobs.helpers import REPO


def app_module(tmp_path: Path, source: str, name: str = "appjobs") -> Path:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    return tmp_path


def cronjobs_at(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CRONJOBS_"))}
    full.update({"CRONJOBS_LOG_FORMAT": "json", "CRONJOBS_JOB_MODULES": "appjobs", **(env or {})})
    full["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "cronjobs", *args], capture_output=True, text=True, env=full,
        cwd=cwd, timeout=60, check=False,
    )  # fmt: skip


GOOD = """
    from cronjobs import JobContext, job

    @job(schedule="0 */4 * * *", description="Tidy up.")
    def tidy(ctx: JobContext) -> dict:
        return {"tidied": len(ctx.args)}

    @job("fail-loudly", every="1h")
    async def fails(ctx):
        raise RuntimeError("the upstream API said no")
"""


def test_registered_jobs_are_subcommands_with_help(tmp_path: Path) -> None:
    cwd = app_module(tmp_path, GOOD)
    listed = cronjobs_at(cwd, "list")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert "0 */4 * * *" in rows["tidy"] and "Tidy up." in rows["tidy"]
    assert "0 * * * *" in rows["fail-loudly"]
    top = cronjobs_at(cwd, "--help")
    assert "tidy" in top.stdout and "fail-loudly" in top.stdout
    own = cronjobs_at(cwd, "tidy", "--help")
    assert "Default schedule: '0 */4 * * *' (UTC). Registered in appjobs." in " ".join(
        own.stdout.split()
    )
    assert "--dry-run" not in own.stdout, "not mutating: no --dry-run"


def test_a_job_runs_with_its_args_and_a_raising_job_exits_1(tmp_path: Path) -> None:
    cwd = app_module(tmp_path, GOOD)
    ok = cronjobs_at(cwd, "tidy", "-o", "json", "a", "b")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["returned"] == {"tidied": 2}
    typo = cronjobs_at(cwd, "tidy", "--dryrun")
    assert typo.returncode == 2 and "No such option '--dryrun'" in typo.stderr
    dashed = cronjobs_at(cwd, "tidy", "-o", "json", "--", "--x")
    assert json.loads(dashed.stdout)["returned"] == {"tidied": 1}
    failed = cronjobs_at(cwd, "fail-loudly")
    assert failed.returncode == 1
    assert "Error: unexpected RuntimeError: the upstream API said no" in failed.stderr
    assert "Traceback" not in failed.stderr


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "@job(schedule='0 2 * * *')\ndef cleanup_old_sessions(): pass",
            "job 'cleanup-old-sessions' (registered in appjobs): the name 'cleanup-old-sessions' "
            "is taken by the built-in job `cronjobs cleanup-old-sessions`: pick another name",
        ),
        (
            "@job(schedule='0 25 * * *')\ndef x(): pass",
            "the hour field '25' is out of range: hour is 0-23",
        ),
        (
            "@job(schedule='0 0 * * 7')\ndef x(): pass",
            "schedule '0 0 * * 7': the day-of-week field '7' is out of range: day-of-week is 0-6 "
            "(0 = Sunday) or SUN-SAT",
        ),
        (
            "@job(schedule='5-1 * * * *')\ndef x(): pass",
            "schedule '5-1 * * * *': the minute field '5-1' has a range whose start is after its end",
        ),
        (
            "@job(schedule='0 0 31 2 *')\ndef x(): pass",
            "schedule '0 0 31 2 *': it never fires: none of the months in the month field '2' has a "
            "day in the day-of-month field '31'",
        ),
        ("@job(schedule='0 2 * *')\ndef x(): pass", "4 fields; cron has 5"),
        ("@job()\ndef x(): pass", "give schedule= (a cron expression"),
        ("@job(schedule='@daily', every='1h')\ndef x(): pass", "exactly one of them"),
        ("@job(every='7m')\ndef x(): pass", "every='7m' cannot be a cron schedule"),
        ("@job('Bad_Name', every='1h')\ndef x(): pass", "the name must be lower-case"),
        ("@job(every='1h')\ndef x(a, b): pass", "takes 2 arguments without defaults (a, b)"),
        ("@job(every='1h', needs=('mysql',))\ndef x(): pass", "needs ['mysql']"),
        ("import not_installed_anywhere", "no module named 'not_installed_anywhere'"),
        ("raise ValueError('bad config at import')", "ValueError: bad config at import"),
        ("def broken(:\n    pass", "SyntaxError"),
        (
            "raise SystemExit(0)",
            "cannot import appjobs (CRONJOBS_JOB_MODULES module 'appjobs'): it "
            "raised SystemExit(0) while being imported (sys.exit() at module level?)",
        ),
        ("import sys\nsys.exit(3)", "it raised SystemExit(3) while being imported"),
        (
            "raise KeyboardInterrupt",
            "cannot import appjobs (CRONJOBS_JOB_MODULES module "
            "'appjobs'): KeyboardInterrupt while it was being imported",
        ),
    ],
)
def test_a_bad_registration_is_exit_2_naming_the_module(
    tmp_path: Path, source: str, message: str
) -> None:
    cwd = app_module(tmp_path, "from cronjobs import job\n" + source + "\n")
    for args in (["list"], ["x"], ["chart-values"]):
        result = cronjobs_at(cwd, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, result.stderr
        assert "appjobs" in result.stderr and "Traceback" not in result.stderr
    helped = cronjobs_at(cwd, "--help")  # still shows the built-ins, and says what is wrong
    assert helped.returncode == 0 and "health-check" in helped.stdout
    assert "Warning: " in helped.stderr and message in helped.stderr
    builtin = cronjobs_at(cwd, "health-check", env={"QDRANT_PATH": str(tmp_path)})
    assert "appjobs" not in builtin.stderr, "a built-in runs without importing the app"


BUILTIN = "is taken by the built-in command `cronjobs {0}`, which would run instead of the job"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        *[
            (f"@job(name={name!r}, schedule='0 0 * * *')\ndef x(): pass", BUILTIN.format(name))
            for name in ("init-db", "list", "run", "demo", "chart-values", "retention")
        ],
        ("@job(every='1h')\ndef import_apscheduler(): pass", BUILTIN.format("import-apscheduler")),
        (
            "@job(every='1h')\ndef health_check_job(): pass",
            "the name 'health-check-job' is taken by the built-in job `cronjobs health-check` (as "
            "health_check_job)",
        ),
        (
            "@job(name='cleanup-redis-cache', every='1h')\ndef x(): pass",
            "is taken by the built-in job `cronjobs cleanup-redis-cache`",
        ),
    ],
)
def test_a_job_named_like_a_builtin_command_is_exit_2(
    tmp_path: Path, source: str, message: str
) -> None:
    """Else its CronJob would run the built-in (`cronjobs init-db` runs DDL, not the job)."""
    cwd = app_module(tmp_path, "from cronjobs import job\n" + source + "\n")
    result = cronjobs_at(cwd, "chart-values")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "pick another name (@job(name=...))" in result.stderr
    assert "registered in appjobs" in result.stderr and "jobs:" not in result.stdout


def test_a_function_named_like_a_builtin_command_keeps_its_jobs_name_as_alias(
    tmp_path: Path,
) -> None:
    cwd = app_module(
        tmp_path,
        """
        from cronjobs import job

        @job(name="setup-db", every="1h")
        def init_db(ctx):
            return "set up"

        @job(name="nightly-run", every="1d")
        def run(ctx):
            return "ran"
        """,
    )
    listed = cronjobs_at(cwd, "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    ids = {j["command"]: j["id"] for j in json.loads(listed.stdout) if not j["builtin"]}
    assert ids == {"setup-db": "setup_db", "nightly-run": "nightly_run"}
    ran = cronjobs_at(cwd, "setup_db")
    assert ran.returncode == 0 and ran.stdout.strip() == "set up", ran.stderr


def test_the_names_kept_for_builtin_commands_are_the_clis() -> None:
    from cronjobs.cli import cli
    from cronjobs.registry import BUILTIN_COMMANDS, registered

    jobs = {j.command for j in registered() if j.builtin}
    assert sorted(BUILTIN_COMMANDS) == sorted(set(cli.commands) - jobs)


def test_a_schedule_that_never_fires_is_refused() -> None:
    from cronjobs.registry import cron_problem

    assert cron_problem("0 0 31 2 *") == (
        "it never fires: none of the months in the month field '2' has a day in the "
        "day-of-month field '31' (Kubernetes accepts the schedule and never starts the job: "
        "InvalidSchedule); choose days those months have"
    )
    for schedule in ("0 0 31 2,3 *", "0 0 31 2 */2", "0 0 */31 2 *", "0 0 29 2 *"):
        assert cron_problem(schedule) is None, schedule


@pytest.mark.parametrize(
    ("every", "cron"),
    [("15m", "*/15 * * * *"), ("120m", "0 */2 * * *"), ("24h", "0 0 * * *"),
     ("1440m", "0 0 * * *"), ("1d", "0 0 * * *"), ("168h", "0 0 * * 0"),
     ("10080m", "0 0 * * 0"), ("7d", "0 0 * * 0"), (" 1h ", "0 * * * *")],
)  # fmt: skip
def test_every_accepts_the_intervals_the_chart_accepts(every: str, cron: str) -> None:
    """The chart's cronjobs.everyToCron counts in minutes: a week is 7d, 168h or 10080m."""
    from cronjobs.registry import every_to_cron

    assert every_to_cron(every, "job 'x'") == cron


def test_every_is_stored_as_the_chart_reads_it(tmp_path: Path) -> None:
    """`every=" 1h"` reaches the chart's values as "1h" (its schema refuses the space)."""
    cwd = app_module(tmp_path, "from cronjobs import job\n@job(every=' 1h')\ndef tidy(): pass\n")
    result = cronjobs_at(cwd, "chart-values")
    assert result.returncode == 0, result.stderr
    assert "  tidy:\n    every: 1h\n" in result.stdout, result.stdout


def test_an_import_error_is_scrubbed(tmp_path: Path) -> None:
    cwd = app_module(tmp_path, "import os\nraise RuntimeError(os.environ['DATABASE_URL'])\n")
    result = cronjobs_at(cwd, "list", env={"DATABASE_URL": "postgresql://app:Sw0rdf1sh!@db/app"})
    assert result.returncode == 2
    assert "Sw0rdf1sh" not in result.stderr and "postgresql://app:***@db/app" in result.stderr


def test_a_database_job_holds_its_lock(tmp_path: Path) -> None:
    cwd = app_module(
        tmp_path,
        """
        import time
        from pathlib import Path
        from cronjobs import job

        @job(every="1h", needs=("database",), mutating=True)
        def slow(ctx):
            Path("started").touch()
            while not Path("release").exists():
                time.sleep(0.05)
            return "finished"
        """,
    )
    db = tmp_path / "app.db"
    db.touch()
    env = {"DATABASE_URL": f"sqlite:///{db}"}
    full = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CRONJOBS_"))}
    first = subprocess.Popen(
        [sys.executable, "-m", "cronjobs", "slow"], cwd=cwd, text=True,
        env={**full, **env, "CRONJOBS_JOB_MODULES": "appjobs", "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    while not (tmp_path / "started").exists():
        assert first.poll() is None, first.communicate()
    second = cronjobs_at(cwd, "slow", env=env)
    (tmp_path / "release").touch()
    out, _ = first.communicate(timeout=30)
    assert second.returncode == 3, second.stderr
    assert "another run of slow is in progress" in second.stderr
    assert first.returncode == 0 and out.strip() == "finished"
    dry = cronjobs_at(cwd, "slow", "--dry-run", env=env)  # a dry run takes no lock: not blocked
    assert dry.returncode == 0


def test_a_sync_job_sees_the_stop_event_and_exits_4(tmp_path: Path) -> None:
    cwd = app_module(
        tmp_path,
        """
        import time
        from pathlib import Path
        from cronjobs import job

        @job(every="1h")
        def steps(ctx):
            done = 0
            Path("started").touch()
            while not ctx.stop.is_set():
                time.sleep(0.05)
                done += 1
            return {"steps": done}
        """,
    )
    full = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CRONJOBS_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cronjobs", "steps"], cwd=cwd, text=True,
        env={**full, "CRONJOBS_JOB_MODULES": "appjobs", "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    while not (tmp_path / "started").exists():
        assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 4, err
    assert out.startswith("steps: ") and "interrupted by SIGTERM" in out


def test_run_refuses_what_is_not_a_function(tmp_path: Path) -> None:
    cwd = app_module(tmp_path, "VALUE = 3\ndef two(a, b): pass\n")
    for target, message in [
        ("appjobs", "'appjobs' is not MODULE:FUNCTION"),
        ("appjobs:VALUE", "appjobs has no function 'VALUE'"),
        ("appjobs:two", "appjobs:two takes 2 arguments (a, b)"),
        ("nowhere:f", "cannot import nowhere (cronjobs run): no module named 'nowhere'"),
    ]:
        result = cronjobs_at(cwd, "run", target, env={"CRONJOBS_JOB_MODULES": ""})
        assert result.returncode == 2, result.stderr
        assert message in result.stderr


LEAKY = """
    import logging, os
    logging.getLogger("appjobs").warning("connecting with %s", os.environ["DATABASE_URL"])
    raise ValueError("bad URL " + os.environ["DATABASE_URL"])
"""


@pytest.mark.parametrize("args", [["--help"], ["list"], ["x"], ["--log-format", "json", "x"]])
def test_an_app_module_that_prints_the_url_at_import_is_scrubbed(
    tmp_path: Path, args: list[str]
) -> None:
    """The app's modules are imported while click still parses (for --help, or to find a
    job's name): the secrets are known and the logs scrubbed before that."""
    cwd = app_module(tmp_path, LEAKY)
    result = cronjobs_at(cwd, *args, env={"DATABASE_URL": "postgresql://app:Zq9Xbk7wP@db/app"})
    assert "Zq9Xbk7wP" not in result.stdout + result.stderr
    assert "postgresql://app:***@db/app" in result.stderr


WRAPPED = """
    import functools
    from cronjobs import job

    def retried(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            return f(*args, **kwargs)
        return wrapper

    @job(every="1h")
    @retried
    async def wrapped(ctx):
        return {"awaited": 1}

    @job(every="1h")
    def yields(ctx):
        yield 1

    class Odd:
        exit_code = 7
        def lines(self):
            return ["odd"]
        def counts(self):
            return {"n": "x", "m": 2}

    @job(every="1h")
    def odd(ctx):
        return Odd()
"""


def test_an_async_job_behind_a_plain_wrapper_is_awaited(tmp_path: Path) -> None:
    cwd = app_module(tmp_path, WRAPPED)
    result = cronjobs_at(cwd, "wrapped")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "awaited: 1" and "never awaited" not in result.stderr


def test_a_generator_job_and_odd_results_get_documented_codes(tmp_path: Path) -> None:
    cwd = app_module(tmp_path, WRAPPED)
    yields = cronjobs_at(cwd, "yields")
    assert yields.returncode == 2 and "appjobs.yields yields" in yields.stderr
    log = tmp_path / "termination-log"
    odd = cronjobs_at(cwd, "odd", env={"CRONJOBS_TERMINATION_LOG": str(log)})
    assert odd.returncode == 1, "an exit code cronjobs does not use is a failure"
    summary = json.loads(log.read_text())
    assert summary["counts"] == {"m": 2} and summary["run_id"]


@pytest.mark.parametrize("args", [["--help"], ["list"], ["x"]])
def test_an_app_module_that_prints_the_url_at_import_is_scrubbed_too(
    tmp_path: Path, args: list[str]
) -> None:
    """print() at import time (discovery, while click parses) goes out scrubbed."""
    cwd = app_module(tmp_path, "import os, sys\nprint('url', os.environ['DATABASE_URL'])\n"
                     "print('err', os.environ['DATABASE_URL'], file=sys.stderr)\n")  # fmt: skip
    result = cronjobs_at(cwd, *args, env={"DATABASE_URL": "postgresql://app:Zq9Xbk7wP@db/app"})
    assert "Zq9Xbk7wP" not in result.stdout + result.stderr
    assert "url postgresql://app:***@db/app" in result.stdout
    assert "err postgresql://app:***@db/app" in result.stderr


HANGS = """
    import time
    from cronjobs import job

    @job(every="1h")
    def never(ctx):
        return None

    while True:  # waits for a server that never answers
        time.sleep(0.1)
"""


def test_an_app_module_that_hangs_at_import_is_stopped_with_a_message(tmp_path: Path) -> None:
    """Issue 23: `cronjobs --help` hung for ever. With CRONJOBS_IMPORT_TIMEOUT=1, --help shows
    the built-ins with a warning naming the module; `list` and the job are exit 2."""
    cwd = app_module(tmp_path, HANGS)
    env = {"CRONJOBS_IMPORT_TIMEOUT": "1"}
    helped = cronjobs_at(cwd, "--help", env=env)
    assert helped.returncode == 0, helped.stderr
    assert "health-check" in helped.stdout
    slow = "it took longer than 1s to import (CRONJOBS_IMPORT_TIMEOUT)"
    source = "CRONJOBS_JOB_MODULES module 'appjobs'"
    assert f"Warning: cannot import appjobs ({source}): {slow}" in helped.stderr
    for args in (["list"], ["never"], ["run", "appjobs:never"]):
        result = cronjobs_at(cwd, *args, env={**env, "CRONJOBS_JOB_MODULES": ""} if
                             args[0] == "run" else env)  # fmt: skip
        where = "cronjobs run" if args[0] == "run" else source
        assert result.returncode == 2, result.stderr
        assert f"Error: cannot import appjobs ({where}): {slow}" in result.stderr
        assert "connect inside the job function" in result.stderr
        assert "Traceback" not in result.stderr
    bad = cronjobs_at(cwd, "list", env={"CRONJOBS_IMPORT_TIMEOUT": "soon"})
    assert bad.returncode == 2
    assert "CRONJOBS_IMPORT_TIMEOUT must be a number of seconds above 0" in bad.stderr
