"""`cronjobs.testing`: the documented way to unit-test a job without a cluster. The example app's
own tests use it (run here as the app would run them), and each outcome of a run comes back as
`cronjobs` would report it: the result, a failure, a configuration error, a skipped run."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from cronjobs import JobContext, job, registry
from cronjobs.dbapi import Db, parse
from cronjobs.errors import ConfigError, JobError, Skipped
from cronjobs.testing import context, run
from tests.jobs.helpers import REPO


def test_the_example_apps_own_tests_pass_with_it() -> None:
    app = REPO / "examples" / "app"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(app), str(REPO)])}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider"],
        cwd=app, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


@pytest.fixture
def registered_job(monkeypatch: pytest.MonkeyPatch) -> JobContext:
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    seen: dict[str, JobContext] = {}

    @job("testing-probe", every="1h", needs=("database",), mutating=True)
    def probe(ctx: JobContext) -> dict[str, int]:
        seen["ctx"] = ctx
        if ctx.args == ("fail",):
            raise RuntimeError("the upstream API said no")
        if ctx.args == ("config",):
            raise ConfigError("FOO is not set")
        return {"rows": 3, "dry": int(ctx.dry_run)}

    return probe  # type: ignore[return-value]


def test_run_returns_what_cronjobs_would_report(registered_job: object, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/t.db"
    create_engine(url).connect().close()  # the file must exist, as for `cronjobs`
    result = run(registered_job, database_url=url, dry_run=True)  # type: ignore[arg-type]
    assert result.returned == {"rows": 3, "dry": 1}
    assert result.exit_code == 0 and result.counts() == {"rows": 3, "dry": 1}
    with pytest.raises(JobError, match="the upstream API said no") as failed:
        run(registered_job, database_url=url, args=("fail",))  # type: ignore[arg-type]
    assert failed.value.exit_code == 1
    with pytest.raises(ConfigError, match="FOO is not set") as config:
        run(registered_job, database_url=url, args=("config",))  # type: ignore[arg-type]
    assert config.value.exit_code == 2


def test_a_run_while_another_holds_the_lock_is_skipped(
    registered_job: object, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/t.db"
    engine = create_engine(url)
    engine.connect().close()
    engine.dispose()
    job_id = registry.find("testing-probe").id  # type: ignore[union-attr]
    other_run = Db(parse(url))
    other_run.lock(job_id)
    with pytest.raises(Skipped):
        run(registered_job, database_url=url)  # type: ignore[arg-type]
    other_run.close()


def test_context_checks_settings_as_the_cli_does() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        context(database_url="mysql://u@h/db")
    stop = threading.Event()
    ctx = context(job="x", redis_url="redis://localhost:6379/0", stop=stop, args=("a",))
    assert (ctx.job, ctx.stop, ctx.args, ctx.settings.redis_url) == (
        "x", stop, ("a",), "redis://localhost:6379/0",
    )  # fmt: skip
    ctx.close()


def test_a_context_for_a_registered_job_has_its_flags_defaults() -> None:
    """A job called directly with `context(job=...)` (docs/adding-a-job.md) reads its options
    as the CLI would give them: the defaults under the values given."""
    import cronjobs.builtin.sessions  # noqa: F401  (registers the job, as calling it imports it)

    ctx = context(job="cleanup-old-sessions", options={"batch_size": 10})
    assert ctx.options["older_than_days"] is None  # each rule's days, as without the flag
    assert ctx.options["batch_time"] == 0.1 and ctx.options["batch_size"] == 10
    assert context(job="not-registered").options == {}


def test_options_that_do_not_go_together_are_a_config_error_from_python(tmp_path: Path) -> None:
    """The CLI says so with click's usage error (exit 2); from Python it is the ConfigError
    (exit_code 2) every other configuration error of a run is."""
    from datetime import date

    from cronjobs.builtin.aggregate_daily_analytics import aggregate_daily_analytics

    with pytest.raises(ConfigError, match="--until needs --since") as raised:
        run(
            aggregate_daily_analytics,
            options={"until": date(2026, 1, 2)},
            database_url=f"sqlite:///{tmp_path / 'none.db'}",
        )
    assert raised.value.exit_code == 2


def test_a_contexts_logger_is_the_one_cronjobs_gives_the_job(registered_job: object) -> None:
    """A registered job logs under its module's name, from the CLI and from `context` alike
    (not a `jobs.app` left from the package's old name)."""
    assert context(job="testing-probe").log.name == __name__
    assert context(job="not-registered").log.name == "cronjobs.app.not-registered"
    assert JobContext("x", context().settings, threading.Event()).log.name == "cronjobs.app"
