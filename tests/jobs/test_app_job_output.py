"""What an app's own job prints, whatever it does: no secret in its logs or its result (its
settings, exceptions quoting the URL, bytes), valid JSON for any value it returns, one JSON
shape on stdout with `-o json` even when a run fails, and sys.exit() inside a job is the
runner's to turn into an exit code. Each case runs the real `cronjobs` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.jobs.helpers import REPO

SECRET = "Zebra99Secret"
URL = f"redis://simple:{SECRET}@127.0.0.1:1/0"

JOBS = """
    import sys
    from cronjobs import JobContext, job

    @job(every="1h", needs=["redis"])
    def chatty(ctx: JobContext) -> dict:
        error = ConnectionError(f"cannot reach {ctx.settings.redis_url}")
        ctx.log.warning("retrying", extra={"error": error, "settings": ctx.settings})
        ctx.log.warning("raw", extra={"raw": ctx.settings.redis_url.encode()})
        return {"settings": ctx.settings, "url": str(ctx.settings), "ctx": repr(ctx)}

    @job(every="1h")
    def odd_numbers(ctx: JobContext) -> dict:
        return {"nan": float("nan"), "inf": float("inf"), "fine": 1.5}

    @job(every="1h", needs=["redis"])
    def gives_up(ctx: JobContext) -> None:
        sys.exit("giving up on " + ctx.settings.redis_url)

    @job(every="1h")
    def exits_3(ctx: JobContext) -> None:
        sys.exit(3)

    @job(every="1h")
    async def exits_quietly(ctx: JobContext) -> None:
        sys.exit(0)

    def bye():  # not registered: `cronjobs run appjobs:bye`
        sys.exit(3)

    @job(every="1h", needs=["redis"])
    def printer(ctx: JobContext) -> None:
        url = ctx.settings.redis_url
        print("connecting to", url)
        sys.stdout.write(url[:12])  # one line in two writes: the secret split between them
        sys.stdout.write(url[12:] + " done\\n")
        print("on stderr:", url, file=sys.stderr)
        sys.stdout.write("no newline " + url)

    def prints():  # not registered: `cronjobs run appjobs:prints`
        import os
        print("url", os.environ["REDIS_URL"])
"""


def _cronjobs(tmp_path: Path, *args: str) -> Any:
    (tmp_path / "appjobs.py").write_text(textwrap.dedent(JOBS))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CRONJOBS_"))}
    env.update(
        CRONJOBS_LOG_FORMAT="json",
        CRONJOBS_JOB_MODULES="appjobs",
        PYTHONPATH=str(REPO),
        REDIS_URL=URL,
    )
    return subprocess.run(
        [sys.executable, "-m", "cronjobs", *args], capture_output=True, text=True, env=env,
        cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip


def test_no_secret_in_what_a_job_logs_or_returns(tmp_path: Path) -> None:
    for output in ("text", "json"):
        result = _cronjobs(tmp_path, "chatty", "-o", output)
        assert result.returncode == 0, result.stderr
        assert SECRET not in result.stdout + result.stderr
        assert "simple:***@127.0.0.1" in result.stdout
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    retrying = next(line for line in lines if line["message"] == "retrying")
    assert "cannot reach redis://simple:***@" in retrying["error"]


def test_json_output_is_valid_for_any_float(tmp_path: Path) -> None:
    result = _cronjobs(tmp_path, "odd-numbers", "-o", "json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert shown["returned"] == {"nan": None, "inf": None, "fine": 1.5}


def test_sys_exit_in_a_job_is_a_failure_with_exit_1(tmp_path: Path) -> None:
    for name in ("gives-up", "exits-3"):
        result = _cronjobs(tmp_path, name)
        assert result.returncode == 1, (name, result.stderr)
        assert "called sys.exit(" in result.stderr and SECRET not in result.stderr
        assert '"message": "finished"' not in result.stderr
        assert any(
            json.loads(line).get("message", "").startswith("failed: ")
            for line in result.stderr.splitlines()
            if line.startswith("{")
        )
    assert "appjobs.exits_3 called sys.exit(3)" in result.stderr
    unregistered = _cronjobs(tmp_path, "run", "appjobs:bye")
    assert unregistered.returncode == 1
    assert "Error: appjobs:bye called sys.exit(3)" in unregistered.stderr
    quiet = _cronjobs(tmp_path, "exits-quietly")
    assert quiet.returncode == 0, quiet.stderr
    assert '"message": "finished"' in quiet.stderr


def test_a_failed_run_still_answers_json_on_stdout(tmp_path: Path) -> None:
    result = _cronjobs(tmp_path, "gives-up", "-o", "json")
    assert result.returncode == 1
    shown = json.loads(result.stdout)
    assert shown["command"] == "gives-up" and shown["exit_code"] == 1
    assert "called sys.exit(" in shown["error"] and SECRET not in result.stdout


def test_what_a_job_prints_is_scrubbed(tmp_path: Path) -> None:
    """Issue 23: print() inside an app job went out as it was. Now its stdout and stderr are
    scrubbed line by line while the job runs (registered, or by `cronjobs run`)."""
    result = _cronjobs(tmp_path, "printer")
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert "connecting to redis://simple:***@127.0.0.1:1/0\n" in result.stdout
    assert "redis://simple:***@127.0.0.1:1/0 done\n" in result.stdout
    assert "no newline redis://simple:***@127.0.0.1:1/0" in result.stdout
    assert "on stderr: redis://simple:***@127.0.0.1:1/0" in result.stderr
    ran = _cronjobs(tmp_path, "run", "appjobs:prints")
    assert ran.returncode == 0, ran.stderr
    assert SECRET not in ran.stdout + ran.stderr
    assert "url redis://simple:***@127.0.0.1:1/0" in ran.stdout
