"""The image's commands, run as the chart's CronJobs run them, from a venv rebuilt as the
Dockerfile builds the image (see conftest.py for how, and what differs from a real image)."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ImageRunner, ImageVenv
from image_helpers import REPO

from jobs.builtin import catalogue
from jobs.cli import cli
from jobs.cronctl.cli import cli as cronctl_cli

CHART = REPO / "charts" / "cronjobs"


def test_the_mimic_is_read_only_except_the_scratch_folder(
    image_run: ImageRunner, image_venv: ImageVenv, tmp_path: Path
) -> None:
    """Guards the other tests: writes outside HOME/TMPDIR fail, as on readOnlyRootFilesystem."""
    script = (
        f"touch {image_venv.root}/probe 2>/dev/null && echo venv-writable; "
        "touch /probe 2>/dev/null && echo root-writable; "
        'touch "$HOME/probe" && echo scratch-writable'
    )
    result = image_run("sh", "-c", script, scratch=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["scratch-writable"]


def test_the_lock_and_the_wheel_installed(image_venv: ImageVenv) -> None:
    assert image_venv.wheel.name == "cronjobs-0.1.0-py3-none-any.whl"
    for script in ("cronjobs", "cronctl"):
        assert (image_venv.bin / script).exists(), f"the wheel installs no `{script}` script"
    assert image_venv.python_version.startswith(("3.12.", "3.11."))


def test_default_command_prints_help(image_run: ImageRunner) -> None:
    """`docker run cronjobs` (ENTRYPOINT cronjobs, CMD --help)."""
    result = image_run("cronjobs", "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: cronjobs [OPTIONS] COMMAND [ARGS]..." in result.stdout
    for command in cli.commands:
        assert f"  {command}" in result.stdout


def test_version_matches_the_wheel(image_run: ImageRunner) -> None:
    result = image_run("cronjobs", "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "cronjobs, version 0.1.0"


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_subcommand_help(image_run: ImageRunner, command: str) -> None:
    result = image_run("cronjobs", command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: cronjobs {command} [OPTIONS]")


def _chart_args(helm_bin: Path) -> list[list[str]]:
    import subprocess

    proc = subprocess.run(
        [str(helm_bin), "template", "image-test", str(CHART)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    docs: list[dict[str, Any]] = [d for d in yaml.safe_load_all(proc.stdout) if d]
    cronjobs = [d for d in docs if d["kind"] == "CronJob"]
    assert cronjobs, "the chart renders no CronJob"
    return [
        c["args"]
        for cj in cronjobs
        for c in cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    ]


def test_every_chart_cronjob_command_parses(image_run: ImageRunner, helm_bin: Path) -> None:
    """Each CronJob's args, as the chart renders them by default, with `--help` appended: the
    image's entrypoint knows the subcommand and accepts the args."""
    all_args = _chart_args(helm_bin)
    assert sorted(a[0] for a in all_args) == sorted(j.command for j in catalogue.JOBS)
    for args in all_args:
        result = image_run("cronjobs", *args, "--help")
        assert result.returncode == 0, f"cronjobs {' '.join(args)} --help: {result.stderr}"
        assert result.stdout.startswith(f"Usage: cronjobs {args[0]} [OPTIONS]")


def test_cronctl_help(image_run: ImageRunner) -> None:
    result = image_run("cronctl", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: cronctl")
    for command in cronctl_cli.commands:
        assert f"  {command}" in result.stdout
        sub = image_run("cronctl", command, "--help")
        assert sub.returncode == 0, sub.stderr
        assert sub.stdout.startswith(f"Usage: cronctl {command}")


def test_list_prints_the_catalogue(image_run: ImageRunner) -> None:
    result = image_run("cronjobs", "list", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert [j["command"] for j in json.loads(result.stdout)] == [j.command for j in catalogue.JOBS]


def test_a_job_without_configuration_exits_2(image_run: ImageRunner) -> None:
    """A CronJob whose Secret lacks the settings fails fast with code 2 (the chart's
    podFailurePolicy then fails the Job without retries), and says what to set."""
    result = image_run("cronjobs", "health-check")
    assert result.returncode == 2
    assert "Error: nothing to check: set at least one of DATABASE_URL" in result.stderr


def test_demo_end_to_end_writes_only_under_its_dir(image_run: ImageRunner, tmp_path: Path) -> None:
    """`cronjobs demo --dir /tmp/demo` on a read-only root, then one job again on its SQLite
    file, as the demo's footer suggests (both in one read-only run)."""
    demo = tmp_path / "demo"
    db = f"sqlite:///{demo}/demo.db"
    script = (
        f'cronjobs demo --dir {demo} --sessions 60 --events 600 && echo "demo-exit=$?" && '
        f"cronjobs cleanup-old-sessions --database-url {db} --dry-run -o json"
    )
    result = image_run("sh", "-c", script, scratch=tmp_path, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    demo_out, _, job_out = result.stdout.partition("demo-exit=0\n")
    for line in (
        "== seed: ok",
        "== aggregate-daily-analytics: ok",
        "== cleanup-old-sessions: ok",
        "== cleanup-old-analytics: ok",
        "== cleanup-redis-cache: skipped",
        "== health-check: ok",
        f"database: {db}",
    ):
        assert line in demo_out
    assert json.loads(job_out)["dry_run"] is True
    assert {p.name for p in tmp_path.iterdir()} == {"demo"}, "wrote outside --dir"
    with sqlite3.connect(demo / "demo.db") as conn:
        assert conn.execute("select count(*) from daily_analytics").fetchone()[0] > 0


def test_the_image_serves_the_dashboard(image_run: ImageRunner, tmp_path: Path) -> None:
    """The chart's serve Deployment runs the jobs image's `cronctl serve` (the lock carries the
    web extra): it starts on the read-only root filesystem and answers its readiness probe.
    The kubeconfig points at nothing: /healthz makes no API call."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    probe = (
        "import sys, time, urllib.request\n"
        "for _ in range(600):\n"
        "    try:\n"
        "        print(urllib.request.urlopen(sys.argv[1], timeout=1).read().decode()); break\n"
        "    except OSError:\n"
        "        time.sleep(0.05)\n"
        "else:\n"
        "    sys.exit('no answer')\n"
    )
    with socket.socket() as s:  # the mimic shares this machine's network: a free port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = (
        f"cronctl serve --host 127.0.0.1 --port {port} & pid=$!; "
        f'python -c "$PROBE" http://127.0.0.1:{port}/healthz; status=$?; '
        "kill $pid; wait $pid 2>/dev/null; exit $status"
    )
    result = image_run(
        "sh", "-c", script, scratch=tmp_path, env={"KUBECONFIG": str(kubeconfig), "PROBE": probe}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"status": "ok"}
