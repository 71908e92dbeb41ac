"""The image's commands, run by podman as the chart's pods run the image (tests/image/podman.py
derives the flags from `helm template`): read-only root, /tmp a tmpfs of the chart's size, the
chart's uid/gid, no capabilities, no privilege escalation, its memory limit and env."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import CHART, ImageRunner
from podman import Podman, chart_pod_specs, pod_run, run_argv

from cronjobs.builtin import catalogue
from cronjobs.cli import cli
from cronjobs.cronctl.cli import cli as cronctl_cli


def test_the_container_is_read_only_except_tmp_and_runs_as_the_chart_says(
    run_image: ImageRunner,
) -> None:
    """Guards the other tests: the flags took effect (the chart's uid/gid, no capabilities, no
    new privileges, only /tmp writable: podman's own /run and /var/tmp tmpfs are off)."""
    script = (
        "for d in / /usr/local /run /var/tmp /tmp; do touch $d/probe 2>/dev/null && echo $d; done;"
        "id -u; id -g; grep -E '^(CapEff|NoNewPrivs):' /proc/self/status"
    )
    result = run_image("-c", script, entrypoint="sh")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "/tmp", "10001", "10001", "CapEff:", "0000000000000000", "NoNewPrivs:", "1",
    ]  # fmt: skip


def test_default_command_prints_help(run_image: ImageRunner) -> None:
    """`docker run cronjobs` (ENTRYPOINT cronjobs, CMD --help)."""
    result = run_image()
    assert result.returncode == 0, result.stderr
    assert "Usage: cronjobs [OPTIONS] COMMAND [ARGS]..." in result.stdout
    # the image's own: the CLI's commands and the built-in jobs' (built on use), not the jobs an
    # app's module registered in this test process
    for command in [*cli.commands, *(j.command for j in catalogue.JOBS)]:
        assert f"  {command}" in result.stdout


