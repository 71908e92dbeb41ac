"""The chart agrees with the job catalogue and the real `cronjobs` CLI.

The catalogue (jobs/cronjobs/builtin/catalogue.py, printed by `cronjobs list -o json`) is the single source of
truth: the chart's default jobs, their schedules, the subcommands the templates accept and the
schema's `subcommand` enum all follow it. Container args are parsed by the real click parser.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import click
import pytest
import yaml
from chart_helpers import CHART, ROOT, by_kind, cronjobs_by_component

from cronjobs import cron
from cronjobs.builtin.catalogue import JOBS


def test_default_jobs_are_the_catalogue_with_its_schedules(
    default_docs: list[dict[str, Any]],
) -> None:
    rendered = {
        key: cj["spec"]["schedule"] for key, cj in cronjobs_by_component(default_docs).items()
    }
    assert rendered == {job.command: job.schedule for job in JOBS}


def test_default_jobs_agree_with_cronjobs_list_json(default_docs: list[dict[str, Any]]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cronjobs", "list", "-o", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    listed = {entry["command"]: entry["schedule"] for entry in json.loads(proc.stdout)}
    rendered = {
        key: cj["spec"]["schedule"] for key, cj in cronjobs_by_component(default_docs).items()
    }
    assert rendered == listed


def test_values_yaml_jobs_are_the_catalogue() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert {key: job["schedule"] for key, job in values["jobs"].items()} == {
        job.command: job.schedule for job in JOBS
    }


def test_a_job_key_of_the_apps_runs_its_own_subcommand(render: Any) -> None:
    """The chart runs any job (an app's @job, or `run module:function`), not only the
    built-ins: the schema asks for a name, and the subcommand defaults to the key."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert "enum" not in schema["$defs"]["job"]["properties"]["subcommand"]
    docs = render(
        "--set", "jobs.expire-carts.schedule=0 */4 * * *",
        "--set", "jobs.legacy.every=15m",
        "--set", "jobs.legacy.subcommand=run",
        "--set", "jobs.legacy.args={app.services.cron_jobs:cleanup}",
        "--show-only", "templates/cronjob.yaml",
    )  # fmt: skip
    args = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d["spec"]["jobTemplate"]["spec"][
            "template"
        ]["spec"]["containers"][0]["args"]
        for d in docs
    }
    assert args["expire-carts"] == ["expire-carts"]
    assert args["legacy"] == ["run", "app.services.cron_jobs:cleanup"]


def _parse(args: list[str]) -> click.Context:
    """Parse container args exactly as the image's ENTRYPOINT `cronjobs` would."""
    from cronjobs.cli import cli

    group_ctx = cli.make_context("cronjobs", list(args), resilient_parsing=False)
    cmd = cli.get_command(group_ctx, args[0])
    assert cmd is not None, f"`cronjobs {args[0]}` is not a subcommand"
    return cmd.make_context(args[0], list(args[1:]), parent=group_ctx)


def test_container_args_are_valid_cronjobs_invocations(
    all_renders: dict[str, list[dict[str, Any]]],
) -> None:
    seen = set()
    for name, docs in all_renders.items():
        for cj in by_kind(docs, "CronJob"):
            (container,) = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
            assert "command" not in container, "the image's ENTRYPOINT (cronjobs) must run"
            args = container["args"]
            try:
                ctx = _parse(args)
            except click.ClickException as e:
                pytest.fail(f"{name}: {cj['metadata']['name']}: `cronjobs {' '.join(args)}`: {e}")
            seen.add(tuple(args))
            if "--dry-run" in args:
                assert ctx.params["dry_run"] is True
    assert ("cleanup-old-sessions", "--dry-run", "--batch-size", "1000") in seen
    assert ("health-check", "-o", "json") in seen


def test_a_bad_flag_is_caught_by_the_parser() -> None:
    """The check above can fail: health-check takes no --dry-run."""
    with pytest.raises(click.UsageError, match="--dry-run"):
        _parse(["health-check", "--dry-run"])


def test_log_format_env_is_a_choice_of_the_cli(default_docs: list[dict[str, Any]]) -> None:
    from cronjobs.cli import cli

    (option,) = [p for p in cli.params if p.name == "log_format"]
    assert option.envvar == "CRONJOBS_LOG_FORMAT"
    for cj in by_kind(default_docs, "CronJob"):
        env = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
        value = {e["name"]: e.get("value") for e in env}["CRONJOBS_LOG_FORMAT"]
        assert value in option.type.choices  # type: ignore[attr-defined]


def test_secret_env_vars_are_the_ones_the_entrypoint_reads(
    default_docs: list[dict[str, Any]],
) -> None:
    from cronjobs.settings import ENV

    for cj in by_kind(default_docs, "CronJob"):
        env = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
        from_secret = {e["name"] for e in env if "secretKeyRef" in e.get("valueFrom", {})}
        assert from_secret == {"DATABASE_URL", "REDIS_URL", "QDRANT_URL", "QDRANT_API_KEY"}
        assert from_secret <= set(ENV.values())


def test_every_run_is_given_what_its_tick_is_read_from(
    default_docs: list[dict[str, Any]],
) -> None:
    """The controller's Job name (a label on every pod), cronctl's annotation, and the CronJob's
    own name to match the Job name against (jobs/cronjobs/tick.py)."""
    from cronjobs import tick

    for cj in by_kind(default_docs, "CronJob"):
        env = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
        by_name = {e["name"]: e for e in env}
        assert by_name[tick.CRONJOB]["value"] == cj["metadata"]["name"]
        field = {
            n: by_name[n]["valueFrom"]["fieldRef"]["fieldPath"]
            for n in (tick.JOB_NAME, tick.SCHEDULED_AT)
        }
        assert field == {
            tick.JOB_NAME: "metadata.labels['batch.kubernetes.io/job-name']",
            tick.SCHEDULED_AT: f"metadata.annotations['{tick.ANNOTATION}']",
        }


def test_active_deadline_is_shorter_than_each_jobs_interval(
    all_renders: dict[str, list[dict[str, Any]]],
) -> None:
    """A run is stopped before the next one is due (so Forbid never skips a run for a hung one)."""
    start = datetime(2025, 1, 6, tzinfo=UTC)
    for name, docs in all_renders.items():
        for cj in by_kind(docs, "CronJob"):
            times = _runs(cj["spec"]["schedule"], start, 50)
            shortest = min((b - a).total_seconds() for a, b in pairwise(times))
            deadline = cj["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"]
            assert deadline < shortest, f"{name}: {cj['metadata']['name']}"


def _runs(schedule: str, start: datetime, count: int) -> list[datetime]:
    parsed, times = cron.parse(schedule), [start]
    for _ in range(count):
        nxt = parsed.next(times[-1])
        assert nxt is not None, schedule
        times.append(nxt)
    return times[1:]


def test_rendered_time_zones_exist(all_renders: dict[str, list[dict[str, Any]]]) -> None:
    for docs in all_renders.values():
        for cj in by_kind(docs, "CronJob"):
            ZoneInfo(cj["spec"]["timeZone"])  # raises for an unknown zone
