"""`cronjobs demo`: every job on an embedded default (a SQLite file, a local Qdrant folder).

Seeds realistic sample data spread over ~400 days, then runs the five jobs through the same
functions and runner as production, and reports what each did.
"""

from __future__ import annotations

import logging
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from cronjobs.builtin import catalogue
from cronjobs.errors import ConfigError, JobError
from cronjobs.exitcodes import ExitCode
from cronjobs.registry import Job
from cronjobs.retention.models import (
    analytics_events,
    chat_messages,
    chat_sessions,
    metadata,
    peptide_info_sessions,
)
from cronjobs.settings import Settings

log = logging.getLogger(__name__)

EVENT_TYPES = ("page_view", "chat_message_sent", "peptide_search", "session_started", "feedback")
PEPTIDES = ("BPC-157", "TB-500", "GHK-Cu", "Semaglutide", "Ipamorelin", "CJC-1295")
DAYS = 400
MARKER = ".cronjobs-demo"


@dataclass
class Step:
    command: str
    status: str
    exit_code: int
    lines: list[str] = field(default_factory=list)


@dataclass
class DemoOutcome:
    database_url: str
    qdrant_path: str
    steps: list[Step] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        failed = [s for s in self.steps if s.status == "failed"]
        return ExitCode(failed[0].exit_code) if failed else ExitCode.OK

    def lines(self) -> list[str]:
        """What `cronjobs demo` prints: each step with its result lines, then the footer."""
        out = []
        for step in self.steps:
            out.append(f"== {step.command}: {step.status}")
            out += [f"   {line}" for line in step.lines]
        return [*out, *self.footer.splitlines()]

    @property
    def footer(self) -> str:
        return (
            f"database: {self.database_url}\nqdrant:   {self.qdrant_path}\n"
            f"logs:     {Path(self.qdrant_path).parent / 'demo.log'}\n"
            "Run one job again, e.g.:\n"
            f"  cronjobs cleanup-old-sessions --database-url {self.database_url} --dry-run"
        )


