"""health-check: is each configured dependency reachable, and how fast does it answer?

Each check runs with the configured timeout, all three at once; its latency is the round trip
alone (not the import of the client library). A dependency that fails, or answers only after
the timeout, fails the run (exit 1); an unconfigured one is reported as skipped.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cronjobs.errors import ConfigError
from cronjobs.exitcodes import ExitCode
from cronjobs.redact import scrub
from cronjobs.registry import job
from cronjobs.settings import Settings

if TYPE_CHECKING:
    from cronjobs.context import JobContext

log = logging.getLogger(__name__)

OK, FAILED, SKIPPED = "ok", "failed", "skipped"


def _something_to_check(ctx: JobContext) -> None:
    s = ctx.settings
    if not (s.database_url or s.redis_url or s.qdrant_configured):
        raise ConfigError(
            "nothing to check: set at least one of DATABASE_URL, REDIS_URL, QDRANT_URL or "
            "QDRANT_PATH"
        )


@job(
    name="health-check",
    schedule="*/30 * * * *",
    description="Check the database, Redis and Qdrant, each with a timeout; report latency.",
    needs=("database", "redis", "qdrant"),
    probes=True,
    check=_something_to_check,
)
def health_check_job(ctx: JobContext) -> HealthReport:
    return health_check(ctx.settings)


@dataclass
class Check:
    name: str
    status: str
    latency_ms: float | None = None
    detail: str = ""


@dataclass
class HealthReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(c.status != FAILED for c in self.checks)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.healthy else ExitCode.FAILED

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for c in self.checks if c.status == s) for s in (OK, FAILED, SKIPPED)}

    def lines(self) -> list[str]:
        out = []
        for c in self.checks:
            latency = f" {c.latency_ms:.1f} ms" if c.latency_ms is not None else ""
            detail = f" ({c.detail})" if c.detail else ""
            out.append(f"{c.name:<9} {c.status}{latency}{detail}")
        out.append("healthy" if self.healthy else "UNHEALTHY")
        return out


# Each check is (prepare, probe): `prepare` imports the client library (seconds for
# qdrant-client), untimed; `probe` is the round trip that is timed and bounded by the timeout.
Probe = Callable[[], str]


def _database(settings: Settings) -> Probe:
    from cronjobs.dbapi import Db, parse

    target = parse(settings.require_database(), settings.timeout, settings.lock_timeout)
    if target.dialect == "postgresql":
        import psycopg  # noqa: F401  (the driver's import is not the database's latency)

    def probe() -> str:
        db = Db(target, settings.lock_timeout)
        try:
            db.execute("SELECT 1")
            return target.dialect
        finally:
            db.close()

    return probe


def _redis(settings: Settings) -> Probe:
    import redis  # noqa: F401  (loaded here, untimed: redis_client.connect would import it)

    from cronjobs.redis_client import connect

    def probe() -> str:
        client = connect(settings.require_redis(), settings.timeout)
        try:
            client.ping()
            return f"redis {client.info('server').get('redis_version', '?')}"
        finally:
            client.close()

    return probe


def _qdrant(settings: Settings) -> Probe:
    from qdrant_client import QdrantClient

    def probe() -> str:
        if settings.qdrant_path:
            # Opening a folder that holds no store would make one there: a check reads only.
            if not os.path.isfile(os.path.join(settings.qdrant_path, "meta.json")):
                raise RuntimeError(
                    f"no Qdrant local store at {settings.qdrant_path} (no meta.json): check "
                    "QDRANT_PATH"
                )
            client = QdrantClient(path=settings.qdrant_path)
        else:
            plain = str(settings.qdrant_url).lower().startswith("http://")
            if settings.qdrant_api_key and plain:
                log.warning("the Qdrant API key goes over plain http: use an https QDRANT_URL")
            with warnings.catch_warnings():  # that warning, as a log line instead of raw text
                warnings.simplefilter("ignore", UserWarning)
                client = QdrantClient(
                    url=settings.qdrant_url,
                    api_key=settings.qdrant_api_key,
                    timeout=math.ceil(settings.timeout),
                    check_compatibility=False,
                )
        try:
            collections = client.get_collections().collections
            where = "local" if settings.qdrant_path else "server"
            return f"{where}, {len(collections)} collection{'' if len(collections) == 1 else 's'}"
        finally:
            client.close()

    return probe


def _reason(e: BaseException) -> str:
    text = str(e).strip()
    return scrub(text.splitlines()[0] if text else type(e).__name__)


class _Timed(threading.Thread):
    """One check in a daemon thread: a dependency that never answers cannot hold up the run
    (or the process's exit) past the timeout."""

    def __init__(self, name: str, prepare: Callable[[Settings], Probe], settings: Settings):
        super().__init__(name=f"health-{name}", daemon=True)
        self.check = Check(name, FAILED)
        self.prepare, self.settings = prepare, settings
        self.ready = threading.Event()
        self.started_at = 0.0

    def run(self) -> None:
        try:
            probe = self.prepare(self.settings)
        except Exception as e:
            self.check.detail = _reason(e)
            self.ready.set()
            return
        self.started_at = time.perf_counter()
        self.ready.set()
        try:
            self.check.detail, self.check.status = probe(), OK
        except Exception as e:  # any failure of a dependency is a finding, not a crash
            self.check.detail = _reason(e)
        self.check.latency_ms = round((time.perf_counter() - self.started_at) * 1000, 1)

    def result(self, timeout: float) -> Check:
        self.ready.wait()
        self.join(max(0.0, self.started_at + timeout - time.perf_counter()))
        if self.is_alive():
            return Check(
                self.check.name,
                FAILED,
                round(timeout * 1000, 1),
                f"no answer within the timeout of {timeout:g} s",
            )
        if (
            self.check.status == OK
            and self.check.latency_ms is not None
            and (self.check.latency_ms > timeout * 1000)
        ):
            self.check.status = FAILED
            self.check.detail = f"answered after the timeout of {timeout:g} s ({self.check.detail})"
        return self.check


def health_check(settings: Settings) -> HealthReport:
    """Check every configured dependency at once; a setting that cannot work (a SQLite file
    that is not there) is a ConfigError before any check starts."""
    if settings.database_url:
        from cronjobs.dbapi import require_existing

        require_existing(settings.database_url)
    checks: list[tuple[str, bool, Callable[[Settings], Probe]]] = [
        ("database", settings.database_url is not None, _database),
        ("redis", settings.redis_url is not None, _redis),
        ("qdrant", settings.qdrant_configured, _qdrant),
    ]
    report = HealthReport()
    running = {name: _Timed(name, fn, settings) for name, on, fn in checks if on}
    for started in running.values():
        started.start()
    for name, _, _ in checks:
        thread = running.get(name)
        check = (
            thread.result(settings.timeout)
            if thread is not None
            else Check(name, SKIPPED, detail="not configured")
        )
        report.checks.append(check)
        level = logging.WARNING if check.status == FAILED else logging.INFO
        log.log(
            level,
            "dependency checked",
            extra={"dependency": name, "status": check.status, "latency_ms": check.latency_ms},
        )
    return report
