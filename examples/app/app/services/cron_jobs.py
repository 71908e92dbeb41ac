"""The app's maintenance jobs, as they were under APScheduler, now registered with `@job`.

Each is still a plain function of the app: `cronjobs <name>` runs it in a pod (with a run id,
JSON logs, the job's lock, SIGTERM handling and the exit-code table), and a test can call it
directly. Registered through the entry point in ../../pyproject.toml.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from app.models import SearchDocument, UserSession
from cronjobs import JobContext, job

log = logging.getLogger(__name__)


@job(
    schedule="0 */4 * * *",
    mutating=True,
    needs=("database",),
    description="Delete sign-in sessions not seen for 30 days, 1000 at a time.",
)
async def purge_expired_tokens(ctx: JobContext) -> dict[str, int]:
    cutoff = datetime.now(UTC) - timedelta(days=30)
    old = select(UserSession.id).where(UserSession.last_seen_at < cutoff)
    if ctx.dry_run:
        with ctx.engine.connect() as conn:
            return {"would_delete": len(conn.scalars(old).all())}
    deleted = 0
    while True:
        with ctx.engine.begin() as conn:
            ids = conn.scalars(old.order_by(UserSession.id).limit(1000)).all()
            if not ids:
                return {"deleted": deleted}
            deleted += conn.execute(
                delete(UserSession).where(
                    UserSession.id.in_(ids), UserSession.last_seen_at < cutoff
                )
            ).rowcount
        await asyncio.sleep(0)  # a short pause between batches; SIGTERM cancels here


@job(every="15m", needs=("database",), mutating=True)
async def refresh_search_index(ctx: JobContext) -> dict[str, int]:
    """Index the search documents not indexed yet, one at a time (a call to the vector store
    each); what is indexed before a SIGTERM stays indexed."""
    indexed = 0
    while True:
        with ctx.engine.begin() as conn:
            doc = conn.scalar(
                select(SearchDocument.id).where(SearchDocument.indexed_at.is_(None)).limit(1)
            )
        if doc is None:
            return {"indexed": indexed}
        ctx.log.info("indexing document %s", doc)
        await asyncio.sleep(0.2)  # stands in for the embedding and the vector store's upsert
        if not ctx.dry_run:
            with ctx.engine.begin() as conn:
                conn.execute(
                    update(SearchDocument)
                    .where(SearchDocument.id == doc)
                    .values(indexed_at=datetime.now(UTC))
                )
        indexed += 1


def send_weekly_digest() -> None:
    """Not registered: the APScheduler-era way, run with `cronjobs run
    app.services.cron_jobs:send_weekly_digest`."""
    log.info("weekly digest sent")
