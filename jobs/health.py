"""health-check: is each configured dependency reachable, and how fast does it answer?

Each check runs with the configured timeout, all three at once. An unconfigured dependency is
reported as skipped; any configured one that fails makes the run fail (exit 1).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from jobs.exitcodes import ExitCode
from jobs.redact import scrub
from jobs.settings import Settings

log = logging.getLogger(__name__)

OK, FAILED, SKIPPED = "ok", "failed", "skipped"


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

    def lines(self) -> list[str]:
        out = []
        for c in self.checks:
            latency = f" {c.latency_ms:.1f} ms" if c.latency_ms is not None else ""
            detail = f" ({c.detail})" if c.detail else ""
            out.append(f"{c.name:<9} {c.status}{latency}{detail}")
        out.append("healthy" if self.healthy else "UNHEALTHY")
        return out


def _check_database(settings: Settings) -> str:
    from sqlalchemy import text

    from jobs.database import connect

    engine = connect(settings.require_database(), settings.timeout, settings.lock_timeout)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return engine.dialect.name
    finally:
        engine.dispose()


def _check_redis(settings: Settings) -> str:
    from jobs.cache import connect

    client = connect(settings.require_redis(), settings.timeout)
    try:
        client.ping()
        return f"redis {client.info('server').get('redis_version', '?')}"
    finally:
        client.close()


def _check_qdrant(settings: Settings) -> str:
    from qdrant_client import QdrantClient

    if settings.qdrant_path:
        client = QdrantClient(path=settings.qdrant_path)
    else:
        client = QdrantClient(
            url=settings.qdrant_url,
            api_key=settings.qdrant_api_key,
            timeout=math.ceil(settings.timeout),
        )
    try:
        collections = client.get_collections().collections
        where = "local" if settings.qdrant_path else "server"
        return f"{where}, {len(collections)} collections"
    finally:
        client.close()


def _timed(name: str, check: Callable[[Settings], str], settings: Settings) -> Check:
    started = time.perf_counter()
    try:
        detail = check(settings)
    except Exception as e:  # any failure of a dependency is a finding, not a crash
        reason = scrub(
            str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__,
            settings.secrets(),
        )
        return Check(name, FAILED, round((time.perf_counter() - started) * 1000, 1), reason)
    return Check(name, OK, round((time.perf_counter() - started) * 1000, 1), detail)


def health_check(settings: Settings) -> HealthReport:
    """Check every configured dependency at once; a setting that cannot work (a SQLite file
    that is not there) is a ConfigError before any check starts."""
    if settings.database_url:
        from jobs.database import require_existing

        require_existing(settings.database_url)
    checks: list[tuple[str, bool, Callable[[Settings], str]]] = [
        ("database", settings.database_url is not None, _check_database),
        ("redis", settings.redis_url is not None, _check_redis),
        ("qdrant", settings.qdrant_configured, _check_qdrant),
    ]
    report = HealthReport()
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(_timed, name, fn, settings) for name, on, fn in checks if on}
        for name, on, _ in checks:
            check = futures[name].result() if on else Check(name, SKIPPED, detail="not configured")
            report.checks.append(check)
            level = logging.WARNING if check.status == FAILED else logging.INFO
            log.log(
                level,
                "dependency checked",
                extra={"dependency": name, "status": check.status, "latency_ms": check.latency_ms},
            )
    return report
