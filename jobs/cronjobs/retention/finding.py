"""What a check of the retention rules against the database found: an error (nothing runs)
or a warning. No SQLAlchemy: the built-in rules' own check (cronjobs.retention.cascades) runs
on the run's own connection."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    level: str  # "error" or "warning"
    rule: str
    table: str
    column: str | None
    message: str

    def __str__(self) -> str:
        at = f"{self.table}.{self.column}" if self.column else self.table
        return f"{self.rule}: {at}: {self.message}"