def _chunks(rows: list[dict[str, Any]], size: int = 5000) -> list[list[dict[str, Any]]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def seed(engine: Engine, *, sessions: int, events: int, now: datetime, rng: random.Random) -> str:
    """Fill the app's tables with sample data spread over DAYS days; return a summary line.

    The same `rng` seed gives the same figures whatever the hour of `now`: sessions are aged
    from `now` (their cutoff is `now` minus N days), analytics events from the start of `now`'s
    UTC day (their jobs work in whole UTC days: yesterday's figures, days older than N)."""
    metadata.create_all(engine)
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    chats, messages, peptides, raw = [], [], [], []
    for i in range(1, sessions + 1):
        created = now - timedelta(seconds=rng.uniform(0, DAYS * 86400))
        idle = rng.random() < 0.2  # never updated: old by creation
        updated = None if idle else created + (now - created) * rng.uniform(0, 0.3)
        chats.append(
            {
                "id": i,
                "user_id": f"user-{rng.randrange(500)}",
                "title": f"Chat {i}",
                "created_at": created,
                "updated_at": updated,
            }
        )
        for _ in range(rng.randrange(0, 9)):
            messages.append(
                {
                    "session_id": i,
                    "role": rng.choice(("user", "assistant")),
                    "content": "…",
                    "created_at": created,
                }
            )
    for i in range(1, sessions // 3 + 1):
        created = now - timedelta(seconds=rng.uniform(0, DAYS * 86400))
        peptides.append(
            {
                "id": i,
                "user_id": f"user-{rng.randrange(500)}",
                "peptide": rng.choice(PEPTIDES),
                "data": {"views": rng.randrange(1, 20)},
                "created_at": created,
                "updated_at": None,
            }
        )
    for _ in range(events):
        raw.append(
            {
                "event_type": rng.choices(EVENT_TYPES, weights=(50, 25, 15, 8, 2))[0],
                "user_id": None if rng.random() < 0.1 else f"user-{rng.randrange(500)}",
                "properties": None,
                "occurred_at": today - timedelta(seconds=rng.uniform(0, DAYS * 86400)),
            }
        )
    with engine.begin() as conn:
        for table, rows in (
            (chat_sessions, chats),
            (chat_messages, messages),
            (peptide_info_sessions, peptides),
            (analytics_events, raw),
        ):
            for chunk in _chunks(rows):
                conn.execute(insert(table), chunk)
    return (
        f"{len(chats)} chat sessions with {len(messages)} messages, {len(peptides)} peptide "
        f"info sessions, {len(raw)} analytics events over {DAYS} days"
    )


def seed_qdrant(path: Path, rng: random.Random) -> str:
    from qdrant_client import QdrantClient
    from qdrant_client.models import Distance, PointStruct, VectorParams

    client = QdrantClient(path=str(path))
    try:
        if not client.collection_exists("peptides"):
            client.create_collection("peptides", VectorParams(size=8, distance=Distance.COSINE))
        client.upsert(
            "peptides",
            [
                PointStruct(
                    id=i,
                    vector=[rng.random() for _ in range(8)],
                    payload={"peptide": PEPTIDES[i % len(PEPTIDES)]},
                )
                for i in range(100)
            ],
        )
        return f"Qdrant collection 'peptides' with {client.count('peptides').count} points"
    finally:
        client.close()


def prepare_dir(directory: str) -> Path:
    """The demo's folder, emptied of an earlier demo; a folder it did not make is refused."""
    root = Path(directory).resolve()
    if root.exists() and any(root.iterdir()) and not (root / MARKER).exists():
        raise ConfigError(
            f"{root} is not empty and was not made by `cronjobs demo`: the demo replaces its "
            "database and Qdrant folder, so give an empty or new --dir"
        )
    (root / "demo.db").unlink(missing_ok=True)
    shutil.rmtree(root / "qdrant", ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(
        "made by `cronjobs demo`; the demo replaces this folder's contents\n"
    )
    return root


def run_demo(
    root: Path,
    *,
    sessions: int,
    events: int,
    redis_url: str | None,
    progress: Callable[[str], None] = lambda _step: None,
    now: datetime | None = None,
) -> DemoOutcome:
    """Seed `root` (made by `prepare_dir`) and run every job on it; `progress(step)` is called
    as each step starts. `now` (default: the current time) is the instant the sample data is
    aged from and the jobs run at; the figures are the same at every hour of a day."""
    from cronjobs.database import connect
    from cronjobs.runner import run_registered

    db_path, qdrant_path = root / "demo.db", root / "qdrant"
    progress("seed")
    database_url = f"sqlite:///{db_path}"
    outcome = DemoOutcome(database_url, str(qdrant_path))
    rng = random.Random(42)
    now = now or datetime.now(UTC)

    engine = connect(database_url)
    try:
        summary = seed(engine, sessions=sessions, events=events, now=now, rng=rng)
    finally:
        engine.dispose()
    outcome.steps.append(Step("seed", "ok", 0, [summary, seed_qdrant(qdrant_path, rng)]))
    settings = Settings(
        database_url=database_url, redis_url=redis_url, qdrant_path=str(qdrant_path)
    )

    def step(job: Job) -> Callable[[], Any] | None:
        """The job as `cronjobs <job>` runs it, at the tick and instant `now`; None for the
        cache's job without Redis."""
        if "redis" in job.needs and not job.probes and not redis_url:
            return None
        return lambda: run_registered(job, settings, scheduled_at=now, now=now)

    # yesterday's figures first, as on a real day (the roll-up runs at 01:00 UTC)
    jobs = sorted(catalogue.JOBS, key=lambda j: j.command != "aggregate-daily-analytics")
    work = [(job.command, step(job)) for job in jobs]
    for command, call in work:
        progress(command)
        if call is None:
            outcome.steps.append(
                Step(
                    command, "skipped", 0, ["Redis is not configured (set REDIS_URL to include it)"]
                )
            )
            continue
        try:
            result = call()
        except JobError as e:
            outcome.steps.append(Step(command, "failed", int(e.exit_code), [str(e)]))
            continue
        code = int(result.exit_code)
        outcome.steps.append(Step(command, "ok" if code == 0 else "failed", code, result.lines()))
    return outcome
