"""Issue 26 item 1: a connection flag reaches the app's code as the variable it stands for.

An APScheduler-era job takes no arguments and its app's settings read the environment
(`os.environ["DATABASE_URL"]`); `cronjobs run app.mod:x --database-url ...` failed with
KeyError. Each case runs the real `cronjobs` process on an app module that writes what it
read (at import and when run) to a file; the values never show in the output."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from cronjobs.settings import flags_in
from tests.jobs.helpers import invoke
from tests.jobs.test_registry import app_module, cronjobs_at

APP = """
    import json, os
    from cronjobs import job

    NAMES = ("DATABASE_URL", "REDIS_URL", "QDRANT_URL", "QDRANT_API_KEY")
    AT_IMPORT = {n: os.environ.get(n) for n in NAMES}

    def _write(what):
        with open("seen.json", "w") as f:
            json.dump({"import": AT_IMPORT, "run": {n: os.environ.get(n) for n in NAMES}}, f)
        return what

    def nightly():  # APScheduler style: no arguments, settings from the environment
        os.environ["DATABASE_URL"]  # KeyError before the fix
        return _write({"ok": 1})

    @job(every="1h", needs=("database", "redis", "qdrant"))
    def registered(ctx):
        return _write({"ok": 1})
"""
PASSWORD = "Fl4gS3cretPw"
KEY = "qdr-K3y-0123456789"


def _flags(tmp_path: Path) -> dict[str, str]:
    db = tmp_path / "app.db"
    db.touch()
    return {
        "DATABASE_URL": f"sqlite:///{db}",
        "REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:1/0",
        "QDRANT_URL": "http://127.0.0.1:1",
        "QDRANT_API_KEY": KEY,
    }


def _argv(flags: dict[str, str]) -> list[str]:
    return [
        a for name, value in flags.items() for a in (f"--{name.lower().replace('_', '-')}", value)
    ]


def test_run_exports_the_flags_before_the_module_is_imported(tmp_path: Path) -> None:
    cwd = app_module(tmp_path, APP)
    flags = _flags(tmp_path)
    result = cronjobs_at(
        cwd, "run", "appjobs:nightly", *_argv(flags), env={"CRONJOBS_JOB_MODULES": ""}
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen == {"import": flags, "run": flags}
    assert (
        PASSWORD not in result.stdout + result.stderr and KEY not in result.stdout + result.stderr
    )


def test_a_registered_job_sees_its_flags_at_import_and_when_run(tmp_path: Path) -> None:
    cwd = app_module(tmp_path, APP)
    flags = _flags(tmp_path)
    args = _argv(flags)
    args[1] = f"--database-url={flags['DATABASE_URL']}"  # the other spelling
    del args[0]
    result = cronjobs_at(cwd, "registered", *args, "--timeout", "1")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "seen.json").read_text()) == {"import": flags, "run": flags}
    assert (
        PASSWORD not in result.stdout + result.stderr and KEY not in result.stdout + result.stderr
    )


def test_a_flag_wins_over_the_variable_and_nothing_stays_behind(tmp_path: Path) -> None:
    """In process (click's runner): the flag's value replaces the variable's for the app, and
    the environment is as it was once the command is done. (A module of its own, registering
    nothing, removed again: the test process's registry stays as it was.)"""
    app_module(tmp_path, APP.split("    @job")[0], name="plainjobs")
    flags = _flags(tmp_path)
    before, path = dict(os.environ), list(sys.path)
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = invoke(
            "run", "plainjobs:nightly", "--database-url", flags["DATABASE_URL"],
            env={"DATABASE_URL": "sqlite:////nowhere/else.db"},
        )  # fmt: skip
    finally:
        os.chdir(here)
        sys.modules.pop("plainjobs", None)
        sys.path[:] = path
    assert result.exit_code == 0, result.stderr
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["run"]["DATABASE_URL"] == seen["import"]["DATABASE_URL"] == flags["DATABASE_URL"]
    assert dict(os.environ) == before


def test_flags_are_read_as_click_reads_them() -> None:
    assert flags_in(["--database-url", "a", "--redis-url=b", "--database-url", "c"]) == {
        "database_url": "c",
        "redis_url": "b",
    }
    assert flags_in(["x", "--", "--database-url", "a"]) == {}
    assert flags_in(["--database-url"]) == {}
