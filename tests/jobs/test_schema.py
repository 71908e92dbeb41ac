"""`cronjobs init-db` creates the same schema on each database, whatever declares it in Python:
the catalogues' own description of every table, column, default, constraint and index,
compared with tests/jobs/schema/<dialect>.txt (regenerate with CRONJOBS_WRITE_SCHEMA=1 only
when the schema is meant to change)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from cronjobs.database import connect
from cronjobs.settings import parse_database_url
from tests.jobs.helpers import invoke

EXPECTED = Path(__file__).resolve().parent / "schema"

PG_COLUMNS = """
SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default
FROM information_schema.columns WHERE table_schema = 'public'
ORDER BY table_name, ordinal_position
"""
PG_CONSTRAINTS = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2
"""
PG_INDEXES = "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname"


def _postgresql(conn: Connection) -> list[str]:
    return [
        " | ".join(str(v) for v in row)
        for query in (PG_COLUMNS, PG_CONSTRAINTS, PG_INDEXES)
        for row in conn.execute(text(query))
    ]


def _sqlite(conn: Connection) -> list[str]:
    rows = conn.execute(text("SELECT type, name, sql FROM sqlite_master ORDER BY type, name"))
    return [" | ".join(str(v) for v in row) for row in rows]


def test_init_db_creates_the_schema(db_url: str) -> None:
    result = invoke("init-db", env={"DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    engine = connect(parse_database_url(db_url))
    try:
        with engine.connect() as conn:
            dialect = conn.dialect.name
            found = _postgresql(conn) if dialect == "postgresql" else _sqlite(conn)
    finally:
        engine.dispose()
    expected = EXPECTED / f"{dialect}.txt"
    if os.environ.get("CRONJOBS_WRITE_SCHEMA"):
        expected.write_text("\n".join(found) + "\n")
        pytest.skip(f"wrote {expected}")
    assert "\n".join(found).splitlines() == expected.read_text().splitlines()
