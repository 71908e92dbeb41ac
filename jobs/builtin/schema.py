"""Creating the jobs' tables where they are missing (development stacks and the demo)."""

from __future__ import annotations

from sqlalchemy import inspect

from jobs.builtin.models import Base
from jobs.database import connect, translate_errors
from jobs.settings import Settings


def create_missing(settings: Settings, *, dry_run: bool = False) -> list[str]:
    """Create the tables (and their indexes) that do not exist; return their names."""
    engine = connect(settings.require_database(), settings.timeout, settings.lock_timeout)

    def work() -> list[str]:
        existing = set(inspect(engine).get_table_names())
        missing = [t for t in Base.metadata.sorted_tables if t.name not in existing]
        if missing and not dry_run:
            Base.metadata.create_all(engine, tables=missing)
        return [t.name for t in missing]

    try:
        return translate_errors(engine, work)
    finally:
        engine.dispose()
