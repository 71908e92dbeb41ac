"""Item 4 of issue 13: `cronctl trigger NAME -- ARG...` appends arguments the chart allowlisted
for the job (the CronJob's cronctl.cronjobs.dev/allowed-args annotation); anything else is
refused with the allowlist in the message, and nothing is created."""

from __future__ import annotations

import json

import pytest

from cronjobs.cronctl.errors import ConfigError
from cronjobs.cronctl.model import ALLOWED_ARGS, TRIGGER_ARGS
from tests.cronctl.conftest import Cluster

NAME = "web-cronjobs-cleanup-old-sessions"
ALLOWED = json.dumps(["--dry-run", "--date="])


def test_allowlisted_arguments_are_appended_and_recorded(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, annotations={ALLOWED_ARGS: ALLOWED})

    result = cluster.run("trigger", NAME, "--", "--dry-run", "--date", "2026-11-30")

    assert result.exit_code == 0, result.stderr
    [job] = cluster.jobs()
    name = job["metadata"]["name"]
    assert result.stdout == f"job.batch/{name} created with --dry-run --date 2026-11-30\n"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["cleanup-old-sessions", "--dry-run", "--date=2026-11-30"]
    annotations = job["metadata"]["annotations"]
    assert json.loads(annotations[TRIGGER_ARGS]) == ["--dry-run", "--date=2026-11-30"]
    assert annotations["cronctl.cronjobs.dev/triggered-by"] == "tester"
    wide = cluster.run("history", NAME, "-o", "wide").stdout
    assert "tester (--dry-run --date=2026-11-30)" in wide
    [run] = json.loads(cluster.run("history", NAME, "-o", "json").stdout)
    assert run["trigger_args"] == ["--dry-run", "--date=2026-11-30"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--delete-everything"], "argument '--delete-everything' is not on the allowlist"),
        (["--date"], "argument --date needs a value"),
        (["--dry-run=yes"], "argument --dry-run takes no value"),
        (["2026-11-30"], "argument '2026-11-30' is not on the allowlist"),
    ],
)
def test_anything_else_is_refused_with_the_allowlist(
    cluster: Cluster, args: list[str], message: str
) -> None:
    cluster.add_cronjob(NAME, annotations={ALLOWED_ARGS: ALLOWED})

    result = cluster.run("trigger", NAME, "--", *args)

    assert result.exit_code == 2
    assert f"Error: {message}: allowed for {NAME}: --dry-run, --date=VALUE." in result.stderr
    assert "jobs.<key>.allowedTriggerArgs" in result.stderr
    assert cluster.jobs() == []


def test_without_an_allowlist_no_argument_is_accepted(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME)

    result = cluster.run("trigger", NAME, "--dry-run", "-o", "json", "--", "--dry-run")

    assert result.exit_code == 2
    assert f"{NAME} allows no arguments" in result.stderr
    plain = cluster.run("trigger", NAME, "--dry-run", "-o", "json")
    job = json.loads(plain.stdout)
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["cleanup-old-sessions"]
    assert TRIGGER_ARGS not in job["metadata"]["annotations"]


def test_the_python_api_takes_the_same_arguments(cluster: Cluster) -> None:
    cluster.add_cronjob(NAME, annotations={ALLOWED_ARGS: ALLOWED})
    controller = cluster.controller()

    done = controller.trigger(NAME, args=("--date=2026-11-30",), who="web:alice")

    assert done.job["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "--date=2026-11-30"
    assert done.job["metadata"]["annotations"]["cronctl.cronjobs.dev/triggered-by"] == "web:alice"
    with pytest.raises(ConfigError, match="not on the allowlist"):
        controller.trigger(NAME, args=("--force",))
    assert len(cluster.jobs()) == 1
