"""Batch sizes that hold a time budget per transaction, as pt-online-schema-change's
`--chunk-time` does: after each committed batch, the next size is the rows per second measured
so far times the budget (`next_size`, a pure function). The rate is a moving average (each
batch's rate weighs SMOOTHING), so one quick batch does not swing the size; a batch over the
budget shrinks the next one at once (the average drops to its own rate if that is lower); a
size at most doubles from one batch to the next; and it stays within bounds. With a budget of
0 the size stays what it started at.

The app's writes wait on a batch at most for that batch, so the budget is what bounds their
wait on any machine: the same rows take 0.08 s on a quiet machine and 0.5 s on a loaded one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

DEFAULT_BATCH_TIME = 0.1
"""Seconds per delete transaction the batch size aims at."""
SMOOTHING = 0.5
"""Weight of the newest batch's rate in the moving average."""
MAX_GROWTH = 2.0
"""A batch is at most this many times the size of the one before."""


def next_size(
    size: int,
    rows: int,
    seconds: float,
    budget: float,
    rate: float | None,
    *,
    low: int,
    high: int,
) -> tuple[int, float | None]:
    """The next batch's size and the new average rate (rows per second), after a batch of
    `size` rows asked for took `seconds` for `rows` rows; `rate` is the average so far (None
    before the first batch). A budget of 0 keeps `size`."""
    if budget <= 0:
        return size, rate
    if rows <= 0:  # nothing measured: a short, empty or fully skipped batch
        return size, rate
    measured = rows / max(seconds, 1e-6)
    average = measured if rate is None else SMOOTHING * measured + (1 - SMOOTHING) * rate
    if seconds > budget:  # over: the machine is this slow now, whatever it was before
        average = min(average, measured)
    wanted = min(average * budget, size * MAX_GROWTH)
    return max(low, min(high, int(wanted))), average


@dataclass
class BatchSizer:
    """The size of each batch of one run (`size`), updated by `after` once a batch commits;
    it keeps the sizes and times for the run's summary."""

    size: int
    budget: float = DEFAULT_BATCH_TIME
    low: int = 10
    high: int = 100_000
    rate: float | None = None
    sizes: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.size = max(self.low, min(self.high, self.size)) if self.budget > 0 else self.size

    def after(self, rows: int, seconds: float) -> int:
        """Record a committed batch (`rows` handled in `seconds`); the next batch's size."""
        self.sizes.append(self.size)
        self.size, self.rate = next_size(
            self.size, rows, seconds, self.budget, self.rate, low=self.low, high=self.high
        )
        return self.size

    def summary(self) -> dict[str, object]:
        """The run's batch sizes for its `batch sizes` log line."""
        if not self.sizes:
            return {"batches": 0, "budget_seconds": self.budget}
        return {
            "batches": len(self.sizes),
            "budget_seconds": self.budget,
            "smallest": min(self.sizes),
            "median": int(median(self.sizes)),
            "largest": max(self.sizes),
        }


def median(values: list[int]) -> float:
    """statistics.median, imported on use (it costs `cronjobs --help` 5 ms: the job modules
    import this one)."""
    import statistics

    return statistics.median(values)