def test_version_matches_the_wheel(run_image: ImageRunner) -> None:
    result = run_image("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "cronjobs, version 0.1.0"


def test_list_prints_the_catalogue(run_image: ImageRunner) -> None:
    result = run_image("list", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert [j["command"] for j in json.loads(result.stdout)] == [j.command for j in catalogue.JOBS]


def test_a_job_without_configuration_exits_2(run_image: ImageRunner) -> None:
    """A CronJob whose Secret lacks the settings fails fast with code 2 (the chart's
    podFailurePolicy then fails the Job without retries), and says what to set."""
    result = run_image("health-check")
    assert result.returncode == 2, result.stderr
    assert "Error: nothing to check: set at least one of DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_runs_on_the_read_only_root(run_image: ImageRunner) -> None:
    """`cronjobs demo --dir /tmp/demo`, in the chart's /tmp (its size limit included)."""
    result = run_image("demo", "--dir", "/tmp/demo", "--sessions", "60", "--events", "600")
    assert result.returncode == 0, result.stderr[-3000:]
    for line in (
        "== seed: ok",
        "== aggregate-daily-analytics: ok",
        "== cleanup-old-sessions: ok",
        "== cleanup-old-analytics: ok",
        "== cleanup-redis-cache: skipped",
        "== health-check: ok",
        "database: sqlite:////tmp/demo/demo.db",
    ):
        assert line in result.stdout


def test_every_module_loads_from_compiled_bytecode(run_image: ImageRunner) -> None:
    """The stdlib and site-packages were compiled at build time, so on a read-only root no
    module of `cronjobs`' start-up is compiled again in memory: each has a .pyc whose header
    matches its source (size and mtime), as the import system checks it."""
    check = (
        "import os, sys, importlib.util, cronjobs.cli, cronjobs.cronctl.cli\n"
        "bad = []\n"
        "for name, mod in list(sys.modules.items()):\n"
        "    src = getattr(mod, '__file__', None)\n"
        "    if not src or not src.endswith('.py'):\n"
        "        continue\n"
        "    pyc = importlib.util.cache_from_source(src)\n"
        "    try:\n"
        "        head = open(pyc, 'rb').read(16)\n"
        "    except OSError:\n"
        "        bad.append(src); continue\n"
        "    st = os.stat(src)\n"
        "    flags = int.from_bytes(head[4:8], 'little')\n"
        "    if flags == 0 and (int.from_bytes(head[8:12], 'little') != int(st.st_mtime) & 0xFFFFFFFF\n"
        "                       or int.from_bytes(head[12:16], 'little') != st.st_size & 0xFFFFFFFF):\n"
        "        bad.append(src)\n"
        "print(len(sys.modules), *bad, sep='\\n')\n"
    )
    result = run_image("-c", check, entrypoint="python")
    assert result.returncode == 0, result.stderr
    loaded, *not_compiled = result.stdout.splitlines()
    assert int(loaded) > 100
    assert not_compiled == [], f"compiled again at every start: {not_compiled[:10]}"


def test_cronctl_help(run_image: ImageRunner) -> None:
    result = run_image("--help", entrypoint="cronctl")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: cronctl")
    for command in cronctl_cli.commands:
        assert f"  {command}" in result.stdout


# ---- the built-in jobs against the suite's PostgreSQL and Redis ------------------------------


def _seed(url: str) -> None:
    """Old and recent sessions and analytics events, in the schema `init-db` created."""
    from sqlalchemy import insert

    from cronjobs.database import connect
    from cronjobs.retention.models import analytics_events
    from cronjobs.settings import parse_database_url
    from tests.jobs.helpers import insert_sessions

    now = datetime.now(UTC)
    engine = connect(parse_database_url(url))
    try:
        insert_sessions(
            engine,
            [(i, now - timedelta(days=400), None) for i in range(1, 6)]
            + [(i, now - timedelta(days=1), now) for i in range(6, 9)],
            messages_per_session=2,
        )
        with engine.begin() as conn:
            conn.execute(
                insert(analytics_events),
                [
                    {
                        "event_type": "view",
                        "user_id": f"u{i % 3}",
                        "occurred_at": now - timedelta(days=d),
                    }
                    for i, d in enumerate([1, 1, 2, 500, 501])
                ],
            )
    finally:
        engine.dispose()


@pytest.fixture
def seeded_servers(
    run_image: ImageRunner, pg_url: str, redis_proc: Any, redisdb: Any
) -> dict[str, str]:
    """The jobs' connection settings (as the chart's Secret gives them), with the schema made
    by the image's own `init-db` and some old and recent rows in it."""
    env = {"DATABASE_URL": pg_url, "REDIS_URL": f"redis://{redis_proc.host}:{redis_proc.port}/0"}
    init = run_image("init-db", env=env, network="host")
    assert init.returncode == 0, init.stderr
    _seed(pg_url)
    redisdb.set("cache:probe", "1")
    return env


@pytest.mark.parametrize("job", [j.command for j in catalogue.JOBS])
def test_each_builtin_job_runs_with_the_charts_args(
    podman: Podman,
    image: str,
    helm_bin: Path,
    seeded_servers: dict[str, str],
    termination_log: Path,
    job: str,
) -> None:
    """Each CronJob's container (its args and env), as the chart renders it, against the
    suite's real PostgreSQL 15 and Redis: exit 0 and the run's summary in the termination
    message."""
    (pod,) = [run for run in map(pod_run, chart_pod_specs(helm_bin, CHART)) if run.args[0] == job]
    argv = run_argv(
        podman, pod, image, pod.args, env=seeded_servers, network="host",
        termination_log=termination_log,
    )  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(termination_log.read_text())
    assert (summary["job"], summary["exit_code"], summary["outcome"]) == (job, 0, "ok")


# ---- the dashboard -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cronctl_serve_answers_its_probe(
    podman: Podman, image: str, helm_bin: Path, tmp_path: Path
) -> None:
    """The chart's serve Deployment (serve.enabled=true), its container run as it renders it:
    `cronctl serve` starts on the read-only root and answers the readiness probe's path. The
    kubeconfig points at nothing: the probe makes no API call."""
    (pod,) = chart_pod_specs(helm_bin, CHART, "Deployment", "serve.enabled=true")
    serve = pod_run(pod)
    probe = pod["containers"][0]["readinessProbe"]["httpGet"]["path"]
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
    kubeconfig.chmod(0o644)
    port = _free_port()
    (entrypoint,) = serve.command
    name = f"cronjobs-serve-{port}"
    argv = run_argv(
        podman, serve, image, [*serve.args, "--host", "127.0.0.1", "--port", str(port)],
        env={"KUBECONFIG": "/etc/cronctl/kubeconfig"}, network="host", name=name,
        entrypoint=entrypoint, extra=["-v", f"{kubeconfig}:/etc/cronctl/kubeconfig:ro"],
    )  # fmt: skip
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        answer = None
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=1) as r:
                    answer = (r.status, json.loads(r.read()))
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1]
                time.sleep(0.1)
        assert answer == (200, {"status": "ok"})
    finally:
        podman("kill", "--signal", "TERM", name, check=False)
        server.communicate(timeout=60)
