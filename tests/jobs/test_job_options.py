"""A job's own typed flags (`@job(options=[...])`), as docs/adding-a-job.md shows them: the
example there is the module these tests register, run as `cronjobs` runs it and from Python."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from cronjobs.registry import RegistrationError, job
from tests.jobs.helpers import REPO
from tests.jobs.test_registry import app_module, cronjobs_at


def example() -> str:
    page = (REPO / "docs" / "adding-a-job.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", page, re.S) if "options=[" in b]
    return block


def test_the_documented_flags_are_typed_checked_and_read_by_the_job(tmp_path: Path) -> None:
    cwd = app_module(tmp_path, example())
    shown = cronjobs_at(cwd, "report-slow-pages", "--help")
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "--threshold-ms INTEGER RANGE" in text and "env var: APP_SLOW_PAGE_MS" in text
    assert "--notify / --no-notify" in text and "--scheduled-at" in text
    ran = cronjobs_at(cwd, "report-slow-pages", "--threshold-ms", "1000", "-o", "json")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["returned"] == {"threshold_ms": 1000, "slow_pages": 1}
    by_env = cronjobs_at(cwd, "report-slow-pages", env={"APP_SLOW_PAGE_MS": "100"})
    assert by_env.returncode == 0 and "slow_pages: 3" in by_env.stdout
    assert "slow pages: /, /search, /export" in by_env.stderr  # --notify by default
    bad = cronjobs_at(cwd, "report-slow-pages", "--threshold-ms", "0")
    assert bad.returncode == 2 and "Invalid value for '--threshold-ms'" in bad.stderr
    assert '"started"' not in bad.stderr


def test_a_run_from_python_gets_the_defaults_and_the_options_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cronjobs.errors import ConfigError
    from cronjobs.testing import run

    app_module(tmp_path, example(), name="docs_slow_pages")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "docs_slow_pages", raising=False)
    import docs_slow_pages  # type: ignore[import-not-found]

    func = docs_slow_pages.report_slow_pages
    assert run(func).returned == {"threshold_ms": 800, "slow_pages": 2}
    given = run(func, options={"threshold_ms": 100, "notify": False})
    assert given.returned == {"threshold_ms": 100, "slow_pages": 3}
    with pytest.raises(ConfigError, match="has no option threshold"):
        run(func, options={"threshold": 1})


def test_an_option_that_takes_a_shared_flags_name_is_refused() -> None:
    import click

    with pytest.raises(RegistrationError, match="'--dry-run' takes the name 'dry_run'"):

        @job(every="1h", options=[click.option("--dry-run", is_flag=True)])
        def clashing() -> None:
            return None

    with pytest.raises(RegistrationError, match="options= takes click options"):

        @job(every="1h", options=[lambda f: f])
        def not_an_option() -> None:
            return None
