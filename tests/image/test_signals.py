"""SIGTERM to the image's `cronjobs`, PID 1 of its container, as Kubernetes stops a Job's pod:
it finishes the batch in hand, commits, writes its termination message and exits 4, whenever
the signal comes, from the first instant after the container starts to the middle of the run.

The run is made long on purpose, not by timing: a trigger makes PostgreSQL sleep 10 ms for each
chat session deleted, and 4,000 old sessions in batches of 20 take 40 s or more; a TERM that was
lost lets the job run to the end and exit 0."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ImageRunner
from podman import Podman, PodRun, run_argv
from sqlalchemy import Engine, text

from cronjobs.retention.models import chat_sessions
from tests.jobs.helpers import count, insert_sessions

OLD_SESSIONS = 4000
BATCH = "20"


@pytest.fixture
def slow_cleanup(run_image: ImageRunner, pg_url: str) -> Iterator[tuple[dict[str, str], Engine]]:
    """The jobs' settings and an engine on a database of old sessions that take long to delete."""
    from cronjobs.database import connect
    from cronjobs.settings import parse_database_url

    env = {"DATABASE_URL": pg_url}
    init = run_image("init-db", env=env, network="host")
    assert init.returncode == 0, init.stderr
    engine = connect(parse_database_url(pg_url))
    old = datetime.now(UTC) - timedelta(days=400)
    insert_sessions(engine, [(i, old, old) for i in range(1, OLD_SESSIONS + 1)])
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION slow_delete() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM pg_sleep(0.01); RETURN OLD; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER slow_delete BEFORE DELETE ON chat_sessions "
                "FOR EACH ROW EXECUTE FUNCTION slow_delete()"
            )
        )
    yield env, engine
    engine.dispose()


def _summary(termination_log: Path) -> dict[str, object]:
    written = termination_log.read_text()
    assert written, "no termination message written"
    summary = json.loads(written)
    assert isinstance(summary, dict)
    return summary


def test_sigterm_mid_job_finishes_the_batch_and_exits_4(
    podman: Podman,
    image: str,
    cronjob_pod: PodRun,
    slow_cleanup: tuple[dict[str, str], Engine],
    termination_log: Path,
) -> None:
    """TERM after the first committed batch, with the container's stderr a pipe read line by
    line (a handler that logs can fail there with a reentrant write, losing the signal)."""
    env, engine = slow_cleanup
    name = f"cronjobs-term-{uuid.uuid4().hex[:8]}"
    argv = run_argv(
        podman, cronjob_pod, image, ["cleanup-old-sessions", "--batch-size", BATCH],
        env=env, network="host", termination_log=termination_log, name=name,
    )  # fmt: skip
    job = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert job.stderr is not None
    logs = []
    for line in job.stderr:
        logs.append(line)
        if "batch committed" in line:
            podman("kill", "--signal", "TERM", name)
            break
    _, rest = job.communicate(timeout=120)
    logs.append(rest)
    assert job.returncode == 4, "".join(logs)[-3000:]
    summary = _summary(termination_log)
    assert (summary["exit_code"], summary["outcome"]) == (4, "interrupted")
    assert 0 < count(engine, chat_sessions) < OLD_SESSIONS, "stopped before the end, after a batch"
    assert "SIGTERM" in "".join(logs)


@pytest.mark.parametrize("delay", [0.0, 0.3, 1.0])
def test_sigterm_during_start_up_exits_4(
    podman: Podman,
    image: str,
    cronjob_pod: PodRun,
    slow_cleanup: tuple[dict[str, str], Engine],
    termination_log: Path,
    delay: float,
) -> None:
    """TERM `delay` seconds after `podman run --detach` returns (the entrypoint exec'd): while
    Python starts and imports, before or around the first batch. Depends on cronjobs recording
    the signal first thing at start-up (issue 21 §1): the kernel drops a TERM sent to a PID 1
    that has no handler yet."""
    env, engine = slow_cleanup
    name = f"cronjobs-start-{uuid.uuid4().hex[:8]}"
    argv = run_argv(
        podman, cronjob_pod, image, ["cleanup-old-sessions", "--batch-size", BATCH],
        env=env, network="host", termination_log=termination_log, name=name, detach=True,
        remove=False,
    )  # fmt: skip
    subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)
    try:
        time.sleep(delay)
        podman("kill", "--signal", "TERM", name)
        code = int(podman("wait", name, timeout=120).stdout.strip())
        logs = podman("logs", name).stderr
    finally:
        podman("rm", "--force", name, check=False)
    assert code == 4, logs[-3000:]
    assert _summary(termination_log)["outcome"] == "interrupted"
    assert count(engine, chat_sessions) > OLD_SESSIONS // 2, "went on deleting"
