"""What a cleanup deleted, batch by batch: `PurgeResult` (its counts, its batches' sizes and
times, logged as each commits), without SQLAlchemy: both cleanups build it
(cronjobs.retention.purge, cronjobs.builtin.analytics_cleanup).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cronjobs.retention.batch_time import BatchSizer

log = logging.getLogger("cronjobs.retention.purge")


@dataclass
class PurgeResult:
    table: str
    cutoff: datetime
    deleted: int = 0
    children_deleted: int = 0
    batches: int = 0
    longest_batch_seconds: float = 0.0
    in_use: int = 0
    """Rows skipped because the app held them (or their child rows) locked: left for the next
    run. Always 0 on SQLite and in a dry run."""
    dry_run: bool = False
    interrupted: bool = False
    smallest_batch: int = 0
    largest_batch: int = 0
    """The sizes (rows or events asked for) of the run's smallest and largest batches."""

    def committed(self, elapsed: float, **extra: Any) -> None:
        """Count a committed batch (its counts already added) and log it (`batch committed`,
        with `extra` between the batch number and the running total)."""
        self.batches += 1
        self.longest_batch_seconds = max(self.longest_batch_seconds, elapsed)
        log.info(
            "batch committed",
            extra={
                "table": self.table,
                "batch": self.batches,
                **extra,
                "total": self.deleted,
                "seconds": round(elapsed, 4),
            },
        )


def sized(result: PurgeResult, sizer: BatchSizer) -> None:
    """Note the run's smallest and largest batch sizes on `result`, and log them."""
    if sizer.sizes:
        result.smallest_batch, result.largest_batch = min(sizer.sizes), max(sizer.sizes)
        log.info("batch sizes", extra={"table": result.table, **sizer.summary()})
